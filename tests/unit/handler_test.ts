// The handler called directly, without a server: configuration-dependent behaviour and what
// happens when the database cannot be reached.
import assert from "node:assert/strict";
import type { Config } from "../../supabase/functions/_shared/config.ts";
import { createHandler } from "../../supabase/functions/job-interview-register-users/handler.ts";
import { generateStackKeys, publicJwk } from "../../stack/keys.ts";
import { freePort } from "../../stack/ports.ts";

const keys = await generateStackKeys();

function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    supabaseUrl: `http://127.0.0.1:${freePort()}`,
    serviceKey: keys.secretKey,
    serviceRoleKey: keys.serviceRoleKey,
    secretKeys: [keys.secretKey],
    clientApiKey: keys.publishableKey,
    authIssuer: "http://issuer.test/auth/v1",
    legacyJwtSecret: null,
    interviewSigningKey: keys.interviewSigningKey,
    interviewPublicKeys: { keys: [publicJwk(keys.interviewSigningKey)] },
    interviewTokenIssuer: "http://issuer.test",
    interviewTokenAudience: "job-interview",
    interviewTokenTtlSeconds: 3600,
    interviewFrontendUrl: "https://frontend.test",
    maxUsersPerRequest: 3,
    maxBodyBytes: 2048,
    dbTimeoutMs: 2000,
    rateLimitPerMinute: 600,
    idempotencyTtlSeconds: 86400,
    email: {
      apiKey: null,
      baseUrl: undefined,
      fromAddress: "invitations@example.com",
      sendBudgetMs: 100,
      timeoutMs: 1000,
      maxAttempts: 3,
      retryBaseMs: 100,
      leaseMs: 5000,
      webhookSecret: null,
    },
    greenhouse: { callbackKey: null, callbackOrigins: ["https://app.greenhouse.io"] },
    ...overrides,
  };
}

const request = (body: unknown, headers: Record<string, string> = {}) =>
  new Request("http://functions.test/job-interview-register-users", {
    method: "POST",
    headers: { authorization: `Bearer ${keys.secretKey}`, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const validBody = {
  users: [{ email: "a@example.com" }],
  interview_id: "04e09fa5-3fb8-4236-b37d-fca2bcd1cb66",
  merchant_id: "b5201178-46dd-4a20-a1af-7ffd647f834b",
};

Deno.test("an unreachable database answers 503 with the error shape and a request id", async () => {
  const res = await createHandler(testConfig())(request(validBody));
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.match(body.error, /unavailable/);
  assert.equal(body.name, undefined);
  assert.ok(res.headers.get("x-request-id"));
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
});

Deno.test("the batch cap comes from configuration", async () => {
  const users = Array.from({ length: 4 }, (_, i) => ({ email: `u${i}@example.com` }));
  const res = await createHandler(testConfig())(request({ ...validBody, users }));
  assert.equal(res.status, 422);
  assert.deepEqual(await res.json(), {
    error: "users must hold at most 3 candidates per request",
    name: "users",
  });
});

Deno.test("bodies over the limit are refused with 413, by header or by length", async () => {
  const handle = createHandler(testConfig());
  const big = JSON.stringify({ ...validBody, pad: "x".repeat(4096) });
  assert.equal((await handle(request(big))).status, 413);
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(big));
      controller.close();
    },
  });
  const chunked = new Request("http://functions.test/x", {
    method: "POST",
    headers: { authorization: `Bearer ${keys.secretKey}` },
    body: stream,
  });
  assert.equal((await handle(chunked)).status, 413);
});

Deno.test("credentials are checked before the body is read", async () => {
  const res = await createHandler(testConfig())(request("{not json", { authorization: "" }));
  assert.equal(res.status, 401);
});

Deno.test("field errors name the field with its path", async () => {
  const handle = createHandler(testConfig());
  const res = await handle(request({ ...validBody, users: [{ email: "a@b.co", name: 5 }] }));
  assert.equal(res.status, 422);
  const body = await res.json();
  assert.equal(body.name, "users[0].name");
  assert.match(body.error, /string/);
});

Deno.test("invalid UTF-8 is a 400", async () => {
  const res = await createHandler(testConfig())(
    new Request("http://functions.test/x", {
      method: "POST",
      headers: { authorization: `Bearer ${keys.secretKey}` },
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    }),
  );
  assert.equal(res.status, 400);
});
