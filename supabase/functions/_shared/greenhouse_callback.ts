// Greenhouse's "PATCH Mark Test as Completed", through an outbox (greenhouse_callback): send_test
// records where to tell Greenhouse and with which key (encrypted here, AES-256-GCM, so the
// database never holds it readable); a submitted attempt makes the row due; the scheduled
// dispatch claims due rows with a lease and sends each PATCH, retrying with backoff like the
// invitation emails. Greenhouse answers with a status code only; any 2xx is done.
import type { SupabaseClient } from "@supabase/supabase-js";
import type { Config } from "./config.ts";
import { callRpc } from "./db.ts";
import { logEvent } from "./log.ts";

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

function aesKey(raw: Uint8Array, use: KeyUsage): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, [use]);
}

/** The API key, encrypted: base64 of a random 12-byte nonce and the ciphertext. */
export async function sealCredential(raw: Uint8Array, apiKey: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv },
      await aesKey(raw, "encrypt"),
      new TextEncoder().encode(apiKey),
    ),
  );
  const out = new Uint8Array(iv.length + sealed.length);
  out.set(iv);
  out.set(sealed, iv.length);
  return toBase64(out);
}

export async function openCredential(raw: Uint8Array, sealed: string): Promise<string> {
  const bytes = fromBase64(sealed);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.slice(0, 12) },
    await aesKey(raw, "decrypt"),
    bytes.slice(12),
  );
  return new TextDecoder().decode(plain);
}

/**
 * Whether a callback may go to `url`: one of the configured origins, scheme, host and port (any
 * port of a loopback origin such as http://127.0.0.1, for receivers on a developer's machine).
 * Anything else is never called, so a key holder cannot make the platform send requests elsewhere.
 */
export function callbackAllowed(url: string, origins: string[]): boolean {
  if (!URL.canParse(url)) return false;
  const target = new URL(url);
  if (target.username || target.password) return false;
  return origins.some((origin) => {
    const allowed = new URL(origin);
    return allowed.protocol === target.protocol && allowed.hostname === target.hostname &&
      (allowed.port === target.port || (allowed.hostname === "127.0.0.1" && !allowed.port));
  });
}

interface Claimed {
  id: string;
  url: string;
  credential: string;
  attempts: number;
}

export interface CallbackCounts {
  callbacks_sent: number;
  callbacks_retried: number;
  callbacks_failed: number;
}

/** Sends the due callbacks until none is due, `limit` were claimed, or the deadline passes. */
export async function dispatchCallbacks(
  cfg: Config,
  db: SupabaseClient,
  options: { deadline: number; limit: number },
): Promise<CallbackCounts> {
  const counts = { callbacks_sent: 0, callbacks_retried: 0, callbacks_failed: 0 };
  const key = cfg.greenhouse.callbackKey;
  if (!key) return counts;
  let claimedSoFar = 0;
  while (claimedSoFar < options.limit && Date.now() < options.deadline) {
    const batch = await callRpc<Claimed[]>(db, "claim_greenhouse_callbacks", {
      p_limit: Math.min(50, options.limit - claimedSoFar),
      p_lease_ms: cfg.email.leaseMs,
    }, cfg.dbTimeoutMs);
    if (!batch.length) break;
    claimedSoFar += batch.length;
    await Promise.all(batch.map(async (row) => {
      const error = await send(cfg, key, row);
      const status = await callRpc<string | null>(db, "record_greenhouse_callback", {
        p_id: row.id,
        p_attempts: row.attempts,
        p_ok: error === null,
        p_error: error,
        p_retry_base_ms: cfg.email.retryBaseMs,
        p_max_attempts: cfg.email.maxAttempts,
      }, cfg.dbTimeoutMs);
      if (status === "sent") counts.callbacks_sent++;
      else if (status === "failed") counts.callbacks_failed++;
      else if (status === "pending") counts.callbacks_retried++;
      if (error) {
        logEvent("warn", { msg: "greenhouse callback failed", enrolment: row.id, error });
      }
    }));
  }
  return counts;
}

/** One PATCH; null when Greenhouse took it, else why not. */
async function send(cfg: Config, key: Uint8Array, row: Claimed): Promise<string | null> {
  // Checked again when sending: the allowed origins may have changed since the row was written.
  if (!callbackAllowed(row.url, cfg.greenhouse.callbackOrigins)) {
    return "callback URL not allowed";
  }
  try {
    const apiKey = await openCredential(key, row.credential);
    const res = await fetch(row.url, {
      method: "PATCH",
      headers: { authorization: `Basic ${btoa(`${apiKey}:`)}` },
      redirect: "manual",
      signal: AbortSignal.timeout(cfg.email.timeoutMs),
    });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`;
  } catch (err) {
    return err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 500) : String(err);
  }
}
