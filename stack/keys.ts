// Keys of a local stack, shaped like a Supabase project's: a legacy HS256 JWT secret with the
// anon and service_role JWTs it signs, new-style publishable and secret API keys, an ES256 key
// that signs user access tokens (published as the project's JWKS), and the Ed25519 key that
// signs interview tokens.
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";

export interface StackKeys {
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  publishableKey: string;
  secretKey: string;
  /** Private ES256 JWK that signs user access tokens (what Supabase Auth holds). */
  authSigningKey: JWK;
  /** Public JWKS for user access tokens, as served at /auth/v1/.well-known/jwks.json. */
  authJwks: { keys: JWK[] };
  /** Private Ed25519 JWK that signs interview tokens. */
  interviewSigningKey: JWK;
  /** What the functions send to the local Resend stand-in. */
  resendApiKey: string;
  /** The Resend webhook endpoint's signing secret (`whsec_` + base64, as Svix issues them). */
  resendWebhookSecret: string;
}

function randomToken(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function legacyApiKey(secret: string, role: "anon" | "service_role"): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({ role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("supabase-demo")
    .setIssuedAt(now)
    .setExpirationTime(now + 10 * 365 * 24 * 3600)
    .sign(new TextEncoder().encode(secret));
}

async function privateJwk(alg: "ES256" | "EdDSA", kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    crv: alg === "EdDSA" ? "Ed25519" : undefined,
  });
  return { ...(await exportJWK(privateKey)), kid, alg, use: "sig" };
}

export function publicJwk(jwk: JWK): JWK {
  const { d: _d, ...pub } = jwk;
  return pub;
}

export async function generateStackKeys(): Promise<StackKeys> {
  const jwtSecret = randomToken(32);
  const authSigningKey = await privateJwk("ES256", `auth-${randomToken(4)}`);
  return {
    jwtSecret,
    anonKey: await legacyApiKey(jwtSecret, "anon"),
    serviceRoleKey: await legacyApiKey(jwtSecret, "service_role"),
    publishableKey: `sb_publishable_${randomToken(16)}`,
    secretKey: `sb_secret_${randomToken(16)}`,
    authSigningKey,
    authJwks: { keys: [publicJwk(authSigningKey)] },
    interviewSigningKey: await privateJwk("EdDSA", `interview-${randomToken(4)}`),
    resendApiKey: `re_local_${randomToken(12)}`,
    resendWebhookSecret: `whsec_${
      btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))
    }`,
  };
}

/** PostgREST's `jwt-secret` as a JWKS: the legacy HS256 secret and the asymmetric auth key. */
export function postgrestJwks(keys: StackKeys): string {
  const oct: JWK = {
    kty: "oct",
    k: btoa(keys.jwtSecret).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
    alg: "HS256",
  };
  return JSON.stringify({ keys: [oct, ...keys.authJwks.keys] });
}

/**
 * An access token shaped like one Supabase Auth issues, without `session_id`: the stack keeps no
 * sessions, and Auth (and the stack's GET /auth/v1/user) refuse a session id it does not hold.
 */
export async function userAccessToken(
  keys: StackKeys,
  issuer: string,
  user: { id: string; email: string; merchantId: string | null },
  options: { expiresInSeconds?: number; legacy?: boolean } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    role: "authenticated",
    email: user.email,
    aal: "aal1",
    is_anonymous: false,
    app_metadata: {
      provider: "email",
      providers: ["email"],
      ...(user.merchantId ? { merchant_id: user.merchantId } : {}),
    },
    user_metadata: {},
  })
    .setSubject(user.id)
    .setAudience("authenticated")
    .setIssuer(issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresInSeconds ?? 3600));
  if (options.legacy) {
    return await jwt.setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(keys.jwtSecret));
  }
  return await jwt.setProtectedHeader({ alg: "ES256", typ: "JWT", kid: keys.authSigningKey.kid })
    .sign(await importJWK(keys.authSigningKey, "ES256"));
}
