// One-time interview links: redemption, expiry, revocation, rotation and the public keys.
import assert from "node:assert/strict";
import {
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
} from "jose";
import { createInterviewTokenSigner } from "../../supabase/functions/_shared/interview_token.ts";
import { createHandler as createRegisterHandler } from "../../supabase/functions/job-interview-register-users/handler.ts";
import { createHandler as createStartHandler } from "../../supabase/functions/job-interview-start/handler.ts";
import { publicJwk } from "../../stack/keys.ts";
import { assertMatchesContract } from "../support/contract.ts";
import {
  asService,
  database,
  info,
  keys,
  postRegister,
  seed,
  stackConfig,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();
const START_URL = `${info.FUNCTIONS_URL}/job-interview-start`;

async function registerOne(options: {
  email?: string;
  interview?: string;
  merchant?: string;
  isTest?: boolean;
  revokePrevious?: boolean;
  hideMenu?: boolean;
} = {}) {
  const res = await postRegister({
    users: [{ name: "Starter", email: options.email ?? uniqueEmail("start") }],
    interview_id: options.interview ?? seed.activeInterview,
    merchant_id: options.merchant ?? seed.demoMerchant,
    is_test: options.isTest ?? false,
    revoke_previous: options.revokePrevious ?? false,
    hide_menu: options.hideMenu ?? false,
  }, asService);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const row = res.body[0];
  assert.equal(row.result, "ok", JSON.stringify(row));
  return { row, token: new URL(row.interview_url).searchParams.get("interview_token")! };
}

async function start(token: unknown, url = START_URL) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ interview_token: token }),
  });
  const body = await res.json();
  assertMatchesContract("/job-interview-start", "POST", res.status, body);
  return { status: res.status, body };
}

Deno.test("a link starts exactly one attempt", async () => {
  const { row, token } = await registerOne({ hideMenu: true });
  const first = await start(token);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.match(first.body.attempt_id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(first.body.interview, {
    id: seed.activeInterview,
    name: "Customer Support Specialist",
    language: "en",
  });
  assert.deepEqual(first.body.candidate, { name: "Starter" });
  assert.equal(first.body.is_test, false);
  assert.deepEqual(first.body.view, { hide_menu: true, hide_iframe: false });
  const second = await start(token);
  assert.equal(second.status, 409);
  assert.equal(second.body.code, "token_used");
  assert.equal(typeof second.body.error, "string");
  const results = await sql`select r.token_jti, t.used_at from public.interview_result r
    join public.interview_token t on t.jti = r.token_jti
    where r.profile_interview_id = ${row.profile_interview_id}`;
  assert.equal(results.length, 1);
  assert.ok(results[0].used_at);
});

Deno.test("many concurrent starts of one link: one 200, the rest 409", async () => {
  const { row, token } = await registerOne();
  const answers = await Promise.all(Array.from({ length: 20 }, () => start(token)));
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [200, ...Array(19).fill(409)]);
  const [{ count }] = await sql`select count(*)::int from public.interview_result
    where profile_interview_id = ${row.profile_interview_id}`;
  assert.equal(count, 1);
});

Deno.test("expired links: by the token's exp and by the database record", async () => {
  const { row, token } = await registerOne();
  const { payload } = await jwtVerify(
    token,
    await importJWK(publicJwk(keys.interviewSigningKey), "EdDSA"),
  );
  const signer = createInterviewTokenSigner(keys.interviewSigningKey, {
    issuer: `${info.API_URL}/functions/v1`,
    audience: "job-interview",
  });
  const expired = await signer.sign({
    jti: payload.jti!,
    enrolmentId: row.profile_interview_id,
    merchantId: seed.demoMerchant,
    interviewId: seed.activeInterview,
    positionId: null,
    isTest: false,
    hideMenu: false,
    hideIframe: false,
    issuedAt: Math.floor(Date.now() / 1000) - 120,
    expiresAt: new Date(Date.now() - 60_000),
  });
  const byClaim = await start(expired);
  assert.deepEqual([byClaim.status, byClaim.body.code], [401, "token_expired"]);
  await sql`update public.interview_token set expires_at = now() - interval '1 second',
    issued_at = now() - interval '1 minute' where jti = ${payload.jti!}`;
  const byRecord = await start(token);
  assert.deepEqual([byRecord.status, byRecord.body.code], [401, "token_expired"]);
});

Deno.test("tokens that do not verify: 401 token_invalid", async () => {
  const { token } = await registerOne();
  const [h, p] = token.split(".");
  const other = await generateKeyPair("EdDSA", { extractable: true });
  const payload = JSON.parse(atob(p.replace(/-/g, "+").replace(/_/g, "/")));
  const forged = await new SignJWT(payload)
    .setProtectedHeader({ alg: "EdDSA", kid: keys.interviewSigningKey.kid })
    .sign(other.privateKey);
  const unknownKid = await new SignJWT(payload)
    .setProtectedHeader({ alg: "EdDSA", kid: "nobody-knows" })
    .sign(other.privateKey);
  const none = `${btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "")}.${p}.`;
  const hs = await new SignJWT(payload).setProtectedHeader({
    alg: "HS256",
    kid: keys.interviewSigningKey.kid,
  })
    .sign(new TextEncoder().encode(JSON.stringify(await exportJWK(other.publicKey))));
  for (const bad of ["garbage", `${h}.${p}.AAAA`, forged, unknownKid, none, hs]) {
    const res = await start(bad);
    assert.deepEqual([res.status, res.body.code], [401, "token_invalid"], bad.slice(0, 30));
  }
  const missing = await fetch(START_URL, { method: "POST", body: "{}" });
  assert.equal(missing.status, 422);
  assert.equal((await missing.json()).name, "interview_token");
});

Deno.test("signed with the real key for another audience or issuer: 401 token_invalid", async () => {
  const { row, token } = await registerOne();
  const { payload } = await jwtVerify(
    token,
    await importJWK(publicJwk(keys.interviewSigningKey), "EdDSA"),
  );
  const claims = {
    jti: payload.jti!,
    enrolmentId: row.profile_interview_id,
    merchantId: seed.demoMerchant,
    interviewId: seed.activeInterview,
    positionId: null,
    isTest: false,
    hideMenu: false,
    hideIframe: false,
    expiresAt: new Date(row.expires_at),
  };
  const issuer = `${info.API_URL}/functions/v1`;
  const signedFor = (options: { issuer: string; audience: string }) =>
    createInterviewTokenSigner(keys.interviewSigningKey, options).sign(claims);
  const cases = {
    "another audience": signedFor({ issuer, audience: "another-service" }),
    "another issuer": signedFor({
      issuer: "https://evil.example/functions/v1",
      audience: "job-interview",
    }),
  };
  for (const [name, bad] of Object.entries(cases)) {
    const res = await start(bad);
    assert.deepEqual([res.status, res.body.code], [401, "token_invalid"], name);
  }
  // The same claims with the right audience and issuer start: only `aud` and `iss` were wrong.
  assert.equal((await start(signedFor({ issuer, audience: "job-interview" }))).status, 200);
});

Deno.test("revoke_previous revokes the enrolment's earlier unused links", async () => {
  const email = uniqueEmail("revoke");
  const first = await registerOne({ email });
  const kept = await registerOne({ email });
  // Registering again without revoke_previous leaves the earlier link working.
  const [{ revoked }] = await sql`select count(*)::int as revoked from public.interview_token
    where profile_interview_id = ${first.row.profile_interview_id} and revoked_at is not null`;
  assert.equal(revoked, 0);
  const fresh = await registerOne({ email, revokePrevious: true });
  assert.equal(fresh.row.profile_interview_id, first.row.profile_interview_id);
  for (const old of [first.token, kept.token]) {
    const res = await start(old);
    assert.deepEqual([res.status, res.body.code], [401, "token_revoked"]);
  }
  assert.equal((await start(fresh.token)).status, 200);
});

Deno.test("support revokes every unused link of an enrolment or of an interview", async () => {
  const { row, token } = await registerOne();
  const [{ revoked }] =
    await sql`select public.revoke_interview_tokens(${row.profile_interview_id}::uuid, null) as revoked`;
  assert.equal(revoked, 1);
  assert.equal((await start(token)).body.code, "token_revoked");

  const [{ id: interview }] =
    await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${seed.demoMerchant}, 'To revoke', 'active') returning id`;
  const a = await registerOne({ interview });
  const b = await registerOne({ interview });
  const [{ count }] =
    await sql`select public.revoke_interview_tokens(null, ${interview}::uuid) as count`;
  assert.equal(count, 2);
  assert.equal((await start(a.token)).body.code, "token_revoked");
  assert.equal((await start(b.token)).body.code, "token_revoked");
});

Deno.test("attempts allowed per interview are respected", async () => {
  // The sub-merchant's interview allows one attempt.
  const email = uniqueEmail("attempts");
  const first = await registerOne({
    email,
    interview: seed.subInterview,
    merchant: seed.subMerchant,
  });
  assert.equal((await start(first.token)).status, 200);
  const again = await registerOne({
    email,
    interview: seed.subInterview,
    merchant: seed.subMerchant,
  });
  const res = await start(again.token);
  assert.deepEqual([res.status, res.body.code], [422, "attempts_exhausted"]);
});

Deno.test("test links take drafts; real links need a live interview and enrolment", async () => {
  const draft = await registerOne({ interview: seed.draftInterview, isTest: true });
  const res = await start(draft.token);
  assert.equal(res.status, 200);
  assert.equal(res.body.is_test, true);
  const [result] =
    await sql`select is_test from public.interview_result where id = ${res.body.attempt_id}`;
  assert.equal(result.is_test, true);

  const [{ id: interview }] =
    await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${seed.demoMerchant}, 'Will close', 'active') returning id`;
  const live = await registerOne({ interview });
  await sql`update public.interview_def_set set status = 'draft' where id = ${interview}`;
  assert.deepEqual((await start(live.token)).body.code, "interview_unavailable");
  await sql`update public.interview_def_set set status = 'archived' where id = ${interview}`;
  assert.deepEqual((await start(live.token)).status, 422);

  const withdrawn = await registerOne();
  await sql`update public.profile_interview set status = 'deleted' where id = ${withdrawn.row.profile_interview_id}`;
  const gone = await start(withdrawn.token);
  assert.deepEqual([gone.status, gone.body.code], [422, "enrolment_deleted"]);
});

Deno.test("registered links verify offline against the published JWKS", async () => {
  const { token, row } = await registerOne();
  const jwksUrl = new URL(`${START_URL}/jwks.json`);
  const res = await fetch(jwksUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("cache-control")!, /max-age/);
  const body = await res.json();
  assertMatchesContract("/job-interview-start/jwks.json", "GET", res.status, body);
  assert.ok(body.keys.every((key: Record<string, unknown>) => !("d" in key)));
  const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(jwksUrl), {
    issuer: `${info.API_URL}/functions/v1`,
    audience: "job-interview",
  });
  assert.equal(protectedHeader.kid, keys.interviewSigningKey.kid);
  assert.equal(payload.sub, row.profile_interview_id);
});

Deno.test("rotation: new tokens carry the new kid; old ones keep working; unknown kids do not", async () => {
  const next = await generateKeyPair("EdDSA", { extractable: true });
  const nextKey = { ...(await exportJWK(next.privateKey)), kid: "interview-next", alg: "EdDSA" };
  const cfg = await stackConfig({
    INTERVIEW_TOKEN_SIGNING_KEY: JSON.stringify(nextKey),
    INTERVIEW_TOKEN_PUBLIC_KEYS: JSON.stringify({ keys: [publicJwk(keys.interviewSigningKey)] }),
  });
  const rotatedRegister = createRegisterHandler(cfg);
  const rotatedStart = createStartHandler(cfg);
  const startWith = async (token: string) => {
    const res = await rotatedStart(
      new Request("http://functions.test/job-interview-start", {
        method: "POST",
        body: JSON.stringify({ interview_token: token }),
      }),
    );
    return { status: res.status, body: await res.json() };
  };

  const old = await registerOne();
  const registered = await rotatedRegister(
    new Request("http://functions.test/x", {
      method: "POST",
      headers: asService,
      body: JSON.stringify({
        users: [{ email: uniqueEmail("rotated") }],
        interview_id: seed.activeInterview,
        merchant_id: seed.demoMerchant,
      }),
    }),
  );
  const [row] = await registered.json();
  const fresh = new URL(row.interview_url).searchParams.get("interview_token")!;
  const header = JSON.parse(atob(fresh.split(".")[0].replace(/-/g, "+").replace(/_/g, "/")));
  assert.equal(header.kid, "interview-next");

  assert.equal((await startWith(old.token)).status, 200, "a token of the previous key");
  assert.equal((await startWith(fresh)).status, 200, "a token of the new key");
  const stranger = await generateKeyPair("EdDSA");
  const unknown = await new SignJWT({ is_test: false }).setProtectedHeader({
    alg: "EdDSA",
    kid: "retired",
  })
    .setJti(crypto.randomUUID()).setSubject(crypto.randomUUID()).setIssuer(cfg.interviewTokenIssuer)
    .setAudience(cfg.interviewTokenAudience).setExpirationTime("1h").sign(stranger.privateKey);
  assert.deepEqual((await startWith(unknown)).body.code, "token_invalid");
  const jwks =
    await (await rotatedStart(new Request("http://functions.test/job-interview-start/jwks.json")))
      .json();
  assert.deepEqual(jwks.keys.map((key: { kid: string }) => key.kid), [
    "interview-next",
    keys.interviewSigningKey.kid,
  ]);
});

Deno.test("CORS preflight for the browser", async () => {
  const res = await fetch(START_URL, { method: "OPTIONS" });
  await res.body?.cancel();
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
});

Deno.test({
  name: "close the database connection (start)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
