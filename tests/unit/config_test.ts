// Configuration reads only what the platform gives and the project's own secrets.
import assert from "node:assert/strict";
import { loadConfig } from "../../supabase/functions/_shared/config.ts";
import { generateStackKeys } from "../../stack/keys.ts";

const keys = await generateStackKeys();

function withEnv<T>(env: Record<string, string>, run: () => T): T {
  const saved = Deno.env.toObject();
  for (const name of Object.keys(saved)) {
    if (name.startsWith("SUPABASE_") || name.startsWith("INTERVIEW_")) Deno.env.delete(name);
  }
  for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
  try {
    return run();
  } finally {
    for (const name of Object.keys(env)) Deno.env.delete(name);
    for (const [name, value] of Object.entries(saved)) Deno.env.set(name, value);
  }
}

const platform = {
  SUPABASE_URL: "https://ref.supabase.co/",
  SUPABASE_ANON_KEY: keys.anonKey,
  SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
  SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishableKey }),
  SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
  INTERVIEW_TOKEN_SIGNING_KEY: JSON.stringify(keys.interviewSigningKey),
};

Deno.test("the functions' own PostgREST key is the sb_secret_ one when both exist", () => {
  const cfg = withEnv(platform, loadConfig);
  assert.equal(cfg.serviceKey, keys.secretKey);
  assert.equal(cfg.serviceRoleKey, keys.serviceRoleKey);
  assert.equal(cfg.clientApiKey, keys.publishableKey);
  assert.equal(cfg.authIssuer, "https://ref.supabase.co/auth/v1");
  assert.equal(cfg.legacyJwtSecret, null);
  const { SUPABASE_SECRET_KEYS: _, ...legacyOnly } = platform;
  assert.equal(withEnv(legacyOnly, loadConfig).serviceKey, keys.serviceRoleKey);
});

Deno.test("variables the platform does not set change nothing", () => {
  const cfg = withEnv({
    ...platform,
    SUPABASE_JWT_SECRET: "not-given-by-the-platform",
    SUPABASE_JWKS: JSON.stringify({ keys: [] }),
    AUTH_JWT_ISSUER: "https://elsewhere.example/auth/v1",
  }, loadConfig);
  assert.deepEqual(cfg, withEnv(platform, loadConfig));
});

Deno.test("Greenhouse callbacks: a 32-byte key and http(s) origins, or a clear start-up error", () => {
  const off = withEnv(platform, loadConfig).greenhouse;
  assert.deepEqual(off, { callbackKey: null, callbackOrigins: ["https://app.greenhouse.io"] });
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const on = withEnv({
    ...platform,
    GREENHOUSE_CALLBACK_KEY: btoa(String.fromCharCode(...secret)),
    GREENHOUSE_CALLBACK_ORIGINS: "https://app.greenhouse.io, http://127.0.0.1/",
  }, loadConfig).greenhouse;
  assert.deepEqual(on.callbackKey, secret);
  assert.deepEqual(on.callbackOrigins, ["https://app.greenhouse.io", "http://127.0.0.1"]);
  for (
    const wrong of [
      { GREENHOUSE_CALLBACK_KEY: btoa("too short") } as Record<string, string>,
      { GREENHOUSE_CALLBACK_KEY: "not base64!" },
      { GREENHOUSE_CALLBACK_ORIGINS: "ftp://app.greenhouse.io" },
      { GREENHOUSE_CALLBACK_ORIGINS: "https://app.greenhouse.io/path" },
      { GREENHOUSE_CALLBACK_ORIGINS: "app.greenhouse.io" },
    ]
  ) {
    const name = Object.keys(wrong)[0];
    assert.throws(() => withEnv({ ...platform, ...wrong }, loadConfig), new RegExp(name));
  }
});
