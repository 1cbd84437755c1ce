// The authenticator without a network: service keys in every form a gateway can deliver them
// (hosted: as sent; the CLI's: rewritten to the role's legacy key), and HS256 user tokens verified
// locally when the project sets LEGACY_JWT_SECRET.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { createAuthenticator } from "../../supabase/functions/_shared/auth.ts";
import { HttpError } from "../../supabase/functions/_shared/http.ts";
import { generateStackKeys, userAccessToken } from "../../stack/keys.ts";
import { freePort } from "../../stack/ports.ts";

const keys = await generateStackKeys();
// Nothing listens there: a test that reached Auth or the JWKS would get a 503.
const supabaseUrl = `http://127.0.0.1:${freePort()}`;
const cfg = {
  supabaseUrl,
  serviceRoleKey: keys.serviceRoleKey,
  secretKeys: [keys.secretKey],
  clientApiKey: keys.publishableKey,
  authIssuer: `${supabaseUrl}/auth/v1`,
  legacyJwtSecret: null as string | null,
};
const user = { id: crypto.randomUUID(), email: "u@example.com", merchantId: null };

const call = (authenticate: ReturnType<typeof createAuthenticator>, h: Record<string, string>) =>
  authenticate(new Request("http://fn.test/", { headers: h })).catch((err) => {
    if (err instanceof HttpError) return { status: err.status, message: err.message };
    throw err;
  });

Deno.test("service keys are recognised in every form a gateway delivers them", async (t) => {
  const authenticate = createAuthenticator(cfg);
  const forms: [string, Record<string, string>, string][] = [
    ["sb_secret_ in apikey (hosted)", { apikey: keys.secretKey }, "secret_key"],
    ["sb_secret_ as Bearer (hosted passes it on)", {
      authorization: `Bearer ${keys.secretKey}`,
    }, "secret_key"],
    ["the service_role key as Bearer (the CLI's rewrite)", {
      authorization: `Bearer ${keys.serviceRoleKey}`,
      apikey: keys.secretKey,
    }, "service_role_key"],
    ["a legacy key copied as it is into Authorization (the CLI's gateway)", {
      authorization: keys.serviceRoleKey,
      apikey: keys.serviceRoleKey,
    }, "service_role_key"],
  ];
  for (const [name, headers, via] of forms) {
    await t.step(name, async () => {
      assert.deepEqual(await call(authenticate, headers), { kind: "service", via });
    });
  }
  await t.step("a near miss is refused", async () => {
    const res = await call(authenticate, { apikey: `${keys.secretKey}x` });
    assert.equal((res as { status: number }).status, 401);
  });
});

Deno.test("LEGACY_JWT_SECRET verifies HS256 user tokens without asking Auth", async () => {
  const authenticate = createAuthenticator({ ...cfg, legacyJwtSecret: keys.jwtSecret });
  const token = await userAccessToken(keys, cfg.authIssuer, user, { legacy: true });
  assert.deepEqual(await call(authenticate, { authorization: `Bearer ${token}` }), {
    kind: "user",
    userId: user.id,
  });
  const forged = await new SignJWT({ role: "authenticated", aud: "authenticated" })
    .setProtectedHeader({ alg: "HS256" }).setSubject(user.id).setIssuer(cfg.authIssuer)
    .setExpirationTime("1h").sign(new TextEncoder().encode("another-secret-0123456789abcdef"));
  assert.equal(
    (await call(authenticate, { authorization: `Bearer ${forged}` }) as { status: number }).status,
    401,
  );
});

Deno.test("without it, an HS256 token goes to Auth: out of reach is a 503", async () => {
  const token = await userAccessToken(keys, cfg.authIssuer, user, { legacy: true });
  const res = await call(createAuthenticator(cfg), { authorization: `Bearer ${token}` });
  assert.equal((res as { status: number }).status, 503);
});
