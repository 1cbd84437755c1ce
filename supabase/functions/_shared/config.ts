// Configuration from the environment, read once. Supabase gives every function SUPABASE_URL, the
// keys and the database URL, and nothing else (no JWT secret, no JWKS); the rest are this
// project's own secrets, whose names cannot start with SUPABASE_ (see README, "Configuration").
import type { JSONWebKeySet, JWK } from "jose";

export interface Config {
  supabaseUrl: string;
  /** Key the functions use to reach PostgREST as the service role (an `sb_secret_` one if any). */
  serviceKey: string;
  /** The legacy `service_role` JWT (SUPABASE_SERVICE_ROLE_KEY), when the project still has it. */
  serviceRoleKey: string | null;
  /** Accepted new-style secret keys (`sb_secret_...`), from SUPABASE_SECRET_KEYS. */
  secretKeys: string[];
  /** The `apikey` the functions present to Auth (a publishable key, else the anon key). */
  clientApiKey: string | null;
  /** `iss` of user access tokens: `<SUPABASE_URL>/auth/v1`. */
  authIssuer: string;
  /** LEGACY_JWT_SECRET: verifies HS256 user tokens locally; without it Auth is asked. */
  legacyJwtSecret: string | null;
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
  greenhouse: GreenhouseConfig;
}

export interface GreenhouseConfig {
  /** AES-256-GCM key (GREENHOUSE_CALLBACK_KEY) that keeps the callbacks' API keys; null: none. */
  callbackKey: Uint8Array | null;
  /** Where completion callbacks may go: `scheme://host[:port]`, as Greenhouse's send_test names. */
  callbackOrigins: string[];
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
  /** RESEND_WEBHOOK_SECRET (`whsec_...`): verifies Resend's delivery webhooks. */
  webhookSecret: string | null;
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

/** 32 bytes in base64 (GREENHOUSE_CALLBACK_KEY), or null when unset. */
function aesKey(name: string): Uint8Array | null {
  const raw = env(name);
  if (raw === undefined) return null;
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(raw), (c) => c.charCodeAt(0));
  } catch {
    bytes = new Uint8Array();
  }
  if (bytes.length !== 32) throw new ConfigError(`${name} must be 32 bytes in base64`);
  return bytes;
}

/** Comma-separated http(s) origins (GREENHOUSE_CALLBACK_ORIGINS). */
function origins(name: string, fallback: string): string[] {
  return (env(name) ?? fallback).split(",").map((origin) => origin.trim()).filter(Boolean)
    .map((origin) => {
      const url = URL.canParse(origin) ? new URL(origin) : null;
      if (!url || !/^https?:$/.test(url.protocol) || url.origin !== origin.replace(/\/+$/, "")) {
        throw new ConfigError(`${name} must list origins like https://app.greenhouse.io`);
      }
      return url.origin;
    });
}

/** The string values of a JSON map of keys (SUPABASE_SECRET_KEYS, SUPABASE_PUBLISHABLE_KEYS). */
function keyMap(name: string, prefix: string): string[] {
  return Object.values(json<Record<string, unknown>>(name) ?? {})
    .filter((key): key is string => typeof key === "string" && key.startsWith(prefix));
}

/**
 * Interview tokens are signed with Ed25519 only: the Edge Runtime's node:crypto ignores
 * `dsaEncoding: "ieee-p1363"`, so an ES256 signature made there is DER, which JOSE verifiers
 * reject; Ed25519 signatures have one encoding (and are deterministic, so retries re-sign the
 * same bytes).
 */
function ed25519SigningKey(jwk: JWK | null): JWK {
  if (!jwk?.kid || !jwk.d) {
    throw new ConfigError("INTERVIEW_TOKEN_SIGNING_KEY must be a private JWK with a kid");
  }
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || (jwk.alg && jwk.alg !== "EdDSA")) {
    throw new ConfigError(
      "INTERVIEW_TOKEN_SIGNING_KEY must be an Ed25519 key (kty OKP, crv Ed25519, alg EdDSA); " +
        `got kty ${jwk.kty}, crv ${jwk.crv ?? "-"}, alg ${jwk.alg ?? "-"}`,
    );
  }
  return jwk;
}

export function loadConfig(): Config {
  const supabaseUrl = required("SUPABASE_URL").replace(/\/+$/, "");
  const secretKeys = keyMap("SUPABASE_SECRET_KEYS", "sb_secret_");
  const serviceRoleKey = env("SUPABASE_SERVICE_ROLE_KEY") ?? null;
  // Legacy keys can be switched off in a project; the new secret keys are the ones to keep using.
  const serviceKey = secretKeys[0] ?? serviceRoleKey;
  if (!serviceKey) {
    throw new ConfigError("SUPABASE_SECRET_KEYS or SUPABASE_SERVICE_ROLE_KEY must be set");
  }
  const signingKey = ed25519SigningKey(json<JWK>("INTERVIEW_TOKEN_SIGNING_KEY"));
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
    serviceRoleKey,
    secretKeys,
    clientApiKey: keyMap("SUPABASE_PUBLISHABLE_KEYS", "sb_publishable_")[0] ??
      env("SUPABASE_ANON_KEY") ?? null,
    authIssuer: `${supabaseUrl}/auth/v1`,
    legacyJwtSecret: env("LEGACY_JWT_SECRET") ?? null,
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
      webhookSecret: env("RESEND_WEBHOOK_SECRET") ?? null,
    },
    greenhouse: {
      callbackKey: aesKey("GREENHOUSE_CALLBACK_KEY"),
      callbackOrigins: origins("GREENHOUSE_CALLBACK_ORIGINS", "https://app.greenhouse.io"),
    },
  };
}

let cached: Config | undefined;

export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
