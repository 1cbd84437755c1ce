// Sends due invitation emails exactly once. The database forms the send groups and gives each
// its provider Idempotency-Key when it claims them; before a group's first call its exact
// payload is stored (the link's token as a placeholder, signed again from the stored claims at
// send time: Ed25519 is deterministic, so every retry sends the same bytes under the same key).
// Used by the register endpoint (for the rows it just queued) and by the dispatch function.
import type { SupabaseClient } from "@supabase/supabase-js";
import type { Config } from "../config.ts";
import { callRpc } from "../db.ts";
import type { InterviewTokenSigner } from "../interview_token.ts";
import { interviewUrl } from "../interview_url.ts";
import { logEvent } from "../log.ts";
import type { BatchResult, EmailProvider, OutgoingEmail } from "./provider.ts";
import { fromHeader, renderEmail } from "./render.ts";

/** What a new group's row needs to be rendered. */
export interface ClaimedEmail {
  id: string;
  /** An invitation, or a reminder carrying its invitation's link. */
  kind: "invitation" | "reminder";
  /** A test registration's email: marked as a test in its subject and tags. */
  is_test: boolean;
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
  token: TokenClaims;
}

interface TokenClaims {
  jti: string;
  sub: string;
  merchant_id: string;
  interview_id: string;
  position_id: string | null;
  is_test?: boolean;
  iat: number;
  exp: number;
}

/** One email as stored in its group: everything but the link's token. */
export interface FrozenEmail {
  outbox_id: string;
  email: OutgoingEmail;
  claims: TokenClaims & { view_hm: boolean; view_hi: boolean };
}

interface ClaimedBatch {
  id: string;
  key: string;
  attempt: number;
  payload: FrozenEmail[] | null;
  rows: ClaimedEmail[];
}

interface Claim {
  batches: ClaimedBatch[];
  skipped: { id: string; reason: string }[];
}

type BatchOutcome =
  | { kind: "accepted"; results: { id: string; provider_id?: string; error?: string }[] }
  | { kind: "refused" | "unknown" | "rejected"; error: string; retry_at?: string };

export type EmailOutcome = {
  status: "sent" | "queued" | "failed" | "skipped";
  error?: string;
};

export interface DispatchSummary {
  claimed: number;
  sent: number;
  failed: number;
  retrying: number;
  skipped: number;
  calls: number;
  outcomes: Map<string, EmailOutcome>;
}

export interface DispatchDeps {
  cfg: Config;
  db: SupabaseClient;
  signer: InterviewTokenSigner;
  provider: EmailProvider | null;
}

/** Stands for the link's token in a stored payload; only [A-Za-z_], so no encoding touches it. */
export const TOKEN_PLACEHOLDER = "__interview_token__";

/** Rows a register request claims at a time, so that its lease covers its calls. */
const ROWS_PER_CLAIM = 300;

/** Exponential backoff with jitter: base, 2×base, 4×base … capped at 15 minutes. */
export function backoffMs(attempt: number, baseMs: number): number {
  const raw = Math.min(baseMs * 2 ** Math.max(attempt - 1, 0), 15 * 60_000);
  return Math.round(raw * (0.75 + Math.random() * 0.5));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createDispatcher(deps: DispatchDeps) {
  const { cfg } = deps;
  let pauseUntil = 0;

  function freeze(row: ClaimedEmail): FrozenEmail {
    const expiresAt = new Date(row.token.exp * 1000);
    const view = { hideMenu: row.view_hm, hideIframe: row.view_hi };
    let url: string;
    try {
      url = interviewUrl(
        row.merchant.frontend_domain ?? cfg.interviewFrontendUrl,
        row.link_interview_id,
        TOKEN_PLACEHOLDER,
        view,
      );
    } catch {
      // A domain the URL parser refuses would fail the whole claim, every time, and with it
      // the other merchants' emails grouped with this one: it gets the default front end, as
      // the link in the registration's answer does.
      logEvent("warn", { msg: "merchant front-end domain unusable", outbox_id: row.id });
      url = interviewUrl(cfg.interviewFrontendUrl, row.link_interview_id, TOKEN_PLACEHOLDER, view);
    }
    const email = renderEmail({
      kind: row.kind,
      isTest: row.is_test,
      now: new Date(),
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
      outbox_id: row.id,
      email: {
        from: fromHeader(row.merchant.sender_name ?? row.merchant.name, cfg.email.fromAddress),
        to: row.candidate.email,
        subject: email.subject,
        html: email.html,
        text: email.text,
        ...(row.merchant.reply_to ? { replyTo: row.merchant.reply_to } : {}),
        // The outbox id, so that support can find the row from the message; tags say what it is.
        headers: { "X-Entity-Ref-ID": row.id },
        tags: [
          { name: "kind", value: row.kind },
          ...(row.is_test ? [{ name: "test", value: "true" }] : []),
        ],
      },
      claims: { ...row.token, view_hm: row.view_hm, view_hi: row.view_hi },
    };
  }

  /** The stored email with its link's token signed again: the same bytes every time. */
  function materialize(frozen: FrozenEmail): OutgoingEmail {
    const { claims } = frozen;
    const token = deps.signer.sign({
      jti: claims.jti,
      enrolmentId: claims.sub,
      merchantId: claims.merchant_id,
      interviewId: claims.interview_id,
      positionId: claims.position_id,
      isTest: claims.is_test ?? false,
      hideMenu: claims.view_hm,
      hideIframe: claims.view_hi,
      issuedAt: claims.iat,
      expiresAt: new Date(claims.exp * 1000),
    });
    const place = (value: string) => value.split(TOKEN_PLACEHOLDER).join(token);
    return { ...frozen.email, html: place(frozen.email.html), text: place(frozen.email.text) };
  }

  function outcomeOf(
    payload: FrozenEmail[],
    attempt: number,
    result: BatchResult,
  ): BatchOutcome {
    if (result.kind === "accepted") {
      return {
        kind: "accepted",
        results: payload.map((email, i) => {
          const r = result.results[i];
          return r.ok
            ? { id: email.outbox_id, provider_id: r.id }
            : { id: email.outbox_id, error: `rejected by the email provider: ${r.error}` };
        }),
      };
    }
    if (result.kind === "rejected") {
      // Resend refused the call as such: the same call again cannot succeed, so fail it now.
      return { kind: "rejected", error: `rejected by the email provider: ${result.reason}` };
    }
    if (result.kind === "rekey") {
      // Our keys are never reused for another payload; if the provider says so, sending again
      // under a new key could deliver twice.
      return {
        kind: "rejected",
        error: `not sent again: the provider holds this group's key for another payload ` +
          `(${result.reason})`,
      };
    }
    const delay = result.retryAfterMs ?? backoffMs(attempt, cfg.email.retryBaseMs);
    return {
      // A 429 is refused before anything is taken; anything else may have been taken.
      kind: result.status === 429 ? "refused" : "unknown",
      error: result.reason,
      retry_at: new Date(Date.now() + delay).toISOString(),
    };
  }

  async function send(payload: FrozenEmail[], key: string, attempt: number) {
    if (!deps.provider) {
      return {
        kind: "refused",
        error: "email sending is not configured (RESEND_API_KEY)",
        retry_at: new Date(Date.now() + backoffMs(attempt, cfg.email.retryBaseMs)).toISOString(),
      } as BatchOutcome;
    }
    // Stay inside the provider's rate limit rather than spend calls on 429s.
    const wait = pauseUntil - Date.now();
    if (wait > 0) await sleep(wait);
    const result = await deps.provider.sendBatch(payload.map(materialize), key);
    if (result.rateLimit.remaining === 0 && result.rateLimit.resetMs !== null) {
      pauseUntil = Date.now() + result.rateLimit.resetMs;
    }
    if (result.kind === "retry" && result.retryAfterMs !== null) {
      pauseUntil = Math.max(pauseUntil, Date.now() + result.retryAfterMs);
    }
    return outcomeOf(payload, attempt, result);
  }

  /** One claim, its sends and their records. */
  async function dispatchOnce(
    options: { ids?: string[]; limit: number },
  ): Promise<DispatchSummary> {
    // The lease is counted from before the claim: a sender never calls once it may have passed.
    const leaseEnds = Date.now() + cfg.email.leaseMs;
    const claim = await callRpc<Claim>(deps.db, "claim_invitation_emails", {
      p_limit: options.limit,
      p_ids: options.ids ?? null,
      p_lease_seconds: Math.ceil(cfg.email.leaseMs / 1000),
      p_max_attempts: cfg.email.maxAttempts,
    }, cfg.dbTimeoutMs);
    const summary: DispatchSummary = {
      claimed: 0,
      sent: 0,
      failed: 0,
      retrying: 0,
      skipped: claim.skipped.length,
      calls: 0,
      outcomes: new Map(),
    };
    for (const row of claim.skipped) {
      summary.outcomes.set(row.id, { status: "skipped", error: row.reason });
    }
    const payloads = new Map<string, FrozenEmail[]>();
    const fresh: { id: string; attempt: number; payload: FrozenEmail[] }[] = [];
    for (const batch of claim.batches) {
      summary.claimed += batch.payload?.length ?? batch.rows.length;
      if (batch.payload) payloads.set(batch.id, batch.payload);
      else fresh.push({ id: batch.id, attempt: batch.attempt, payload: batch.rows.map(freeze) });
    }
    // Stored before any call: from here on, this group only ever sends this payload.
    if (fresh.length) {
      const frozen = await callRpc<{ id: string; payload: FrozenEmail[] }[]>(
        deps.db,
        "freeze_invitation_batches",
        { p_batches: fresh },
        cfg.dbTimeoutMs,
      );
      for (const batch of frozen) payloads.set(batch.id, batch.payload);
    }
    for (const batch of claim.batches) {
      const payload = payloads.get(batch.id);
      // Lost the lease before storing, or too little of it left for a call: the next sender
      // takes the group whole.
      if (!payload || Date.now() + cfg.email.timeoutMs + 1000 > leaseEnds) continue;
      const outcome = await send(payload, batch.key, batch.attempt);
      if (deps.provider) summary.calls++;
      const recorded = await callRpc<{ id: string; status: string; error: string | null }[]>(
        deps.db,
        "record_invitation_batch",
        {
          p_batch_id: batch.id,
          p_attempt: batch.attempt,
          p_result: outcome,
          p_max_attempts: cfg.email.maxAttempts,
        },
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

  function add(total: DispatchSummary, once: DispatchSummary) {
    total.claimed += once.claimed;
    total.sent += once.sent;
    total.failed += once.failed;
    total.retrying += once.retrying;
    total.skipped += once.skipped;
    total.calls += once.calls;
    for (const [id, outcome] of once.outcomes) total.outcomes.set(id, outcome);
  }

  const empty = (): DispatchSummary => ({
    claimed: 0,
    sent: 0,
    failed: 0,
    retrying: 0,
    skipped: 0,
    calls: 0,
    outcomes: new Map(),
  });

  return {
    /** Sends the given queued rows now (the register endpoint's own emails). */
    async sendQueued(ids: string[]): Promise<DispatchSummary> {
      const total = empty();
      for (let i = 0; i < ids.length; i += ROWS_PER_CLAIM) {
        const chunk = ids.slice(i, i + ROWS_PER_CLAIM);
        add(total, await dispatchOnce({ ids: chunk, limit: chunk.length }));
      }
      return total;
    },
    /** Drains what is due until nothing is left or the deadline passes. */
    async drain(options: { deadline: number; limit: number }): Promise<DispatchSummary> {
      const total = empty();
      while (Date.now() < options.deadline) {
        const once = await dispatchOnce({ limit: options.limit });
        add(total, once);
        if (once.claimed + once.skipped < options.limit) break;
      }
      return total;
    },
  };
}
