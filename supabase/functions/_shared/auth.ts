// Who is calling: a user with a Supabase access token, or a trusted backend with a service key
// (a `sb_secret_...` key or the legacy `service_role` key). Functions get no JWT secret from the
// platform, so user tokens are verified the way the platform allows: asymmetric ones against the
// project's JWKS, legacy HS256 ones by asking Auth (or with LEGACY_JWT_SECRET, when set).
import { createHash, timingSafeEqual } from "node:crypto";
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { type ApiKeyCaller, apiKeyCaller, looksLikeApiKey } from "./api_key.ts";
import type { Config } from "./config.ts";
import { HttpError } from "./http.ts";

export type Caller =
  | { kind: "user"; userId: string }
  | { kind: "service"; via: "secret_key" | "service_role_key" }
  | ApiKeyCaller;

/** Algorithms accepted for keys from the project's JWKS; HS256 only ever through Auth. */
const ASYMMETRIC_ALGORITHMS = ["ES256", "RS256", "EdDSA"];
/** Far above any real access token, far below what could burden the verifier. */
const MAX_CREDENTIAL_LENGTH = 8192;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How long a fetched JWKS is trusted, and how often an unknown `kid` may trigger a refetch. */
const JWKS_MAX_AGE_MS = 10 * 60_000;
const JWKS_REFETCH_COOLDOWN_MS = 30_000;
const UPSTREAM_TIMEOUT_MS = 3_000;

const unauthorized = (message: string) => new HttpError(401, message);
const invalidToken = () => unauthorized("Invalid access token");

/** Auth or its JWKS could not answer: the token may be good, so the caller should retry. */
export class AuthUnavailable extends HttpError {
  constructor(what: string, cause: string) {
    super(503, `Could not verify the access token: ${what} is unreachable (${cause}); retry later`);
  }
}

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

async function fetchUpstream(url: string, init: RequestInit, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
  } catch (err) {
    throw new AuthUnavailable(what, err instanceof Error ? err.name : "network error");
  }
  if (res.status >= 500 || res.status === 429) {
    await res.body?.cancel();
    throw new AuthUnavailable(what, `HTTP ${res.status}`);
  }
  return res;
}

/**
 * The project's JWKS, fetched on first use, kept for ten minutes, and fetched again early when a
 * token names a `kid` it does not hold (at most every 30 seconds, so forged kids cannot make us
 * hammer Auth). A JWKS that cannot be fetched is a 503, never a 401.
 */
export function createJwksCache(url: string, refetchCooldownMs = JWKS_REFETCH_COOLDOWN_MS) {
  let keys: ReturnType<typeof createLocalJWKSet> | null = null;
  let kids = new Set<string>();
  let fetchedAt = 0;
  let attemptedAt = 0;
  let inflight: Promise<void> | null = null;

  function refresh(): Promise<void> {
    inflight ??= (async () => {
      attemptedAt = Date.now();
      try {
        const res = await fetchUpstream(url, {}, "the project's JWKS");
        let jwks: JSONWebKeySet;
        try {
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          jwks = await res.json();
          if (!Array.isArray(jwks?.keys)) throw new Error("no keys array");
        } catch (err) {
          await res.body?.cancel().catch(() => {});
          throw new AuthUnavailable("the project's JWKS", String((err as Error).message ?? err));
        }
        keys = createLocalJWKSet(jwks);
        kids = new Set(jwks.keys.map((key) => key.kid ?? ""));
        fetchedAt = Date.now();
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }

  return async function keyFor(kid: string | undefined) {
    const now = Date.now();
    if (!keys || now - fetchedAt > JWKS_MAX_AGE_MS) {
      await refresh().catch((err) => {
        // A stale set still verifies tokens of keys it holds; with none at all we cannot.
        if (!keys) throw err;
      });
    } else if (kid !== undefined && !kids.has(kid) && now - attemptedAt >= refetchCooldownMs) {
      await refresh();
    }
    return keys!;
  };
}

/** The claims every user token must carry, checked before anything costs a network call. */
function checkUserClaims(payload: JWTPayload, issuer: string): string {
  if (payload.role === "service_role") {
    throw unauthorized("A service_role token is not a caller: send the service key itself");
  }
  if (payload.role === "anon") {
    throw unauthorized("The anon key is not a caller: send a user access token");
  }
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!aud.includes("authenticated")) throw invalidToken();
  if (payload.iss !== issuer) throw invalidToken();
  if (typeof payload.exp !== "number") throw invalidToken();
  const now = Math.floor(Date.now() / 1000);
  if (payload.exp <= now) throw unauthorized("Access token has expired");
  if (typeof payload.nbf === "number" && payload.nbf > now + 30) throw invalidToken();
  if (typeof payload.sub !== "string" || !UUID.test(payload.sub)) throw invalidToken();
  return payload.sub;
}

function describeJoseError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof joseErrors.JWTExpired) return unauthorized("Access token has expired");
  return invalidToken();
}

export function createAuthenticator(
  cfg: Pick<
    Config,
    | "supabaseUrl"
    | "serviceRoleKey"
    | "secretKeys"
    | "clientApiKey"
    | "authIssuer"
    | "legacyJwtSecret"
  >,
  options: { jwksRefetchCooldownMs?: number } = {},
): (req: Request) => Promise<Caller> {
  const jwks = createJwksCache(
    `${cfg.supabaseUrl}/auth/v1/.well-known/jwks.json`,
    options.jwksRefetchCooldownMs,
  );
  const legacySecret = cfg.legacyJwtSecret ? new TextEncoder().encode(cfg.legacyJwtSecret) : null;
  const serviceKeyDigests = [...cfg.secretKeys, cfg.serviceRoleKey]
    .filter((key): key is string => !!key).map(sha256);

  async function verifyAsymmetric(token: string, kid: string | undefined): Promise<void> {
    const options = { algorithms: ASYMMETRIC_ALGORITHMS, requiredClaims: ["exp"] };
    try {
      await jwtVerify(token, await jwks(kid), options);
    } catch (err) {
      throw describeJoseError(err);
    }
  }

  /** As supabase-js `auth.getUser(token)`: Auth verifies signature, expiry and the user. */
  async function verifyWithAuth(token: string, userId: string): Promise<void> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (cfg.clientApiKey) headers.apikey = cfg.clientApiKey;
    const res = await fetchUpstream(`${cfg.supabaseUrl}/auth/v1/user`, { headers }, "Auth");
    if (res.status !== 200) {
      const body = await res.json().catch(() => null) as { msg?: string; message?: string } | null;
      const message = body?.msg ?? body?.message ?? "";
      throw /expired/i.test(message) ? unauthorized("Access token has expired") : invalidToken();
    }
    const user = await res.json().catch(() => null) as { id?: string } | null;
    if (user?.id !== userId) throw invalidToken();
  }

  async function verifyUserToken(token: string): Promise<string> {
    let header, payload;
    try {
      header = decodeProtectedHeader(token);
      payload = decodeJwt(token);
    } catch {
      throw invalidToken();
    }
    // Cheap checks first; they decide nothing alone, since the signature is checked below.
    const userId = checkUserClaims(payload, cfg.authIssuer);
    if (header.alg === "HS256") {
      if (legacySecret) {
        try {
          await jwtVerify(token, legacySecret, { algorithms: ["HS256"], requiredClaims: ["exp"] });
        } catch (err) {
          throw describeJoseError(err);
        }
      } else {
        await verifyWithAuth(token, userId);
      }
    } else if (header.alg && ASYMMETRIC_ALGORITHMS.includes(header.alg)) {
      await verifyAsymmetric(token, header.kid);
    } else {
      throw invalidToken();
    }
    return userId;
  }

  return async function authenticate(req: Request): Promise<Caller> {
    const authorization = req.headers.get("authorization");
    const apikey = req.headers.get("apikey")?.trim() || null;
    let bearer: string | null = null;
    if (authorization !== null) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (match) bearer = match[1];
      // The CLI's gateway copies a legacy JWT from `apikey` into Authorization as it is.
      else if (authorization.trim() !== apikey) {
        throw unauthorized("Authorization header must be 'Bearer <token>'");
      }
    }
    // A JWT in Authorization names the caller; an API key may come in either header.
    const fromApikey = bearer === null;
    const credential = bearer ?? apikey;
    if (!credential) {
      throw unauthorized(
        "Missing credentials: send a user access token ('Authorization: Bearer <token>') or the " +
          "service key ('apikey: <sb_secret_... key>')",
      );
    }
    if (credential.length > MAX_CREDENTIAL_LENGTH) throw invalidToken();
    // A merchant API key is recognised by its prefix and checked by the registration's own SQL.
    if (looksLikeApiKey(credential)) return apiKeyCaller(credential);
    if (matchesAnyKey(credential, serviceKeyDigests)) {
      return {
        kind: "service",
        via: credential.startsWith("sb_secret_") ? "secret_key" : "service_role_key",
      };
    }
    if (credential.startsWith("sb_publishable_")) {
      throw unauthorized("A publishable key is not a caller: send a user access token");
    }
    if (credential.startsWith("sb_")) throw unauthorized("Invalid API key");
    if (fromApikey) {
      throw unauthorized(
        "The apikey header only carries the service key; send user tokens as Bearer",
      );
    }
    return { kind: "user", userId: await verifyUserToken(credential) };
  };
}
