// Who is calling: a user with a Supabase access token, or a trusted backend with the service key
// (the legacy service_role JWT, or a new `sb_secret_...` key). Every credential is verified here,
// in code: signatures with algorithms pinned per key, expiry, audience and issuer.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { createHash, timingSafeEqual } from "node:crypto";
import { type ApiKeyCaller, apiKeyCaller, looksLikeApiKey } from "./api_key.ts";
import type { Config } from "./config.ts";
import { HttpError } from "./http.ts";

export type Caller =
  | { kind: "user"; userId: string }
  | { kind: "service"; via: "secret_key" | "service_role_jwt" }
  | ApiKeyCaller;

/** Algorithms accepted for keys from the project's JWKS; HS256 only ever with the JWT secret. */
const ASYMMETRIC_ALGORITHMS = ["ES256", "RS256", "EdDSA"];
/** Far above any real access token, far below what could burden the verifier. */
const MAX_CREDENTIAL_LENGTH = 8192;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const unauthorized = (message: string) => new HttpError(401, message);

// Synchronous hashing: WebCrypto's async digest costs more than the rest of a small request.
function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** Compares fixed-length digests in constant time, against every configured key. */
function matchesAnyKey(given: string, keyDigests: Uint8Array[]): boolean {
  const digest = sha256(given);
  let matched = false;
  for (const keyDigest of keyDigests) matched = timingSafeEqual(digest, keyDigest) || matched;
  return matched;
}

function audienceIncludes(payload: JWTPayload, audience: string): boolean {
  return Array.isArray(payload.aud) ? payload.aud.includes(audience) : payload.aud === audience;
}

function describeJoseError(err: unknown): HttpError {
  if (err instanceof joseErrors.JWTExpired) return unauthorized("Access token has expired");
  if (err instanceof joseErrors.JWKSTimeout) {
    return new HttpError(503, "Could not fetch the project's signing keys; retry later");
  }
  if (err instanceof joseErrors.JOSEError) return unauthorized("Invalid access token");
  if (err instanceof TypeError) return unauthorized("Invalid access token");
  return new HttpError(503, "Could not fetch the project's signing keys; retry later");
}

export function createAuthenticator(cfg: Config): (req: Request) => Promise<Caller> {
  const jwks = cfg.jwks
    ? createLocalJWKSet(cfg.jwks)
    : createRemoteJWKSet(new URL(`${cfg.supabaseUrl}/auth/v1/.well-known/jwks.json`), {
      cacheMaxAge: 10 * 60_000,
      cooldownDuration: 30_000,
      timeoutDuration: 3_000,
    });
  const hmacKey = cfg.jwtSecret ? new TextEncoder().encode(cfg.jwtSecret) : null;
  const secretKeyDigests = cfg.secretKeys.map(sha256);

  async function verifyJwt(token: string): Promise<{ payload: JWTPayload; alg: string }> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthorized("Invalid access token");
    }
    try {
      if (alg === "HS256") {
        if (!hmacKey) throw unauthorized("Invalid access token");
        const { payload } = await jwtVerify(token, hmacKey, {
          algorithms: ["HS256"],
          requiredClaims: ["exp"],
        });
        return { payload, alg };
      }
      if (alg && ASYMMETRIC_ALGORITHMS.includes(alg)) {
        const { payload } = await jwtVerify(token, jwks, {
          algorithms: ASYMMETRIC_ALGORITHMS,
          requiredClaims: ["exp"],
        });
        return { payload, alg };
      }
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw describeJoseError(err);
    }
    throw unauthorized("Invalid access token");
  }

  return async function authenticate(req: Request): Promise<Caller> {
    const authorization = req.headers.get("authorization");
    const apikey = req.headers.get("apikey")?.trim() || null;
    let credential: string | null = null;
    if (authorization !== null) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) throw unauthorized("Authorization header must be 'Bearer <token>'");
      credential = match[1];
    } else if (apikey?.startsWith("sb_secret_")) {
      credential = apikey;
    }
    if (!credential) {
      throw unauthorized(
        "Missing credentials: send 'Authorization: Bearer <user access token or service key>'",
      );
    }
    if (credential.length > MAX_CREDENTIAL_LENGTH) throw unauthorized("Invalid access token");
    if (looksLikeApiKey(credential)) return apiKeyCaller(credential);

    if (credential.startsWith("sb_secret_")) {
      if (matchesAnyKey(credential, secretKeyDigests)) {
        return { kind: "service", via: "secret_key" };
      }
      throw unauthorized("Invalid API key");
    }
    if (credential.startsWith("sb_publishable_")) {
      throw unauthorized("A publishable key is not a caller: send a user access token");
    }

    const { payload, alg } = await verifyJwt(credential);
    if (payload.role === "service_role" && alg === "HS256") {
      return { kind: "service", via: "service_role_jwt" };
    }
    if (payload.role === "anon") {
      throw unauthorized("The anon key is not a caller: send a user access token");
    }
    if (!audienceIncludes(payload, "authenticated")) throw unauthorized("Invalid access token");
    if (cfg.authIssuer && payload.iss !== cfg.authIssuer) {
      throw unauthorized("Invalid access token");
    }
    if (typeof payload.sub !== "string" || !UUID.test(payload.sub)) {
      throw unauthorized("Invalid access token");
    }
    return { kind: "user", userId: payload.sub };
  };
}
