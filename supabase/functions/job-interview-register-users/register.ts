// Registers a validated request: checks each row's email, sends the batch to the database in one
// RPC (which authorises the caller and upserts every enrolment in one transaction), then signs
// one interview token per registered row and shapes the published response.
import type { Caller } from "../_shared/auth.ts";
import { callRpc } from "../_shared/db.ts";
import { HttpError } from "../_shared/http.ts";
import { runInBackground, within } from "../_shared/background.ts";
import type { EmailOutcome } from "../_shared/email/dispatch.ts";
import { logEvent } from "../_shared/log.ts";
import type { Services } from "../_shared/services.ts";
import { checkEmail } from "./email_address.ts";
import { interviewUrlBuilder } from "../_shared/interview_url.ts";
import type { RegisterRequest, ResultRow } from "./schema.ts";

type RpcRow =
  | { i: number; error: string }
  | {
    i: number;
    profile_interview_id: string;
    jti: string;
    email: "skipped" | "queued";
    email_outbox_id: string | null;
  };

export interface RateLimit {
  limit: number;
  remaining: number;
  reset: number;
}

interface RpcOutcome {
  error?: { status: number; message: string; name?: string; code?: string };
  replay?: { status: number; body: string };
  rate?: RateLimit;
  merchant_id: string;
  interview: { interview_def_set_id: string; position_def_set_id: string | null };
  frontend_domain: string | null;
  expires_at: string;
  rows: RpcRow[];
}

export interface Registration {
  merchantId: string;
  rows: ResultRow[];
  rate: RateLimit | null;
  /** The first answer to this Idempotency-Key, when this request is a replay. */
  replay: { status: number; body: string } | null;
  /** Where the time went, for the request's log line. */
  timings: { db_ms: number; sign_ms: number; email_ms: number };
}

export type RegisterDeps = Pick<Services, "cfg" | "db" | "signer" | "dispatcher">;

/**
 * Sends the emails this request queued, waiting at most the configured budget; what is not
 * settled by then goes on in the background and, failing that, with the dispatcher.
 */
async function sendInvitations(
  deps: RegisterDeps,
  outboxIds: string[],
): Promise<Map<string, EmailOutcome>> {
  if (!outboxIds.length) return new Map();
  const sending = deps.dispatcher.sendQueued(outboxIds).catch((err) => {
    logEvent("warn", { msg: "invitation emails left queued", error: String(err) });
    return undefined;
  });
  runInBackground(sending);
  const summary = await within(sending, deps.cfg.email.sendBudgetMs);
  return summary?.outcomes ?? new Map();
}

/** `ratelimit-*` response headers, as the IETF draft names them. */
export function rateLimitHeaders(rate: RateLimit | null | undefined): Record<string, string> {
  if (!rate) return {};
  return {
    "ratelimit-limit": String(rate.limit),
    "ratelimit-remaining": String(rate.remaining),
    "ratelimit-reset": String(rate.reset),
  };
}

export async function registerUsers(
  deps: RegisterDeps,
  caller: Caller,
  request: RegisterRequest,
  idempotency: { key: string; hash: string } | null = null,
): Promise<Registration> {
  const rows: ResultRow[] = request.users.map((user) => ({
    name: user.name ?? null,
    email: user.email ?? null,
    external_id: user.external_id ?? null,
    result: "",
  }));

  const batch: { i: number; name: string | null; email: string; external_id: string | null }[] = [];
  request.users.forEach((user, i) => {
    const check = checkEmail(user.email);
    if (check.ok) {
      batch.push({
        i,
        name: user.name ?? null,
        email: check.email,
        external_id: user.external_id ?? null,
      });
    } else {
      rows[i].result = `Error: ${check.reason}`;
    }
  });

  const dbStarted = performance.now();
  const outcome = await callRpc<RpcOutcome>(deps.db, "register_interview_users", {
    p_caller_id: caller.kind === "user" ? caller.userId : null,
    p_api_key_hash: caller.kind === "api_key" ? caller.keyHash : null,
    p_merchant_id: request.merchant_id ?? null,
    p_interview_id: request.interview_id,
    p_is_test: request.is_test,
    p_users: batch,
    p_token_ttl_seconds: deps.cfg.interviewTokenTtlSeconds,
    p_send_email: request.send_email ?? request.type === "invitation",
    p_view: { hide_menu: request.hide_menu, hide_iframe: request.hide_iframe },
    p_revoke_previous: request.revoke_previous,
    p_rate_limit: deps.cfg.rateLimitPerMinute,
    p_lock_timeout_ms: Math.floor(deps.cfg.dbTimeoutMs * 0.6),
    p_idempotency: idempotency
      ? { ...idempotency, ttl_seconds: deps.cfg.idempotencyTtlSeconds }
      : null,
  }, deps.cfg.dbTimeoutMs);
  if (outcome.error) {
    const { status, message, name, code } = outcome.error;
    const headers = rateLimitHeaders(outcome.rate);
    if (status === 429) headers["retry-after"] = String(outcome.rate?.reset ?? 60);
    throw new HttpError(status, message, name, headers, code);
  }
  const ms = (from: number, to: number) => Math.round(to - from);
  if (outcome.replay) {
    return {
      merchantId: outcome.merchant_id,
      rows: [],
      rate: outcome.rate ?? null,
      replay: outcome.replay,
      timings: { db_ms: ms(dbStarted, performance.now()), sign_ms: 0, email_ms: 0 },
    };
  }

  const signStarted = performance.now();
  const expiresAt = new Date(outcome.expires_at);
  const frontendUrl = outcome.frontend_domain ?? deps.cfg.interviewFrontendUrl;
  const view = { hideMenu: request.hide_menu, hideIframe: request.hide_iframe };
  const linkFor = interviewUrlBuilder(frontendUrl, request.interview_id, view);
  const expiresAtText = expiresAt.toISOString();
  for (const row of outcome.rows) {
    const target = rows[row.i];
    if ("error" in row) {
      target.result = `Error: ${row.error}`;
      continue;
    }
    const token = deps.signer.sign({
      jti: row.jti,
      enrolmentId: row.profile_interview_id,
      merchantId: outcome.merchant_id,
      interviewId: outcome.interview.interview_def_set_id,
      positionId: outcome.interview.position_def_set_id,
      isTest: request.is_test,
      ...view,
      expiresAt,
    });
    target.result = "ok";
    target.interview_url = linkFor(token);
    target.profile_interview_id = row.profile_interview_id;
    target.expires_at = expiresAtText;
  }

  const emailStarted = performance.now();
  const queued = outcome.rows.flatMap((row) =>
    "email_outbox_id" in row && row.email_outbox_id ? [row.email_outbox_id] : []
  );
  const emailOutcomes = await sendInvitations(deps, queued);
  for (const row of outcome.rows) {
    if ("error" in row) continue;
    const target = rows[row.i];
    const sent = row.email_outbox_id ? emailOutcomes.get(row.email_outbox_id) : undefined;
    target.email_status = row.email === "skipped" ? "skipped" : sent?.status ?? "queued";
    if (sent?.status === "failed" && sent.error) target.email_error = sent.error;
  }

  const done = performance.now();
  return {
    merchantId: outcome.merchant_id,
    rows,
    rate: outcome.rate ?? null,
    replay: null,
    timings: {
      db_ms: ms(dbStarted, signStarted),
      sign_ms: ms(signStarted, emailStarted),
      email_ms: ms(emailStarted, done),
    },
  };
}
