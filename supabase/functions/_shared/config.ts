// Configuration from the environment, read once. Supabase provides SUPABASE_URL and the keys to
// every function; the rest are this project's secrets (see README, "Configuration").
import type { JSONWebKeySet, JWK } from "jose";

export interface Config {
  supabaseUrl: string;
  /** Key the functions use to reach PostgREST as the service role. */
  serviceKey: string;
  /** Legacy HS256 JWT secret, when the project still has one. */
  jwtSecret: string | null;
  /** Public keys of user access tokens; null means fetch the project's JWKS endpoint. */
  jwks: JSONWebKeySet | null;
  /** Required `iss` of user access tokens, when set. */
  authIssuer: string | null;
  /** Accepted new-style secret keys (`sb_secret_...`). */
  secretKeys: string[];
  interviewSigningKey: JWK;
  /** Public keys that verify interview tokens: the signing key's and earlier ones. */
  interviewPublicKeys: JSONWebKeySet;
  interviewTokenIssuer: string;
  interviewTokenAudience: string;
  interviewTokenTtlSeconds: number;
  interviewFrontendUrl: string;
  maxUsersPerRequest: number;
  maxBodyBytes: number;
  dbTimeoutMs: number;
  /** Registration requests a minute per merchant, unless the merchant has its own limit. */
  rateLimitPerMinute: number;
  idempotencyTtlSeconds: number;
  email: EmailConfig;
}

export interface EmailConfig {
  /** Resend API key; without one, invitations wait in the outbox. */
  apiKey: string | null;
  /** Resend's API base URL; the local stack points it at its inbox. */
  baseUrl: string | undefined;
  fromAddress: string;
  /** How long the register endpoint waits for its emails before answering "queued". */
  sendBudgetMs: number;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  leaseMs: number;
}

/**
 * The registration statement's own time-out (`set statement_timeout` of register_interview_users,
 * which PostgREST applies to the request's transaction). The endpoint waits longer
 * (DB_TIMEOUT_MS), so a registration that runs out of time is stopped, and rolled back, by
 * PostgreSQL: a 503 then truthfully says that nothing was changed.
 */
export const REGISTRATION_STATEMENT_TIMEOUT_MS = 5_000;

export class ConfigError extends Error {}

function env(name: string): string | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? undefined : value;
}

function required(name: string): string {
  const value = env(name);
  if (!value) throw new ConfigError(`${name} is not set`);
  return value;
}

function integer(name: string, fallback: number, min: number, max: number): number {
  const raw = env(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function json<T>(name: string): T | null {
  const raw = env(name);
  if (raw === undefined) return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new ConfigError(`${name} is not valid JSON`);
  }
}

/** The default interview front end, checked once: links are built from it after a commit. */
function frontendUrl(): string {
  const url = (env("INTERVIEW_FRONTEND_URL") ?? "https://cool.jobmojito.com").replace(/\/+$/, "");
  if (!URL.canParse(url) || !/^https?:/.test(url)) {
    throw new ConfigError("INTERVIEW_FRONTEND_URL must be an http(s) URL");
  }
  return url;
}

export function loadConfig(): Config {
  const supabaseUrl = required("SUPABASE_URL").replace(/\/+$/, "");
  const secretKeys = Object.values(json<Record<string, string>>("SUPABASE_SECRET_KEYS") ?? {})
    .filter((key) => typeof key === "string" && key.startsWith("sb_secret_"));
  const serviceKey = env("SUPABASE_SERVICE_ROLE_KEY") ?? secretKeys[0];
  if (!serviceKey) {
    throw new ConfigError("SUPABASE_SERVICE_ROLE_KEY or SUPABASE_SECRET_KEYS must be set");
  }
  const signingKey = json<JWK>("INTERVIEW_TOKEN_SIGNING_KEY");
  if (!signingKey?.kid || !signingKey.d) {
    throw new ConfigError("INTERVIEW_TOKEN_SIGNING_KEY must be a private JWK with a kid");
  }
  const jwks = json<JSONWebKeySet>("SUPABASE_JWKS");
  // Only public members are published, even if a private key was pasted by mistake.
  const publicPart = ({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...key }: JWK) => key;
  const previousKeys = (json<JSONWebKeySet>("INTERVIEW_TOKEN_PUBLIC_KEYS")?.keys ?? []) as JWK[];
  const interviewPublicKeys = {
    keys: [signingKey, ...previousKeys.filter((key) => key.kid && key.kid !== signingKey.kid)]
      .map(publicPart),
  } as JSONWebKeySet;
  return {
    supabaseUrl,
    serviceKey,
    jwtSecret: env("SUPABASE_JWT_SECRET") ?? null,
    jwks: jwks && Array.isArray(jwks.keys) ? jwks : null,
    authIssuer: env("AUTH_JWT_ISSUER") ?? null,
    secretKeys,
    interviewSigningKey: signingKey,
    interviewPublicKeys,
    interviewTokenIssuer: env("INTERVIEW_TOKEN_ISSUER") ?? `${supabaseUrl}/functions/v1`,
    interviewTokenAudience: env("INTERVIEW_TOKEN_AUDIENCE") ?? "job-interview",
    interviewTokenTtlSeconds: integer(
      "INTERVIEW_TOKEN_TTL_SECONDS",
      30 * 24 * 3600,
      60,
      366 * 24 * 3600,
    ),
    interviewFrontendUrl: frontendUrl(),
    maxUsersPerRequest: integer("REGISTER_MAX_USERS", 1000, 1, 10_000),
    maxBodyBytes: integer("REGISTER_MAX_BODY_BYTES", 1024 * 1024, 1024, 16 * 1024 * 1024),
    // Above the registration statement's time-out, below the platform's 8 s statement timeout.
    dbTimeoutMs: integer("DB_TIMEOUT_MS", 6_500, REGISTRATION_STATEMENT_TIMEOUT_MS + 500, 7_900),
    rateLimitPerMinute: integer("RATE_LIMIT_PER_MINUTE", 600, 1, 1_000_000),
    idempotencyTtlSeconds: integer("IDEMPOTENCY_TTL_SECONDS", 86_400, 60, 7 * 86_400),
    email: {
      apiKey: env("RESEND_API_KEY") ?? null,
      baseUrl: env("RESEND_BASE_URL")?.replace(/\/+$/, ""),
      fromAddress: env("EMAIL_FROM_ADDRESS") ?? "invitations@jobmojito.com",
      sendBudgetMs: integer("EMAIL_SEND_BUDGET_MS", 2_500, 0, 60_000),
      timeoutMs: integer("EMAIL_SEND_TIMEOUT_MS", 10_000, 100, 60_000),
      maxAttempts: integer("EMAIL_MAX_ATTEMPTS", 8, 1, 50),
      retryBaseMs: integer("EMAIL_RETRY_BASE_MS", 30_000, 10, 3_600_000),
      leaseMs: integer("EMAIL_LEASE_MS", 120_000, 1_000, 3_600_000),
    },
  };
}

let cached: Config | undefined;

export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
