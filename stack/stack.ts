// Starts and stops a whole local stack: a fresh database with the schema and demo data, PostgREST,
// the functions, and the gateway that makes them one Supabase-like API. Whatever fails half-way
// is torn down again.
import postgres from "postgres";
import { createDemoApiKey } from "./api_keys.ts";
import { type GatewayStats, startGateway } from "./gateway.ts";
import { startMailInbox } from "./mail_inbox.ts";
import { generateStackKeys, postgrestJwks, publicJwk, type StackKeys } from "./keys.ts";
import { migrate } from "./migrate.ts";
import { assertPortFree, freePort, pipeToLog, waitFor } from "./ports.ts";
import { ownerUrl, provisionDatabase } from "./postgres.ts";
import { startPostgrest } from "./postgrest.ts";

export interface StackOptions {
  /** Names the database and log files: "local", "test", "bench". */
  label: string;
  /** Gateway port; 0 picks a free one. */
  apiPort: number;
  /** Mail inbox (Resend stand-in) port; 0 picks a free one. */
  mailPort: number;
  /** How often the stack runs the email dispatch; 0 never (tests run it themselves). */
  dispatchIntervalMs: number;
  /** Folder for the stack's logs. */
  logDir: string;
  /** Extra environment for the functions (overrides the defaults). */
  functionEnv?: Record<string, string>;
  /** Extra Deno flags for the functions process (e.g. --cpu-prof when profiling). */
  functionFlags?: string[];
  /**
   * Test stacks only: the gateway also answers POST /_stack/postgrest/stop and /start (for
   * fault tests) and GET /_stack/stats.
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
  /** The process serving the functions, for CPU and memory readings. */
  functionsPid: number;
  stop(): Promise<void>;
}

export function functionEnvironment(
  info: Pick<StackInfo, "API_URL" | "DB_URL" | "MAILPIT_URL">,
  keys: StackKeys,
): Record<string, string> {
  return {
    SUPABASE_URL: info.API_URL,
    SUPABASE_ANON_KEY: keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishableKey }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
    SUPABASE_JWT_SECRET: keys.jwtSecret,
    SUPABASE_JWKS: JSON.stringify(keys.authJwks),
    SUPABASE_DB_URL: info.DB_URL,
    AUTH_JWT_ISSUER: `${info.API_URL}/auth/v1`,
    INTERVIEW_TOKEN_SIGNING_KEY: JSON.stringify(keys.interviewSigningKey),
    INTERVIEW_TOKEN_PUBLIC_KEYS: JSON.stringify({ keys: [publicJwk(keys.interviewSigningKey)] }),
    INTERVIEW_FRONTEND_URL: "http://localhost:3000",
    RESEND_API_KEY: keys.resendApiKey,
    RESEND_BASE_URL: info.MAILPIT_URL,
    EMAIL_FROM_ADDRESS: "invitations@mail.jobmojito.test",
  };
}

/** Runs the email dispatch on a timer, as pg_cron does on Supabase; returns its stop. */
function runDispatchTimer(info: StackInfo, intervalMs: number): () => Promise<void> {
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = fetch(`${info.FUNCTIONS_URL}/job-interview-email-dispatch`, {
      method: "POST",
      headers: { authorization: `Bearer ${info.SECRET_KEY}`, "content-type": "application/json" },
      body: "{}",
    }).then((res) => res.body?.cancel()).catch(() => {}).finally(() => running = null);
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/**
 * Purges expired idempotency keys and old rate-limit windows, as pg_cron does on Supabase, and as
 * the role that scheduled the job there: the database's owner.
 */
function runPurgeTimer(databaseUrl: string, intervalMs: number): () => Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const timer = setInterval(() => {
    sql`select public.purge_request_admission()`.catch(() => {});
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await sql.end();
  };
}

export async function startFunctions(
  env: Record<string, string>,
  log: Deno.FsFile,
  flags: string[] = [],
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      ...flags,
      new URL("./functions_server.ts", import.meta.url).pathname,
      String(port),
    ],
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  pipeToLog(child, log);
  let exited = false;
  child.status.then(() => exited = true);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor("the functions server", async () => {
      if (exited) throw new Error("the functions server exited during start-up; see the stack log");
      try {
        const res = await fetch(`${url}/_health`);
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    }, 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid: child.pid, stop };
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

    const inbox = startMailInbox({ port: mailPort, apiKey: keys.resendApiKey });
    stops.push(() => inbox.shutdown());

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

    const functionsLog = await openLog(`${options.logDir}/functions.log`);
    const functions = await startFunctions(
      { ...functionEnvironment(info, keys), ...options.functionEnv },
      functionsLog,
      options.functionFlags,
    );
    stops.push(async () => {
      await functions.stop();
      functionsLog.close();
    });

    const stats: GatewayStats = { restRequests: 0, functionRequests: 0 };
    const gateway = startGateway(
      apiPort,
      keys,
      { postgrest: postgrestUrl, functions: functions.url },
      stats,
      options.control
        ? {
          "POST /_stack/postgrest/stop": async () => {
            await postgrest?.stop();
            postgrest = null;
          },
          "POST /_stack/postgrest/start": async () => {
            postgrest ??= await launchPostgrest();
          },
        }
        : undefined,
    );
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
    return { info, keys, stats, functionsPid: functions.pid, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
