// The gateway applies a Supabase project's header rules (the stricter of the hosted gateway and
// the CLI's where they differ), answers GET /auth/v1/user as Supabase Auth does, times functions
// out after the platform's 150 s idle limit, and answers unknown paths in the error shape.
import assert from "node:assert/strict";
import postgres from "postgres";
import { SignJWT } from "jose";
import { startGateway } from "../../stack/gateway.ts";
import { userAccessToken } from "../../stack/keys.ts";
import { freePort } from "../../stack/ports.ts";
import { info, keys, seed, tokenFor } from "../support/stack.ts";

const userUrl = `${info.API_URL}/auth/v1/user`;

async function getUser(headers: Record<string, string>) {
  const res = await fetch(userUrl, { headers });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

Deno.test("/rest/v1 wants the apikey header with one of the project's keys", async (t) => {
  const root = `${info.REST_URL}/`;
  const cases: [string, Record<string, string>, number, RegExp | null][] = [
    ["no apikey", {}, 401, /No API key found/],
    [
      "a Bearer token without apikey",
      { authorization: `Bearer ${keys.serviceRoleKey}` },
      401,
      /No API key/,
    ],
    ["an sb_ key only as Bearer", { authorization: `Bearer ${keys.secretKey}` }, 401, /No API key/],
    ["an unknown apikey", { apikey: "sb_publishable_unknown" }, 401, /Invalid API key/],
    [
      "an sb_ Bearer that differs from apikey",
      { apikey: keys.publishableKey, authorization: `Bearer ${keys.secretKey}` },
      401,
      /Invalid API key/,
    ],
    ["the publishable key", { apikey: keys.publishableKey }, 200, null],
    ["the secret key", { apikey: keys.secretKey }, 200, null],
    [
      "the secret key in both headers (supabase-js)",
      { apikey: keys.secretKey, authorization: `Bearer ${keys.secretKey}` },
      200,
      null,
    ],
    ["the anon key", { apikey: keys.anonKey }, 200, null],
  ];
  for (const [name, headers, status, message] of cases) {
    await t.step(name, async () => {
      const res = await fetch(root, { headers });
      const body = await res.text();
      assert.equal(res.status, status, body);
      if (message) assert.match(JSON.parse(body).message, message);
    });
  }
});

Deno.test("GET /auth/v1/user answers as Supabase Auth does", async (t) => {
  const apikey = { apikey: keys.publishableKey };
  await t.step("no apikey: the gateway's 401", async () => {
    const res = await getUser({ authorization: `Bearer ${await tokenFor("owner")}` });
    assert.equal(res.status, 401);
    assert.match(res.body.message, /No API key/);
  });
  await t.step("no token: 401 no_authorization", async () => {
    const res = await getUser(apikey);
    assert.equal(res.status, 401);
    assert.equal(res.body.error_code, "no_authorization");
    assert.equal(res.headers.get("x-sb-error-code"), "no_authorization");
  });
  for (const legacy of [true, false]) {
    await t.step(`a good ${legacy ? "HS256" : "ES256"} token: the user`, async () => {
      const res = await getUser({
        ...apikey,
        authorization: `Bearer ${await tokenFor("owner", { legacy })}`,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.id, seed.users.owner.id);
      assert.equal(res.body.email, seed.users.owner.email);
      assert.equal(res.body.aud, "authenticated");
    });
  }
  await t.step("an expired token: 403 bad_jwt", async () => {
    const res = await getUser({
      ...apikey,
      authorization: `Bearer ${await tokenFor("owner", { legacy: true, expiresInSeconds: -60 })}`,
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.error_code, "bad_jwt");
    assert.match(res.body.msg, /expired/);
  });
  await t.step("another secret: 403 bad_jwt, in the 2024-01-01 shape when asked", async () => {
    const token = await new SignJWT({ role: "authenticated" }).setSubject(seed.users.owner.id)
      .setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h")
      .sign(new TextEncoder().encode("another-project-secret-0123456789abcdef"));
    const res = await getUser({
      ...apikey,
      authorization: `Bearer ${token}`,
      "x-supabase-api-version": "2024-01-01",
    });
    assert.equal(res.status, 403);
    assert.deepEqual(Object.keys(res.body).sort(), ["code", "message"]);
    assert.equal(res.body.code, "bad_jwt");
  });
  await t.step("a user that does not exist: 403 user_not_found", async () => {
    const token = await userAccessToken(keys, `${info.API_URL}/auth/v1`, {
      id: crypto.randomUUID(),
      email: "ghost@demo.test",
      merchantId: null,
    }, { legacy: true });
    const res = await getUser({ ...apikey, authorization: `Bearer ${token}` });
    assert.equal(res.status, 403);
    assert.equal(res.body.error_code, "user_not_found");
  });
  await t.step("a session that does not exist: 403 session_not_found", async () => {
    const token = await new SignJWT({ role: "authenticated", session_id: crypto.randomUUID() })
      .setSubject(seed.users.owner.id).setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h").sign(new TextEncoder().encode(keys.jwtSecret));
    const res = await getUser({ ...apikey, authorization: `Bearer ${token}` });
    assert.equal(res.status, 403);
    assert.equal(res.body.error_code, "session_not_found");
  });
  await t.step("a sub that is not a UUID: 400 bad_jwt", async () => {
    const token = await new SignJWT({ role: "authenticated" }).setSubject("not-a-uuid")
      .setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h")
      .sign(new TextEncoder().encode(keys.jwtSecret));
    const res = await getUser({ ...apikey, authorization: `Bearer ${token}` });
    assert.equal(res.status, 400);
    assert.equal(res.body.error_code, "bad_jwt");
  });
});

Deno.test("paths the gateway does not serve: 404 in the error shape", async () => {
  for (const path of ["/nothing", "/auth/v1/token", "/storage/v1/object", "/functions/v1/nope"]) {
    const res = await fetch(`${info.API_URL}${path}`);
    assert.equal(res.status, 404, path);
    const body = await res.json();
    assert.equal(typeof body.error, "string");
    assert.equal(typeof body.name, "string");
  }
});

/** A gateway in front of a function that echoes the headers it received (or never answers). */
async function withEchoGateway(
  run: (url: string) => Promise<void>,
  options: { functionTimeoutMs?: number } = {},
) {
  const echoPort = freePort();
  const echo = Deno.serve({ hostname: "127.0.0.1", port: echoPort, onListen: () => {} }, (req) => {
    if (req.url.includes("/slow")) {
      // Answers only once the caller gives up, so that the server can shut down.
      return new Promise<Response>((resolve) =>
        req.signal.addEventListener("abort", () => resolve(new Response(null)))
      );
    }
    return Response.json({
      authorization: req.headers.get("authorization"),
      apikey: req.headers.get("apikey"),
      method: req.method,
    });
  });
  const sql = postgres(info.DB_URL, { max: 1 });
  const port = freePort();
  const gateway = startGateway({
    port,
    keys,
    targets: {
      postgrest: "http://127.0.0.1:1",
      functions: { echo: `http://127.0.0.1:${echoPort}` },
    },
    sql,
    functionTimeoutMs: options.functionTimeoutMs,
  });
  try {
    await run(`http://127.0.0.1:${port}/functions/v1/echo`);
  } finally {
    await gateway.shutdown();
    await echo.shutdown();
    await sql.end();
  }
}

Deno.test("/functions/v1 rewrites Authorization as the Supabase CLI's gateway does", async (t) => {
  const user = await tokenFor("owner");
  const cases: [string, Record<string, string>, string | null][] = [
    [
      "a user token is kept",
      { authorization: `Bearer ${user}`, apikey: keys.anonKey },
      `Bearer ${user}`,
    ],
    [
      "the secret key in apikey: the service_role JWT",
      { apikey: keys.secretKey },
      `Bearer ${keys.serviceRoleKey}`,
    ],
    [
      "the publishable key in apikey: the anon JWT",
      { apikey: keys.publishableKey },
      `Bearer ${keys.anonKey}`,
    ],
    [
      "an sb_ Bearer with the same apikey: the role JWT",
      { authorization: `Bearer ${keys.secretKey}`, apikey: keys.secretKey },
      `Bearer ${keys.serviceRoleKey}`,
    ],
    ["an sb_ Bearer alone: dropped", { authorization: `Bearer ${keys.secretKey}` }, null],
    [
      "a legacy key in apikey: copied as it is",
      { apikey: keys.serviceRoleKey },
      keys.serviceRoleKey,
    ],
    ["nothing: nothing", {}, null],
  ];
  await withEchoGateway(async (url) => {
    for (const [name, headers, expected] of cases) {
      await t.step(name, async () => {
        const received = await (await fetch(url, { method: "POST", headers, body: "{}" })).json();
        assert.equal(received.authorization, expected);
        assert.equal(received.apikey, headers.apikey ?? null, "apikey passes unchanged");
      });
    }
    await t.step("a preflight reaches the function (no CORS at the gateway)", async () => {
      const received = await (await fetch(url, { method: "OPTIONS" })).json();
      assert.equal(received.method, "OPTIONS");
    });
  });
});

Deno.test("a function that does not answer within the idle time-out: 504", async () => {
  await withEchoGateway(async (url) => {
    const res = await fetch(`${url}/slow`, { method: "POST", body: "{}" });
    assert.equal(res.status, 504);
    const body = await res.json();
    assert.match(body.error, /did not answer/);
    assert.equal(body.name, "function");
  }, { functionTimeoutMs: 300 });
});
