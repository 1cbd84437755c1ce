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

/**
 * Whether a transient failure proves that the call changed nothing: PostgreSQL reported an error
 * for it (so its transaction rolled back), PostgREST never ran it (no connection, no schema
 * cache, no pool slot), or the connection was refused before anything was sent. Anything else
 * (our own time-out, a broken connection, a gateway's 502 or 504) may have come after a commit.
 */
function provesNothingChanged(status: number, code: string | undefined, message: string) {
  if (code && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith("08")) return true;
  if (code === "PGRST000" || code === "PGRST002" || code === "PGRST003") return true;
  return status === 0 && /connection refused|ECONNREFUSED/i.test(message);
}

/** 503 codes: whether the caller may take "nothing changed" for granted. */
export const UNAVAILABLE_CODE = "database_unavailable";
export const UNKNOWN_CODE = "outcome_unknown";

const UNAVAILABLE = "The database is unavailable; nothing was changed. Retry later.";
const UNKNOWN = "The database did not confirm in time; the request may have succeeded. Retry it " +
  "with the same Idempotency-Key, if it had one.";

const unavailable = (nothingChanged: boolean) =>
  nothingChanged
    ? new HttpError(503, UNAVAILABLE, undefined, {}, UNAVAILABLE_CODE)
    : new HttpError(503, UNKNOWN, undefined, {}, UNKNOWN_CODE);

/**
 * Calls a SQL function in one round trip, mapping failures to 503 (transient) or 500. A 503
 * carries `database_unavailable` when nothing was changed, `outcome_unknown` when that cannot
 * be known.
 */
export async function callRpc<T>(
  client: SupabaseClient,
  fn: string,
  args: Record<string, unknown>,
  timeoutMs: number,
): Promise<T> {
  let result;
  // A timer cleared when the call settles: AbortSignal.timeout's timer would outlive every call
  // and fire, building an exception, for each one seconds later.
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException("Signal timed out.", "TimeoutError")),
    timeoutMs,
  );
  try {
    result = await client.rpc(fn, args).abortSignal(controller.signal);
  } catch (err) {
    logEvent("warn", { msg: "rpc failed", rpc: fn, error: String(err) });
    throw unavailable(provesNothingChanged(0, undefined, String(err)));
  } finally {
    clearTimeout(timer);
  }
  const { data, error, status } = result;
  if (error) {
    const message = error.message ?? "";
    if (isTransient(status, error.code) || /abort|fetch|timed? ?out/i.test(message)) {
      logEvent("warn", { msg: "rpc failed", rpc: fn, status, code: error.code, error: message });
      // supabase-js puts a network failure's cause (e.g. "Connection refused") in `details`.
      throw unavailable(
        provesNothingChanged(status, error.code, `${message} ${error.details ?? ""}`),
      );
    }
    throw new Error(`rpc ${fn} failed (${status} ${error.code}): ${message}`);
  }
  return data as T;
}
