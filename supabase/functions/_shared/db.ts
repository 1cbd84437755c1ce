// The functions reach the database only through PostgREST with the service role, exactly as
// supabase-js does in production. A fault there is the caller's 503, never a half-done job.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { Config } from "./config.ts";
import { HttpError } from "./http.ts";
import { logEvent } from "./log.ts";

export function createServiceClient(cfg: Config): SupabaseClient {
  return createClient(cfg.supabaseUrl, cfg.serviceKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { headers: { "x-client-info": "job-interview-functions" } },
  });
}

/** Database errors that mean "not now" rather than "never": connection, shutdown, time-out. */
function isTransient(status: number, code: string | undefined): boolean {
  if (status === 0 || status === 502 || status === 503 || status === 504) return true;
  if (!code) return false;
  return /^PGRST00[0-3]$/.test(code) || code === "57014" || code.startsWith("57P") ||
    code.startsWith("08") || code === "40001" || code === "40P01" || code === "53300" ||
    code === "55P03";
}

const UNAVAILABLE = "The database is unavailable; nothing was changed. Retry later.";
const UNKNOWN = "The database did not answer in time; the request may or may not have been " +
  "applied. Retry it (with the same Idempotency-Key, if it had one).";

/** Calls a SQL function in one round trip, mapping failures to 503 (transient) or 500. */
export async function callRpc<T>(
  client: SupabaseClient,
  fn: string,
  args: Record<string, unknown>,
  timeoutMs: number,
): Promise<T> {
  let result;
  try {
    result = await client.rpc(fn, args).abortSignal(AbortSignal.timeout(timeoutMs));
  } catch (err) {
    logEvent("warn", { msg: "rpc failed", rpc: fn, error: String(err) });
    throw new HttpError(503, /abort|time/i.test(String(err)) ? UNKNOWN : UNAVAILABLE);
  }
  const { data, error, status } = result;
  if (error) {
    const message = error.message ?? "";
    if (isTransient(status, error.code) || /abort|fetch|timed? ?out/i.test(message)) {
      logEvent("warn", { msg: "rpc failed", rpc: fn, status, code: error.code, error: message });
      // Our own time-out leaves the outcome open; an error the database reported means its
      // transaction rolled back.
      const ours = status === 0 && /abort|timed? ?out/i.test(message);
      throw new HttpError(503, ours ? UNKNOWN : UNAVAILABLE);
    }
    throw new Error(`rpc ${fn} failed (${status} ${error.code}): ${message}`);
  }
  return data as T;
}
