// Starts and stops a whole local stack: a fresh database with the schema and demo data, PostgREST,
// the functions, and the gateway that makes them one Supabase-like API. Whatever fails half-way
// is torn down again.
import { createHash } from "node:crypto";
import postgres from "postgres";
import { createDemoApiKey } from "./api_keys.ts";
import { startFunctions } from "./functions_server.ts";
import { type GatewayFaults, type GatewayStats, startGateway } from "./gateway.ts";
import { createInboxState, startMailInbox } from "./mail_inbox.ts";
import { generateStackKeys, postgrestJwks, publicJwk, type StackKeys } from "./keys.ts";
import { migrate } from "./migrate.ts";
import { assertPortFree, freePort, waitFor } from "./ports.ts";
import { ownerUrl, provisionDatabase } from "./postgres.ts";
import { startPostgrest } from "./postgrest.ts";

export interface StackOptions {
  /** Names the database and log files: "local", "test", "bench". */
  label: string;
  /** Gateway port; 0 picks a free one. */
  apiPort: number;
  /** Mail inbox (Resend stand-in) port; 0 picks a free one. */
  mailPort: number;
  /** How long the inbox waits before each delivery webhook it sends (default 200 ms). */
  mailWebhookDelayMs?: number;
  /** How often the stack runs the email dispatch; 0 never (tests run it themselves). */
  dispatchIntervalMs: number;
  /** Folder for the stack's logs. */
  logDir: string;
  /** Extra environment for the functions (overrides the defaults). */
  functionEnv?: Record<string, string>;
  /** Extra Deno flags for the function processes (e.g. --cpu-prof when profiling). */
  functionFlags?: string[];
  /** Benchmark only: more functions behind the gateway, name to entry file (never deployed). */
  extraFunctions?: Record<string, string>;
  /**
   * Test stacks only: the gateway also answers POST /_stack/<postgrest|functions|mail>/stop and
   * /start (for fault tests; stopping the functions kills them as a crash would),
   * POST /_stack/rest/lose-response?path=/rpc/<fn>, and GET /_stack/stats.
   */
  control?: boolean;
}

export interface StackInfo {
  API_URL: string;
  FUNCTIONS_URL: string;
  REST_URL: string;
  JWKS_URL: string;
  DB_URL: string;
  DB_SOURCE: string;
  JWT_SECRET: string;
  ANON_KEY: string;
  SERVICE_ROLE_KEY: string;
  PUBLISHABLE_KEY: string;
  SECRET_KEY: string;
  /** A merchant API key of Demo Merchant, created by its owner (stack/api_keys.ts). */
  DEMO_API_KEY: string;
  MAILPIT_URL: string;
  LOG_DIR: string;
}

export interface Stack {
  info: StackInfo;
  keys: StackKeys;
  /** Requests that passed the gateway so far. */
  stats: GatewayStats;
  /** The process serving the registration function, for CPU and memory readings. */
  functionsPid: number;
  /** Each function's process, by name. */
  functionPids: Record<string, number>;
  stop(): Promise<void>;
}

/** The sender domain the local Resend account has verified. */
export const EMAIL_DOMAIN = "mail.jobmojito.test";

/** What the platform itself gives every function; nothing else may start with SUPABASE_. */
export const PLATFORM_VARIABLES = [
  "SUPABASE_URL",
  "SUPABASE_ANON_KEY",
  "SUPABASE_SERVICE_ROLE_KEY",
  "SUPABASE_DB_URL",
  "SUPABASE_PUBLISHABLE_KEYS",
  "SUPABASE_SECRET_KEYS",
] as const;

/**
 * The functions' environment: exactly what a Supabase project gives them (no JWT secret, no
 * JWKS), plus this project's own secrets, as `supabase secrets set` would store them.
 */
export function functionEnvironment(
  info: Pick<StackInfo, "API_URL" | "DB_URL" | "MAILPIT_URL">,
  keys: StackKeys,
): Record<string, string> {
  return {
    SUPABASE_URL: info.API_URL,
    SUPABASE_ANON_KEY: keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
    // As on the platform: the project owner (not a superuser), never the server's superuser.
    SUPABASE_DB_URL: ownerUrl(info.DB_URL),
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishableKey }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
    INTERVIEW_TOKEN_SIGNING_KEY: JSON.stringify(keys.interviewSigningKey),
    INTERVIEW_TOKEN_PUBLIC_KEYS: JSON.stringify({ keys: [publicJwk(keys.interviewSigningKey)] }),
    INTERVIEW_FRONTEND_URL: "http://localhost:3000",
    RESEND_API_KEY: keys.resendApiKey,
    RESEND_BASE_URL: info.MAILPIT_URL,
    RESEND_WEBHOOK_SECRET: keys.resendWebhookSecret,
    EMAIL_FROM_ADDRESS: `invitations@${EMAIL_DOMAIN}`,
    // A stack's own callback key, from its secret key; Greenhouse, and receivers on this machine.
    GREENHOUSE_CALLBACK_KEY: createHash("sha256").update(`greenhouse-callback:${keys.secretKey}`)
      .digest("base64"),
    GREENHOUSE_CALLBACK_ORIGINS: "https://app.greenhouse.io,http://127.0.0.1",
  };
}

/** Runs the email dispatch on a timer, as pg_cron does on Supabase; returns its stop. */
function runDispatchTimer(info: StackInfo, intervalMs: number): () => Promise<void> {
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = fetch(`${info.FUNCTIONS_URL}/job-interview-email-dispatch`, {
      method: "POST",
      headers: { apikey: info.SECRET_KEY, "content-type": "application/json" },
      body: "{}",
    }).then((res) => res.body?.cancel()).catch(() => {}).finally(() => running = null);
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/**
 * Removes what retention lets go (expired token records, old outbox rows, idempotency keys,
 * rate-limit windows), as pg_cron does on Supabase. A call is its own statement: the procedure
 * commits after each batch.
 */
function runPurgeTimer(databaseUrl: string, intervalMs: number): () => Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = sql.unsafe("call private.purge_expired_rows()")
      .then(() => sql.unsafe("select private.fold_invitation_draws()")).catch(() => {})
      .finally(() => running = null);
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
    await sql.end();
  };
}

function openLog(path: string): Promise<Deno.FsFile> {
  return Deno.open(path, { create: true, append: true });
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const apiPort = options.apiPort || freePort();
  assertPortFree(apiPort, "API gateway");
  const mailPort = options.mailPort || freePort();
  assertPortFree(mailPort, "mail inbox");
  await Deno.mkdir(options.logDir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
  };
  try {
    const keys = await generateStackKeys();
    const db = await provisionDatabase(options.label);
    stops.push(db.stop);
    await migrate(db.url);
    const demoApiKey = await createDemoApiKey(db.url);

    const postgrestLog = await openLog(`${options.logDir}/postgrest.log`);
    // A fixed port, so that PostgREST can be stopped and started again behind the gateway.
    const postgrestPort = freePort();
    const launchPostgrest = () =>
      startPostgrest(db.url, postgrestJwks(keys), postgrestLog, postgrestPort);
    let postgrest: Awaited<ReturnType<typeof startPostgrest>> | null = await launchPostgrest();
    const postgrestUrl = postgrest.url;
    stops.push(async () => {
      await postgrest?.stop();
      postgrestLog.close();
    });

    // The inbox's state outlives a stop, so that a fault test can take it down and back up.
    const inboxState = createInboxState();
    const launchInbox = () =>
      startMailInbox({
        port: mailPort,
        apiKey: keys.resendApiKey,
        verifiedDomains: [EMAIL_DOMAIN],
        ownerEmail: `owner@${EMAIL_DOMAIN}`,
        // Resend posts its events to the project's function through the gateway, signed.
        webhook: {
          url: `http://127.0.0.1:${apiPort}/functions/v1/job-interview-email-events`,
          secret: keys.resendWebhookSecret,
          delayMs: options.mailWebhookDelayMs ?? 200,
        },
      }, inboxState);
    let inbox: Deno.HttpServer | null = launchInbox();
    const stopInbox = async () => {
      // Held calls would keep the server from shutting down.
      for (const go of inboxState.held.splice(0)) go();
      for (const timer of inboxState.webhooks.timers) clearTimeout(timer);
      inboxState.webhooks.timers.clear();
      await inbox?.shutdown();
      inbox = null;
    };
    stops.push(stopInbox);

    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const info: StackInfo = {
      API_URL: apiUrl,
      FUNCTIONS_URL: `${apiUrl}/functions/v1`,
      REST_URL: `${apiUrl}/rest/v1`,
      JWKS_URL: `${apiUrl}/auth/v1/.well-known/jwks.json`,
      DB_URL: db.url,
      DB_SOURCE: db.source,
      JWT_SECRET: keys.jwtSecret,
      ANON_KEY: keys.anonKey,
      SERVICE_ROLE_KEY: keys.serviceRoleKey,
      PUBLISHABLE_KEY: keys.publishableKey,
      SECRET_KEY: keys.secretKey,
      DEMO_API_KEY: demoApiKey,
      MAILPIT_URL: `http://127.0.0.1:${mailPort}`,
      LOG_DIR: options.logDir,
    };

    const functions = await startFunctions(
      { ...functionEnvironment(info, keys), ...options.functionEnv },
      `${options.logDir}/functions.log`,
      options.functionFlags,
      options.extraFunctions,
    );
    stops.push(() => functions.stop());

    const stats: GatewayStats = {
      restRequests: 0,
      functionRequests: 0,
      functionPids: functions.pids,
    };
    const faults: GatewayFaults = { loseResponses: new Map() };
    // The gateway's own connection, for GET /auth/v1/user (what Supabase Auth would look up).
    const authSql = postgres(db.url, { max: 2, onnotice: () => {} });
    stops.push(() => authSql.end());
    const gateway = startGateway({
      port: apiPort,
      keys,
      targets: { postgrest: postgrestUrl, functions: functions.urls },
      sql: authSql,
      stats,
      control: options.control
        ? {
          "POST /_stack/postgrest/stop": async () => {
            await postgrest?.stop();
            postgrest = null;
          },
          "POST /_stack/postgrest/start": async () => {
            postgrest ??= await launchPostgrest();
          },
          // A crash: each function process dies and, as on the platform, a fresh one boots.
          "POST /_stack/functions/stop": () => functions.kill(),
          "POST /_stack/functions/start": () => functions.ready(),
          "POST /_stack/mail/stop": stopInbox,
          "POST /_stack/mail/start": () => {
            inbox ??= launchInbox();
            return Promise.resolve();
          },
          // ?path=/rpc/<fn>: the next response from that PostgREST path is lost after it ran.
          "POST /_stack/rest/lose-response": (url) => {
            const path = url.searchParams.get("path") ?? "";
            faults.loseResponses.set(path, (faults.loseResponses.get(path) ?? 0) + 1);
            return Promise.resolve();
          },
        }
        : undefined,
      faults,
    });
    stops.push(() => gateway.shutdown());
    await waitFor("the gateway", async () => {
      const res = await fetch(`${apiUrl}/health`).catch(() => null);
      await res?.body?.cancel();
      return res?.ok ?? false;
    });
    if (options.dispatchIntervalMs > 0) {
      stops.push(runDispatchTimer(info, options.dispatchIntervalMs));
      stops.push(runPurgeTimer(ownerUrl(info.DB_URL), 60_000));
    }
    return {
      info,
      keys,
      stats,
      functionsPid: functions.pids["job-interview-register-users"],
      functionPids: functions.pids,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
