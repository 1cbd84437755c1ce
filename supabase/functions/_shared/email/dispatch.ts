// Sends due invitation emails: claims outbox rows, renders and signs each email, sends them in
// batches of up to 100 with an Idempotency-Key derived from the rows, and records each outcome.
// Used by the register endpoint (for the rows it just queued) and by the dispatch function.
import type { SupabaseClient } from "@supabase/supabase-js";
import type { Config } from "../config.ts";
import { callRpc } from "../db.ts";
import type { InterviewTokenSigner } from "../interview_token.ts";
import { interviewUrl } from "../interview_url.ts";
import { type BatchResult, type EmailProvider, MAX_BATCH, type OutgoingEmail } from "./provider.ts";
import { fromHeader, renderInvitation } from "./render.ts";

export interface ClaimedEmail {
  id: string;
  attempts: number;
  batch_key: string | null;
  link_interview_id: string;
  view_hm: boolean;
  view_hi: boolean;
  candidate: { name: string | null; email: string };
  interview: { name: string; language: string };
  merchant: {
    name: string;
    sender_name: string | null;
    reply_to: string | null;
    brand_color: string | null;
    logo_url: string | null;
    frontend_domain: string | null;
  };
  token: {
    jti: string;
    sub: string;
    merchant_id: string;
    interview_id: string;
    position_id: string | null;
    iat: number;
    exp: number;
  };
}

export type EmailOutcome = { status: "sent" | "queued" | "failed"; error?: string };

interface OutcomeRecord {
  id: string;
  outcome: "sent" | "failed" | "retry";
  provider_id?: string;
  error?: string;
  retry_at?: string;
  batch_key?: string | null;
}

export interface DispatchSummary {
  claimed: number;
  sent: number;
  failed: number;
  retrying: number;
  calls: number;
  outcomes: Map<string, EmailOutcome>;
}

export interface DispatchDeps {
  cfg: Config;
  db: SupabaseClient;
  signer: InterviewTokenSigner;
  provider: EmailProvider | null;
}

async function keyFor(rows: ClaimedEmail[]): Promise<string> {
  const ids = rows.map((row) => row.id).sort().join(",");
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(ids)),
  );
  return `invitations-${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Rows that travelled together before keep travelling together; the rest go 100 at a time. */
export function groupForSending(rows: ClaimedEmail[]): ClaimedEmail[][] {
  const byKey = new Map<string, ClaimedEmail[]>();
  const fresh: ClaimedEmail[] = [];
  for (const row of rows) {
    if (row.batch_key) byKey.set(row.batch_key, [...(byKey.get(row.batch_key) ?? []), row]);
    else fresh.push(row);
  }
  const groups = [...byKey.values()].flatMap((group) => chunk(group, MAX_BATCH));
  return [...groups, ...chunk(fresh, MAX_BATCH)];
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Exponential backoff with jitter: base, 2×base, 4×base … capped at 15 minutes. */
export function backoffMs(attempt: number, baseMs: number): number {
  const raw = Math.min(baseMs * 2 ** Math.max(attempt - 1, 0), 15 * 60_000);
  return Math.round(raw * (0.75 + Math.random() * 0.5));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createDispatcher(deps: DispatchDeps) {
  const { cfg } = deps;
  let pauseUntil = 0;

  function render(row: ClaimedEmail): OutgoingEmail {
    const expiresAt = new Date(row.token.exp * 1000);
    const view = { hideMenu: row.view_hm, hideIframe: row.view_hi };
    const token = deps.signer.sign({
      jti: row.token.jti,
      enrolmentId: row.token.sub,
      merchantId: row.token.merchant_id,
      interviewId: row.token.interview_id,
      positionId: row.token.position_id,
      isTest: false,
      ...view,
      issuedAt: row.token.iat,
      expiresAt,
    });
    const url = interviewUrl(
      row.merchant.frontend_domain ?? cfg.interviewFrontendUrl,
      row.link_interview_id,
      token,
      view,
    );
    const email = renderInvitation({
      candidateName: row.candidate.name,
      interviewName: row.interview.name,
      language: row.interview.language,
      companyName: row.merchant.name,
      brandColor: row.merchant.brand_color,
      logoUrl: row.merchant.logo_url,
      url,
      expiresAt,
    });
    return {
      from: fromHeader(row.merchant.sender_name ?? row.merchant.name, cfg.email.fromAddress),
      to: row.candidate.email,
      subject: email.subject,
      html: email.html,
      text: email.text,
      replyTo: row.merchant.reply_to ?? undefined,
    };
  }

  function outcomesOf(group: ClaimedEmail[], key: string, result: BatchResult): OutcomeRecord[] {
    if (result.kind === "accepted") {
      return group.map((row, i) => {
        const r = result.results[i];
        return r.ok
          ? { id: row.id, outcome: "sent", provider_id: r.id }
          : { id: row.id, outcome: "failed", error: `rejected by the email provider: ${r.error}` };
      });
    }
    if (result.kind === "rejected") {
      // Resend refused the call as such: the same call again cannot succeed, so fail it now.
      const error = `rejected by the email provider: ${result.reason}`;
      return group.map((row) => ({ id: row.id, outcome: "failed", error }));
    }
    const attempt = Math.max(...group.map((row) => row.attempts));
    const delay = result.kind === "retry" && result.retryAfterMs !== null
      ? result.retryAfterMs
      : backoffMs(attempt, cfg.email.retryBaseMs);
    const retryAt = new Date(Date.now() + delay).toISOString();
    // Keep the key while the outcome is unknown, so the retry is recognised as the same call;
    // drop it when the provider says the key belongs to another payload.
    const batchKey = result.kind === "rekey" ? null : key;
    return group.map((row) => ({
      id: row.id,
      outcome: "retry",
      error: result.reason,
      retry_at: retryAt,
      batch_key: batchKey,
    }));
  }

  async function sendGroup(group: ClaimedEmail[]): Promise<OutcomeRecord[]> {
    const key = await keyFor(group);
    if (!deps.provider) {
      return group.map((row) => ({
        id: row.id,
        outcome: "retry",
        error: "email sending is not configured (RESEND_API_KEY)",
        retry_at: new Date(Date.now() + backoffMs(row.attempts, cfg.email.retryBaseMs))
          .toISOString(),
        batch_key: null,
      }));
    }
    const emails = group.map(render);
    // Stay inside the provider's rate limit rather than spend calls on 429s.
    const wait = pauseUntil - Date.now();
    if (wait > 0) await sleep(wait);
    const result = await deps.provider.sendBatch(emails, key);
    if (result.rateLimit.remaining === 0 && result.rateLimit.resetMs !== null) {
      pauseUntil = Date.now() + result.rateLimit.resetMs;
    }
    if (result.kind === "retry" && result.retryAfterMs !== null) {
      pauseUntil = Math.max(pauseUntil, Date.now() + result.retryAfterMs);
    }
    return outcomesOf(group, key, result);
  }

  /** One claim, its sends and their records. */
  async function dispatchOnce(
    options: { ids?: string[]; limit: number },
  ): Promise<DispatchSummary> {
    const rows = await callRpc<ClaimedEmail[]>(deps.db, "claim_invitation_emails", {
      p_limit: options.limit,
      p_ids: options.ids ?? null,
      p_lease_seconds: Math.ceil(cfg.email.leaseMs / 1000),
    }, cfg.dbTimeoutMs);
    const summary: DispatchSummary = {
      claimed: rows.length,
      sent: 0,
      failed: 0,
      retrying: 0,
      calls: 0,
      outcomes: new Map(),
    };
    for (const group of groupForSending(rows)) {
      const records = await sendGroup(group);
      if (deps.provider) summary.calls++;
      const recorded = await callRpc<{ id: string; status: string; error: string | null }[]>(
        deps.db,
        "record_invitation_outcomes",
        { p_outcomes: records, p_max_attempts: cfg.email.maxAttempts },
        cfg.dbTimeoutMs,
      );
      for (const row of recorded) {
        if (row.status === "sent") {
          summary.sent++;
          summary.outcomes.set(row.id, { status: "sent" });
        } else if (row.status === "failed") {
          summary.failed++;
          summary.outcomes.set(row.id, { status: "failed", error: row.error ?? undefined });
        } else {
          summary.retrying++;
          summary.outcomes.set(row.id, { status: "queued" });
        }
      }
    }
    return summary;
  }

  return {
    /** Sends the given queued rows now (the register endpoint's own emails). */
    sendQueued(ids: string[]): Promise<DispatchSummary> {
      return dispatchOnce({ ids, limit: ids.length });
    },
    /** Drains what is due until nothing is left or the deadline passes. */
    async drain(options: { deadline: number; limit: number }): Promise<DispatchSummary> {
      const total: DispatchSummary = {
        claimed: 0,
        sent: 0,
        failed: 0,
        retrying: 0,
        calls: 0,
        outcomes: new Map(),
      };
      while (Date.now() < options.deadline) {
        const once = await dispatchOnce({ limit: options.limit });
        total.claimed += once.claimed;
        total.sent += once.sent;
        total.failed += once.failed;
        total.retrying += once.retrying;
        total.calls += once.calls;
        if (once.claimed < options.limit) break;
      }
      return total;
    },
  };
}
