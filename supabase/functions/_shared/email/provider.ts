// Resend's batch API through the real `resend` SDK: up to 100 emails a call, an Idempotency-Key
// per call, permissive validation (one rejected address fails alone), and every answer sorted
// into: accepted (per email: id or rejection), rejected (Resend refused the whole call in a way a
// retry cannot change: 400, 401, 403, 422), retry (with Resend's retry-after when given), or
// re-key (the key was used before for another payload).
import { Resend } from "resend";

export const MAX_BATCH = 100;

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  replyTo?: string;
  headers?: Record<string, string>;
  tags?: { name: string; value: string }[];
}

export interface RateLimit {
  remaining: number | null;
  resetMs: number | null;
}

export type BatchResult =
  | {
    kind: "accepted";
    results: ({ ok: true; id: string } | { ok: false; error: string })[];
    rateLimit: RateLimit;
  }
  | { kind: "rejected"; reason: string; rateLimit: RateLimit }
  | {
    kind: "retry";
    reason: string;
    retryAfterMs: number | null;
    rateLimit: RateLimit;
    /** The provider's HTTP status; null when no answer came (the call may have been taken). */
    status: number | null;
  }
  | { kind: "rekey"; reason: string; rateLimit: RateLimit };

/**
 * Statuses Resend documents for requests that are wrong as sent: field errors (400), a missing
 * or restricted key (401), an invalid key, an unverified sender domain or the testing-domain
 * restriction (403), missing or invalid fields (422). Sending the same call again cannot succeed.
 */
const FINAL_STATUSES = new Set([400, 401, 403, 422]);

export interface EmailProvider {
  sendBatch(emails: OutgoingEmail[], idempotencyKey: string): Promise<BatchResult>;
}

function seconds(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n * 1000 : null;
}

function rateLimitOf(headers: Record<string, string> | null): RateLimit {
  const remaining = headers?.["ratelimit-remaining"];
  return {
    remaining: remaining === undefined ? null : Number(remaining),
    resetMs: seconds(headers?.["ratelimit-reset"]),
  };
}

export function createResendProvider(options: {
  apiKey: string;
  baseUrl?: string;
  timeoutMs: number;
}): EmailProvider {
  const resend = new Resend(options.apiKey, options.baseUrl ? { baseUrl: options.baseUrl } : {});
  return {
    async sendBatch(emails, idempotencyKey) {
      const payload = emails.map((email) => ({
        from: email.from,
        to: [email.to],
        subject: email.subject,
        html: email.html,
        text: email.text,
        ...(email.replyTo ? { replyTo: email.replyTo } : {}),
        ...(email.headers ? { headers: email.headers } : {}),
        ...(email.tags ? { tags: email.tags } : {}),
      }));
      let response;
      try {
        response = await resend.batch.send(payload, {
          idempotencyKey,
          batchValidation: "permissive",
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (err) {
        // A time-out: Resend may or may not have taken the batch; the same key makes it safe.
        const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        return {
          kind: "retry",
          reason,
          retryAfterMs: null,
          rateLimit: rateLimitOf(null),
          status: null,
        };
      }
      const rateLimit = rateLimitOf(response.headers);
      if (response.error) {
        const { name, message, statusCode } = response.error;
        const reason = `${statusCode ?? "no response"} ${name}: ${message}`;
        if (name === "invalid_idempotent_request") return { kind: "rekey", reason, rateLimit };
        if (statusCode && FINAL_STATUSES.has(statusCode)) {
          return { kind: "rejected", reason, rateLimit };
        }
        return {
          kind: "retry",
          reason,
          retryAfterMs: seconds(response.headers?.["retry-after"]) ?? rateLimit.resetMs,
          rateLimit,
          status: statusCode ?? null,
        };
      }
      const accepted = response.data.data ?? [];
      const rejected = new Map(
        ((response.data as { errors?: { index: number; message: string }[] }).errors ?? [])
          .map((e) => [e.index, e.message]),
      );
      let next = 0;
      const results = emails.map((_, index) => {
        const error = rejected.get(index);
        if (error !== undefined) return { ok: false as const, error };
        const id = accepted[next++]?.id;
        return id ? { ok: true as const, id } : { ok: false as const, error: "no id returned" };
      });
      return { kind: "accepted", results, rateLimit };
    },
  };
}

/** The configured provider, or null when no Resend API key is set (emails then wait). */
export function createEmailProvider(cfg: {
  email: { apiKey: string | null; baseUrl?: string; timeoutMs: number };
}): EmailProvider | null {
  if (!cfg.email.apiKey) return null;
  return createResendProvider({
    apiKey: cfg.email.apiKey,
    baseUrl: cfg.email.baseUrl,
    timeoutMs: cfg.email.timeoutMs,
  });
}
