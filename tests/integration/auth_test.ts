// Who may call the register endpoint, and for which merchant: every credential form and role.
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { userAccessToken } from "../../stack/keys.ts";
import {
  asService,
  asUser,
  database,
  info,
  keys,
  postRegister,
  seed,
  tokenFor,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();

const body = (extra: Record<string, unknown> = {}) => ({
  users: [{ name: "Auth Test", email: uniqueEmail("auth") }],
  interview_id: seed.activeInterview,
  ...extra,
});

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const userClaims = () => ({
  sub: seed.users.owner.id,
  role: "authenticated",
  aud: "authenticated",
  iss: `${info.API_URL}/auth/v1`,
  exp: Math.floor(Date.now() / 1000) + 600,
});

Deno.test("no credentials: 401 with the error shape", async () => {
  const res = await postRegister(body(), {});
  assert.equal(res.status, 401);
  assert.equal(typeof res.body.error, "string");
  assert.ok(res.headers.get("x-request-id"));
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
});

Deno.test("service key in every accepted form registers for the given merchant", async (t) => {
  const forms: Record<string, Record<string, string>> = {
    "sb_secret_ in apikey": asService,
    "sb_secret_ as Bearer and apikey (supabase-js)": {
      authorization: `Bearer ${keys.secretKey}`,
      apikey: keys.secretKey,
    },
    "legacy service_role JWT as Bearer": { authorization: `Bearer ${keys.serviceRoleKey}` },
    "legacy service_role JWT in apikey": { apikey: keys.serviceRoleKey },
  };
  for (const [name, headers] of Object.entries(forms)) {
    await t.step(name, async () => {
      const res = await postRegister(body({ merchant_id: seed.demoMerchant }), headers);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body[0].result, "ok");
    });
  }
});

Deno.test("service key without merchant_id: 422 naming merchant_id", async () => {
  const res = await postRegister(body(), asService);
  assert.equal(res.status, 422);
  assert.equal(res.body.name, "merchant_id");
});

Deno.test("keys that are not callers: 401", async (t) => {
  const cases: Record<string, Record<string, string>> = {
    // Supabase's local gateway replaces an sb_ Bearer by what `apikey` holds (here: nothing).
    "right sb_secret_ as Bearer without apikey": { authorization: `Bearer ${keys.secretKey}` },
    "wrong sb_secret_": { authorization: "Bearer sb_secret_not-the-right-key" },
    "wrong sb_secret_ in apikey": { apikey: "sb_secret_not-the-right-key" },
    "anon key": { authorization: `Bearer ${keys.anonKey}`, apikey: keys.anonKey },
    "anon key in apikey only": { apikey: keys.anonKey },
    "publishable key": { authorization: `Bearer ${keys.publishableKey}` },
    "malformed header": { authorization: "Basic abc" },
    "garbage token": { authorization: "Bearer not.a.jwt" },
    "token of 60 KB": { authorization: `Bearer ${"a".repeat(60_000)}` },
  };
  for (const [name, headers] of Object.entries(cases)) {
    await t.step(name, async () => {
      const res = await postRegister(body({ merchant_id: seed.demoMerchant }), headers);
      assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(typeof res.body.error, "string");
    });
  }
});

Deno.test("user tokens that do not verify: 401", async (t) => {
  const secret = new TextEncoder().encode(keys.jwtSecret);
  const otherKey = (await generateKeyPair("ES256")).privateKey;
  const publicAsSecret = new TextEncoder().encode(JSON.stringify(keys.authJwks.keys[0]));
  const good = await tokenFor("owner");
  const [h, p, s] = good.split(".");
  const cases: Record<string, string> = {
    expired: await tokenFor("owner", { expiresInSeconds: -120 }),
    "tampered payload": `${h}.${b64url({ ...userClaims(), sub: seed.users.admin.id })}.${s}`,
    "tampered signature": `${h}.${p}.${s.slice(0, -4)}AAAA`,
    "alg none": `${b64url({ alg: "none", typ: "JWT" })}.${b64url(userClaims())}.`,
    "signed by another EC key with the project's kid": await new SignJWT(userClaims())
      .setProtectedHeader({ alg: "ES256", kid: keys.authSigningKey.kid }).sign(otherKey),
    "HS256 signed with the public key": await new SignJWT(userClaims())
      .setProtectedHeader({ alg: "HS256", kid: keys.authSigningKey.kid }).sign(publicAsSecret),
    "another project's secret": await new SignJWT(userClaims())
      .setProtectedHeader({ alg: "HS256" }).sign(
        new TextEncoder().encode("another-project-secret-0123456789abcdef"),
      ),
    "wrong audience": await new SignJWT({ ...userClaims(), aud: "other" })
      .setProtectedHeader({ alg: "HS256" }).sign(secret),
    "wrong issuer": await new SignJWT({ ...userClaims(), iss: "https://evil.example/auth/v1" })
      .setProtectedHeader({ alg: "HS256" }).sign(secret),
    "no exp": await new SignJWT({ ...userClaims(), exp: undefined })
      .setProtectedHeader({ alg: "HS256" }).sign(secret),
    "service_role claim from an asymmetric key": await new SignJWT({
      role: "service_role",
      exp: userClaims().exp,
    })
      .setProtectedHeader({ alg: "ES256", kid: "unknown" }).sign(otherKey),
    "user without a profile": await new SignJWT({ ...userClaims(), sub: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256" }).sign(secret),
  };
  for (const [name, token] of Object.entries(cases)) {
    await t.step(name, async () => {
      const res = await postRegister(body(), { authorization: `Bearer ${token}` });
      assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
    });
  }
});

Deno.test("legacy HS256 user tokens are still accepted", async () => {
  const token = await tokenFor("owner", { legacy: true });
  const res = await postRegister(body(), { authorization: `Bearer ${token}` });
  assert.equal(res.status, 200, JSON.stringify(res.body));
});

Deno.test("roles: admin, merchant_owner and merchant register; others get 403", async (t) => {
  const expected: Record<string, number> = {
    owner: 200,
    recruiter: 200,
    selection: 403,
    candidate: 403,
  };
  for (const [user, status] of Object.entries(expected)) {
    await t.step(user, async () => {
      const res = await postRegister(body(), await asUser(user as "owner"));
      assert.equal(res.status, status, JSON.stringify(res.body));
    });
  }
});

Deno.test("admin acts for any merchant but must name one", async () => {
  const without = await postRegister(body(), await asUser("admin"));
  assert.equal(without.status, 422);
  assert.equal(without.body.name, "merchant_id");
  const other = await postRegister(
    body({ merchant_id: seed.otherMerchant, interview_id: seed.otherInterview }),
    await asUser("admin"),
  );
  assert.equal(other.status, 200, JSON.stringify(other.body));
});

Deno.test("merchant scope: own and sub-merchants only", async (t) => {
  await t.step("owner for its sub-merchant", async () => {
    const res = await postRegister(
      body({ merchant_id: seed.subMerchant, interview_id: seed.subInterview }),
      await asUser("owner"),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
  await t.step("sub-merchant owner for its parent: 403", async () => {
    const res = await postRegister(
      body({ merchant_id: seed.demoMerchant }),
      await asUser("subOwner"),
    );
    assert.equal(res.status, 403);
    assert.equal(res.body.name, "merchant_id");
  });
  await t.step("owner for an unrelated merchant: 403", async () => {
    const res = await postRegister(
      body({ merchant_id: seed.otherMerchant, interview_id: seed.otherInterview }),
      await asUser("owner"),
    );
    assert.equal(res.status, 403);
    assert.equal(res.body.name, "merchant_id");
  });
  await t.step("unknown merchant: the same 403 as a foreign one", async () => {
    const res = await postRegister(
      body({ merchant_id: crypto.randomUUID() }),
      await asUser("owner"),
    );
    assert.equal(res.status, 403);
    assert.equal(res.body.name, "merchant_id");
  });
  await t.step("own merchant named explicitly", async () => {
    const res = await postRegister(
      body({ merchant_id: seed.demoMerchant }),
      await asUser("recruiter"),
    );
    assert.equal(res.status, 200);
  });
});

async function restRequests(): Promise<number> {
  return (await (await fetch(`${info.API_URL}/_stack/stats`)).json()).restRequests;
}

Deno.test("credential attacks get 401 without reaching the database", async (t) => {
  const attacker = await generateKeyPair("ES256", { extractable: true });
  const attackerJwk = { ...(await exportJWK(attacker.publicKey)), kid: "attacker", alg: "ES256" };
  const signAsAttacker = (header: Record<string, unknown>) =>
    new SignJWT(userClaims()).setProtectedHeader({ alg: "ES256", ...header }).sign(
      attacker.privateKey,
    );
  const secret = new TextEncoder().encode(keys.jwtSecret);
  const now = Math.floor(Date.now() / 1000);
  const cases: Record<string, string> = {
    "jku pointing at the attacker's keys": await signAsAttacker({
      kid: "attacker",
      jku: "http://127.0.0.1:1/jwks.json",
    }),
    "x5u pointing at the attacker's certificate": await signAsAttacker({
      kid: keys.authSigningKey.kid,
      x5u: "http://127.0.0.1:1/cert.pem",
    }),
    "embedded jwk header": await signAsAttacker({ kid: "attacker", jwk: attackerJwk }),
    "injected kid": await signAsAttacker({ kid: "../../../../dev/null" }),
    "nbf in the future": await new SignJWT({ ...userClaims(), nbf: now + 3600 })
      .setProtectedHeader({ alg: "HS256" }).sign(secret),
    "iat-only, no exp": await new SignJWT({ ...userClaims(), exp: undefined, iat: now })
      .setProtectedHeader({ alg: "HS256" }).sign(secret),
  };
  for (const [name, token] of Object.entries(cases)) {
    await t.step(name, async () => {
      const before = await restRequests();
      const res = await postRegister(body(), { authorization: `Bearer ${token}` });
      assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(await restRequests(), before, "no database call");
    });
  }
});

Deno.test("a user deleted after the token was issued: 401 after one lookup", async () => {
  const id = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${id}, ${`gone-${id}@demo.test`})`;
  await sql`insert into public.profile (id, merchant_id, role, email)
    values (${id}, ${seed.demoMerchant}, 'merchant_owner', ${`gone-${id}@demo.test`})`;
  const token = await userAccessToken(keys, `${info.API_URL}/auth/v1`, {
    id,
    email: `gone-${id}@demo.test`,
    merchantId: seed.demoMerchant,
  });
  const ok = await postRegister(body(), { authorization: `Bearer ${token}` });
  assert.equal(ok.status, 200);
  await sql`delete from auth.users where id = ${id}`;
  const before = await restRequests();
  const res = await postRegister(body(), { authorization: `Bearer ${token}` });
  assert.equal(res.status, 401);
  assert.equal(await restRequests(), before + 1, "only the lookup");
});

Deno.test({
  name: "close the database connection (auth)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
