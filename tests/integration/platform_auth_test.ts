// User tokens verified the way a Supabase project allows it, with no JWT secret in the function:
// HS256 through Auth's GET /auth/v1/user, asymmetric ones through the project's JWKS (cached,
// fetched again for an unknown kid), and a 503, never a 401, when either cannot be reached.
// The register function is served over HTTP here with its Auth and JWKS URLs pointed at a proxy
// in front of the stack's gateway, into which faults are injected.
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { createAuthenticator } from "../../supabase/functions/_shared/auth.ts";
import { errorResponse, HttpError } from "../../supabase/functions/_shared/http.ts";
import { createHandler } from "../../supabase/functions/job-interview-register-users/handler.ts";
import { userAccessToken } from "../../stack/keys.ts";
import { freePort } from "../../stack/ports.ts";
import { PLATFORM_VARIABLES } from "../../stack/stack.ts";
import {
  functionPids,
  info,
  keys,
  postRegister,
  seed,
  stackConfig,
  tokenFor,
  uniqueEmail,
} from "../support/stack.ts";

/** What the proxy does with Auth's paths: pass to the gateway, fail, or serve this JWKS. */
const proxy = {
  auth: "pass" as "pass" | "refuse" | 500,
  jwks: null as { keys: JWK[] } | null,
  jwksFetches: 0,
};

const proxyPort = freePort();
const proxyServer = Deno.serve(
  { hostname: "127.0.0.1", port: proxyPort, onListen: () => {} },
  (req) => {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/auth/v1/")) {
      if (proxy.auth === 500) return new Response("upstream error", { status: 500 });
      if (proxy.auth === "refuse") return new Response(null, { status: 502 });
      if (url.pathname === "/auth/v1/.well-known/jwks.json") {
        proxy.jwksFetches++;
        if (proxy.jwks) return Response.json(proxy.jwks);
      }
    }
    return fetch(`${info.API_URL}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
  },
);
const proxyUrl = `http://127.0.0.1:${proxyPort}`;

/** The register function, over HTTP, with SUPABASE_URL set to `supabaseUrl`. */
async function serveRegister(supabaseUrl: string) {
  const handle = createHandler(await stackConfig({ SUPABASE_URL: supabaseUrl }));
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handle);
  const url = `http://127.0.0.1:${port}/job-interview-register-users`;
  const post = async (token: string) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        users: [{ email: uniqueEmail("pauth") }],
        interview_id: seed.activeInterview,
      }),
    });
    return { status: res.status, body: await res.json() };
  };
  return { post, close: () => server.shutdown() };
}

const closedPort = freePort();

/** The owner's token as the Auth at `supabaseUrl` would issue it (its `iss` is checked). */
const ownerToken = (supabaseUrl: string, legacy = false) =>
  userAccessToken(keys, `${supabaseUrl}/auth/v1`, seed.users.owner, { legacy });

Deno.test("a legacy HS256 user token is verified by Auth (GET /auth/v1/user)", async () => {
  const res = await postRegister({
    users: [{ email: uniqueEmail("hs256") }],
    interview_id: seed.activeInterview,
  }, { authorization: `Bearer ${await tokenFor("owner", { legacy: true })}` });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body[0].result, "ok");
});

Deno.test("Auth or the JWKS out of reach: 503, never 401", async (t) => {
  await t.step("connection refused", async () => {
    const closed = `http://127.0.0.1:${closedPort}`;
    const fn = await serveRegister(closed);
    try {
      for (const token of [await ownerToken(closed, true), await ownerToken(closed)]) {
        const res = await fn.post(token);
        assert.equal(res.status, 503, JSON.stringify(res.body));
        assert.match(res.body.error, /unreachable.*retry later/);
      }
    } finally {
      await fn.close();
    }
  });
  const hs256 = await ownerToken(proxyUrl, true);
  const es256 = await ownerToken(proxyUrl);
  for (const fault of [500, "refuse"] as const) {
    await t.step(`Auth answers ${fault === 500 ? 500 : 502}`, async () => {
      const fn = await serveRegister(proxyUrl);
      proxy.auth = fault;
      try {
        for (const token of [hs256, es256]) {
          const res = await fn.post(token);
          assert.equal(res.status, 503, JSON.stringify(res.body));
        }
      } finally {
        proxy.auth = "pass";
        await fn.close();
      }
      const again = await serveRegister(proxyUrl);
      try {
        assert.equal((await again.post(hs256)).status, 200, "the same token, Auth back");
      } finally {
        await again.close();
      }
    });
  }
});

Deno.test("a token of a key the cached JWKS lacks makes it fetch the JWKS again", async () => {
  // A rotated-in auth key: the project's JWKS lists it only from some moment on.
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = `rotated-${crypto.randomUUID().slice(0, 8)}`;
  const rotated = { ...(await exportJWK(publicKey)), kid, alg: "ES256" };
  const token = await new SignJWT({ role: "authenticated", email: seed.users.owner.email })
    .setProtectedHeader({ alg: "ES256", kid })
    .setSubject(seed.users.owner.id).setAudience("authenticated")
    .setIssuer(`${proxyUrl}/auth/v1`).setIssuedAt().setExpirationTime("10m")
    .sign(privateKey);
  const cfg = await stackConfig({ SUPABASE_URL: proxyUrl });
  const serve = (cooldownMs: number) => {
    const authenticate = createAuthenticator(cfg, { jwksRefetchCooldownMs: cooldownMs });
    const port = freePort();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      (req) =>
        authenticate(req).then(
          (caller) => Response.json(caller),
          (err) => errorResponse(err instanceof HttpError ? err : new HttpError(500, "x"), "t"),
        ),
    );
    const call = async (bearer: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
      return { status: res.status, body: await res.json() };
    };
    return { call, close: () => server.shutdown() };
  };
  proxy.jwks = { keys: keys.authJwks.keys };
  proxy.jwksFetches = 0;
  const eager = serve(0);
  const patient = serve(3_600_000);
  try {
    for (const fn of [eager, patient]) {
      assert.equal((await fn.call(await ownerToken(proxyUrl))).status, 200, "the known key");
    }
    assert.equal(proxy.jwksFetches, 2, "one fetch each");
    proxy.jwks = { keys: [...keys.authJwks.keys, rotated] };
    const fresh = await eager.call(token);
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.deepEqual(fresh.body, { kind: "user", userId: seed.users.owner.id });
    assert.equal(proxy.jwksFetches, 3, "the unknown kid fetched the JWKS again");
    const cooling = await patient.call(token);
    assert.equal(cooling.status, 401, "within the cool-down an unknown kid does not refetch");
    assert.equal(proxy.jwksFetches, 3);
  } finally {
    proxy.jwks = null;
    await eager.close();
    await patient.close();
  }
});

Deno.test("a service_role JWT that is not the project's key is refused", async (t) => {
  const claims = { role: "service_role", iss: "supabase-demo" };
  const cases: Record<string, string> = {
    "signed with another secret": await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().setExpirationTime("1h")
      .sign(new TextEncoder().encode("another-project-secret-0123456789abcdef")),
    // Even a correctly signed one: only the exact keys the platform gives are service callers.
    "signed with the project's secret, but not the key": await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().setExpirationTime("2h")
      .sign(new TextEncoder().encode(keys.jwtSecret)),
  };
  for (const [name, token] of Object.entries(cases)) {
    await t.step(name, async () => {
      const forms: Record<string, string>[] = [{ authorization: `Bearer ${token}` }, {
        apikey: token,
      }];
      for (const headers of forms) {
        const res = await postRegister({
          users: [{ email: uniqueEmail("forged") }],
          interview_id: seed.activeInterview,
          merchant_id: seed.demoMerchant,
        }, headers);
        assert.equal(res.status, 401, JSON.stringify(res.body));
      }
    });
  }
});

Deno.test("the functions get exactly what the platform gives them", async () => {
  const fromPlatform = new Set<string>(PLATFORM_VARIABLES);
  const pids = await functionPids();
  for (const [name, pid] of Object.entries(pids)) {
    const environ = await Deno.readTextFile(`/proc/${pid}/environ`);
    const names = environ.split("\0").filter(Boolean).map((entry) => entry.split("=")[0]);
    for (const variable of PLATFORM_VARIABLES) {
      assert.ok(names.includes(variable), `${name} lacks ${variable}`);
    }
    const extra = names.filter((n) => n.startsWith("SUPABASE_") && !fromPlatform.has(n));
    assert.deepEqual(extra, [], `${name}: SUPABASE_ names the platform does not set`);
    assert.ok(!names.some((n) => /JWT_SECRET|JWKS|ISSUER/.test(n)), `${name}: ${names}`);
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    assert.match(cmdline, /--max-old-space-size=256/, "the platform's 256 MB memory limit");
    assert.match(cmdline, new RegExp(`supabase/functions/${name}/index\\.ts`), "its own index.ts");
  }
  assert.equal(new Set(Object.values(pids)).size, Object.keys(pids).length);
});

Deno.test({
  name: "stop the Auth proxy",
  fn: () => proxyServer.shutdown(),
  sanitizeResources: false,
  sanitizeOps: false,
});
