// `GET /auth/v1/user` as Supabase Auth answers it, for what the functions use (supabase-js
// `auth.getUser(token)`): the token verified with the key its `kid` names (the auth ES256 key) or,
// for HS256 without a known kid, the project's JWT secret; `exp` and `nbf` when present; a `sub`
// that is a UUID of a user in auth.users (of the default instance, not deleted, not banned); a
// `session_id`, when present, of a session that exists. Errors carry Auth's statuses, codes and
// both of its body shapes (the initial one, and the one for `X-Supabase-Api-Version:
// 2024-01-01`, which supabase-js sends).
import type postgres from "postgres";
import { decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify } from "jose";
import type { StackKeys } from "./keys.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NIL_UUID = "00000000-0000-0000-0000-000000000000";

class AuthError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function errorResponse(req: Request, err: AuthError): Response {
  const versioned = /^\d{4}-\d{2}-\d{2}$/.test(req.headers.get("x-supabase-api-version") ?? "");
  const body = versioned
    ? { code: err.code, message: err.message }
    : { code: err.status, error_code: err.code, msg: err.message };
  const headers: Record<string, string> = { "x-sb-error-code": err.code };
  if (versioned) headers["x-supabase-api-version"] = "2024-01-01";
  return Response.json(body, { status: err.status, headers });
}

async function verifiedClaims(token: string, keys: StackKeys) {
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch (err) {
    throw new AuthError(403, "bad_jwt", `invalid JWT: unable to parse or verify signature, ${err}`);
  }
  let key: CryptoKey | Uint8Array;
  let alg: string;
  if (header.kid !== undefined && header.kid === keys.authSigningKey.kid) {
    alg = "ES256";
    const { d: _d, ...publicKey } = keys.authSigningKey;
    key = await importJWK(publicKey, alg) as CryptoKey;
  } else if (header.alg === "HS256") {
    alg = "HS256";
    key = new TextEncoder().encode(keys.jwtSecret);
  } else {
    throw new AuthError(
      403,
      "bad_jwt",
      `invalid JWT: unable to parse or verify signature, unrecognized JWT kid ${header.kid} ` +
        `for algorithm ${header.alg}`,
    );
  }
  try {
    return (await jwtVerify(token, key, { algorithms: [alg] })).payload;
  } catch (err) {
    const reason = err instanceof joseErrors.JWTExpired
      ? "token has invalid claims: token is expired"
      : String(err instanceof Error ? err.message : err);
    throw new AuthError(
      403,
      "bad_jwt",
      `invalid JWT: unable to parse or verify signature, ${reason}`,
    );
  }
}

async function loadUser(sql: postgres.Sql, claims: Record<string, unknown>) {
  const sub = claims.sub;
  if (typeof sub !== "string" || sub === "") {
    throw new AuthError(403, "bad_jwt", "invalid claim: missing sub claim");
  }
  if (!UUID.test(sub)) {
    throw new AuthError(400, "bad_jwt", "invalid claim: sub claim must be a UUID");
  }
  const [row] = await sql<{ user: Record<string, unknown> }[]>`
    select to_jsonb(u) as user from auth.users u where u.id = ${sub}`;
  const user = row?.user;
  // Auth finds users of the default instance only; columns a bootstrap lacks are not checked.
  const notFound = !user ||
    ("instance_id" in user && user.instance_id !== NIL_UUID) ||
    ("deleted_at" in user && user.deleted_at !== null);
  if (notFound) {
    throw new AuthError(403, "user_not_found", "User from sub claim in JWT does not exist");
  }
  const sessionId = claims.session_id;
  if (typeof sessionId === "string" && sessionId !== "" && sessionId !== NIL_UUID) {
    if (!UUID.test(sessionId)) {
      throw new AuthError(403, "bad_jwt", "invalid claim: session_id claim must be a UUID");
    }
    const [session] = await sql`
      select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'auth' and c.relname = 'sessions'`;
    const found = session &&
      (await sql`select 1 from auth.sessions where id = ${sessionId} and user_id = ${sub}`).length;
    if (!found) {
      throw new AuthError(
        403,
        "session_not_found",
        "Session from session_id claim in JWT does not exist",
      );
    }
  }
  if (
    typeof user.banned_until === "string" && new Date(user.banned_until).getTime() > Date.now()
  ) {
    throw new AuthError(403, "user_banned", "User is banned");
  }
  return user;
}

export async function authUser(req: Request, keys: StackKeys, sql: postgres.Sql) {
  try {
    const token = /^bearer (\S+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
    if (!token) {
      throw new AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token");
    }
    const claims = await verifiedClaims(token, keys);
    const user = await loadUser(sql, claims);
    return Response.json({
      id: user.id,
      aud: user.aud ?? "",
      role: user.role ?? "",
      email: user.email ?? "",
      email_confirmed_at: user.email_confirmed_at ?? undefined,
      phone: user.phone ?? "",
      app_metadata: user.raw_app_meta_data ?? {},
      user_metadata: user.raw_user_meta_data ?? {},
      identities: [],
      created_at: user.created_at,
      updated_at: user.updated_at,
      is_anonymous: user.is_anonymous ?? false,
    });
  } catch (err) {
    if (err instanceof AuthError) return errorResponse(req, err);
    console.error(`GET /auth/v1/user failed: ${err}`);
    return errorResponse(
      req,
      new AuthError(500, "unexpected_failure", "Unexpected failure, please check server logs"),
    );
  }
}
