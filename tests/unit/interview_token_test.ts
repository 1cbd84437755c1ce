// Interview tokens verify with jose (what a front end or partner uses), for every algorithm the
// signer accepts; the others are refused when the configuration loads, with a clear reason.
import assert from "node:assert/strict";
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, jwtVerify } from "jose";
import {
  createInterviewTokenSigner,
  type InterviewTokenClaims,
} from "../../supabase/functions/_shared/interview_token.ts";
import { ConfigError, loadConfig } from "../../supabase/functions/_shared/config.ts";

const options = { issuer: "https://project.test/functions/v1", audience: "job-interview" };

async function privateJwk(alg: "EdDSA" | "ES256"): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `k-${alg}`, alg };
}

const claims = (): InterviewTokenClaims => ({
  jti: crypto.randomUUID(),
  enrolmentId: crypto.randomUUID(),
  merchantId: crypto.randomUUID(),
  interviewId: crypto.randomUUID(),
  positionId: null,
  isTest: false,
  hideMenu: true,
  hideIframe: false,
  expiresAt: new Date(Date.now() + 3600_000),
  issuedAt: 1_800_000_000,
});

Deno.test("every supported algorithm signs tokens that jose verifies", async (t) => {
  for (const alg of ["EdDSA"] as const) {
    await t.step(alg, async () => {
      const jwk = await privateJwk(alg);
      const { d: _d, ...publicKey } = jwk;
      const token = createInterviewTokenSigner(jwk, options).sign(claims());
      const { payload, protectedHeader } = await jwtVerify(
        token,
        createLocalJWKSet({ keys: [publicKey] }),
        { ...options, algorithms: [alg] },
      );
      assert.equal(protectedHeader.alg, alg);
      assert.equal(protectedHeader.kid, jwk.kid);
      assert.equal(payload.view_hm, true);
    });
  }
});

Deno.test("Ed25519 signing is deterministic: a retry re-signs the same token", async () => {
  const signer = createInterviewTokenSigner(await privateJwk("EdDSA"), options);
  const same = claims();
  assert.equal(signer.sign(same), signer.sign(same));
});

Deno.test("an ES256 signing key is refused at configuration load, saying why", async () => {
  const es256 = await privateJwk("ES256");
  assert.throws(() => createInterviewTokenSigner(es256, options), /Ed25519/);
  const saved = Deno.env.toObject();
  try {
    Deno.env.set("SUPABASE_URL", "https://project.test");
    Deno.env.set("SUPABASE_SECRET_KEYS", JSON.stringify({ default: "sb_secret_x" }));
    Deno.env.set("INTERVIEW_TOKEN_SIGNING_KEY", JSON.stringify(es256));
    assert.throws(() => loadConfig(), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /INTERVIEW_TOKEN_SIGNING_KEY must be an Ed25519 key/);
      assert.match(err.message, /kty EC/);
      return true;
    });
  } finally {
    for (const name of ["SUPABASE_URL", "SUPABASE_SECRET_KEYS", "INTERVIEW_TOKEN_SIGNING_KEY"]) {
      if (saved[name] === undefined) Deno.env.delete(name);
      else Deno.env.set(name, saved[name]);
    }
  }
});
