// Registers a validated request: checks each row, then admits the request (its key, its rate
// limit) and registers the batch in one RPC, then signs the links and shapes the published answer.
// The answer is built from what the registration committed, in the same way for the first answer
// and for every replay of its Idempotency-Key, so a replay is the same bytes.
import type { Caller } from "../_shared/auth.ts";
import { callRpc, UNKNOWN_CODE } from "../_shared/db.ts";
import { HttpError } from "../_shared/http.ts";
import { runInBackground, within } from "../_shared/background.ts";
import type { EmailOutcome } from "../_shared/email/dispatch.ts";
import { logEvent } from "../_shared/log.ts";
import type { Services } from "../_shared/services.ts";
import { interviewUrlBuilder } from "../_shared/interview_url.ts";
import { checkCandidate, echoedEmail } from "./row_fields.ts";
import type { RegisterRequest, ResultRow } from "./schema.ts";

type RpcRow =
  | { i: number; error: string }
  | {
    i: number;
    profile_interview_id: string;
    jti: string;
    email: "skipped" | "queued";
    /** Why no email was queued: not_requested, emails_disabled, suppressed. */
    email_skipped_reason?: string | null;
    email_outbox_id: string | null;
  };

export interface RateLimit {
  limit: number;
  remaining: number;
  reset: number;
}

interface RpcError {
  status: number;
  message: string;
  name?: string;
  code?: string;
}

/** What a registration committed: the claims its links are signed from, never the links. */
interface Outcome {
  merchant_id: string;
  interview: { interview_def_set_id: string; position_def_set_id: string | null };
  frontend_domain: string | null;
  expires_at: string;
  /** Seconds since the epoch: every link of the answer is signed with this `iat`. */
  issued_at: number;
  rows: RpcRow[];
}

/** Email outcomes the first answer reported, by outbox id. */
type EmailRecord = Record<string, EmailOutcome>;

interface Replay {
  outcome: Outcome;
  emails: EmailRecord | null;
}

/** Every answer of the registration call carries the request's rate limit. */
type RegistrationReply =
  & { rate?: RateLimit }
  & (
    | (Outcome & { error?: undefined; replay?: undefined; busy?: undefined })
    | { error: RpcError; replay?: undefined; busy?: undefined }
    | { replay: Replay; merchant_id: string; error?: undefined; busy?: undefined }
    /** A lock the registration needs is taken: counted, it is to be called again to wait. */
    | { busy: true; merchant_id: string; error?: undefined; replay?: undefined }
  );

export interface Registration {
  merchantId: string;
  /** The answer, serialised: flat strings only, so that it cannot fail after the commit. */
  body: string;
  rate: RateLimit | null;
  /** Whether this is the stored answer of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
  registered: number;
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

function refusal(error: RpcError, rate: RateLimit | undefined): HttpError {
  const headers = rateLimitHeaders(rate);
  if (error.status === 429) headers["retry-after"] = String(rate?.reset ?? 60);
  return new HttpError(error.status, error.message, error.name, headers, error.code);
}

/** A 503 of the registration call, worded for what the caller should do next. */
function registrationUnavailable(err: unknown, keyed: boolean): unknown {
  if (!(err instanceof HttpError) || err.code !== UNKNOWN_CODE) return err;
  return new HttpError(
    503,
    keyed
      ? "The database did not confirm the registration in time; it may have succeeded. Retry " +
        "with the same Idempotency-Key: the retry answers with the registration's result and " +
        "registers, links and emails nobody twice."
      : "The database did not confirm the registration in time; it may have succeeded. A retry " +
        "registers the candidates again (the same enrolments, new links); send an " +
        "Idempotency-Key to make retries safe.",
    undefined,
    {},
    UNKNOWN_CODE,
  );
}

/** The answer's rows before the registration: each candidate as sent, or its row's error. */
function checkedRows(request: RegisterRequest) {
  const rows: ResultRow[] = [];
  const batch: { i: number; email: string; name?: string; external_id?: string }[] = [];
  request.users.forEach((user, i) => {
    const check = checkCandidate(user);
    rows.push({
      name: user.name ?? null,
      email: echoedEmail(user.email),
      external_id: user.external_id ?? null,
      result: check.ok ? "" : `Error: ${check.reason}`,
    });
    if (check.ok) {
      // Absent fields are null to the database: a null is not sent.
      batch.push({
        i,
        email: check.email,
        ...(check.name !== null && { name: check.name }),
        ...(check.external_id !== null && { external_id: check.external_id }),
      });
    }
  });
  return { rows, batch };
}

/** Fills in what the registration committed: results, links signed from the stored claims. */
function linkRows(
  deps: RegisterDeps,
  request: RegisterRequest,
  rows: ResultRow[],
  outcome: Outcome,
): void {
  const expiresAt = new Date(outcome.expires_at);
  const view = { hideMenu: request.hide_menu, hideIframe: request.hide_iframe };
  let link: (token: string) => string;
  try {
    link = interviewUrlBuilder(
      outcome.frontend_domain ?? deps.cfg.interviewFrontendUrl,
      request.interview_id,
      view,
    );
  } catch {
    // After the commit nothing may fail: a domain the URL parser refuses gets the default.
    logEvent("warn", { msg: "merchant front-end domain unusable", merchant: outcome.merchant_id });
    link = interviewUrlBuilder(deps.cfg.interviewFrontendUrl, request.interview_id, view);
  }
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
      issuedAt: outcome.issued_at,
    });
    target.result = "ok";
    target.interview_url = link(token);
    target.profile_interview_id = row.profile_interview_id;
    target.expires_at = expiresAtText;
  }
}

/** Email statuses: as the first answer recorded them, else "queued" for every queued email. */
function applyEmails(rows: ResultRow[], outcome: Outcome, emails: EmailRecord | null): void {
  for (const row of outcome.rows) {
    if ("error" in row) continue;
    const target = rows[row.i];
    const sent = row.email_outbox_id ? emails?.[row.email_outbox_id] : undefined;
    target.email_status = row.email === "skipped" ? "skipped" : sent?.status ?? "queued";
    if (sent?.status === "failed" && sent.error) target.email_error = sent.error;
    // A skipped email always says why: decided at registration, or when it was about to go.
    if (target.email_status === "skipped") {
      target.email_skipped_reason = row.email === "skipped"
        ? row.email_skipped_reason ?? "not_requested"
        : sent?.error ?? "not_requested";
    }
  }
}

export async function registerUsers(
  deps: RegisterDeps,
  caller: Caller,
  request: RegisterRequest,
  idempotency: { key: string; hash: string } | null = null,
): Promise<Registration> {
  const { rows, batch } = checkedRows(request);
  const ms = (from: number, to: number) => Math.round(to - from);
  const dbStarted = performance.now();
  const callerId = caller.kind === "user" ? caller.userId : null;

  // One call admits the request (a merchant API key by its digest, the caller's right to act for
  // the merchant, the rate limit, a stored answer) and registers it. When a lock it needs is
  // taken, it commits the count only and is called again, admitted, to wait for the lock.
  // Arguments whose SQL default applies are left out: every one sent is parsed twice, by
  // PostgREST and by PostgreSQL.
  const sendEmail = request.send_email ?? request.type === "invitation";
  const register = (merchantId: string | null, admitted: boolean) =>
    callRpc<RegistrationReply>(deps.db, "register_interview_users", {
      p_caller_id: callerId,
      p_merchant_id: merchantId,
      p_interview_id: request.interview_id,
      p_is_test: request.is_test,
      p_users: batch,
      p_token_ttl_seconds: deps.cfg.interviewTokenTtlSeconds,
      p_rate_limit: deps.cfg.rateLimitPerMinute,
      ...(sendEmail && {
        p_send_email: true,
        p_view: { hide_menu: request.hide_menu, hide_iframe: request.hide_iframe },
      }),
      ...(request.revoke_previous && { p_revoke_previous: true }),
      ...(idempotency && {
        p_idempotency: { ...idempotency, ttl_seconds: deps.cfg.idempotencyTtlSeconds },
      }),
      ...(!admitted && caller.kind === "api_key" && { p_api_key_hash: caller.keyHash }),
      ...(admitted && { p_admitted: true }),
    }, deps.cfg.dbTimeoutMs).catch((err) => {
      throw registrationUnavailable(err, idempotency !== null);
    });
  let reply = await register(request.merchant_id ?? null, false);
  const rate = reply.rate ?? null;
  if (reply.busy) reply = await register(reply.merchant_id, true);
  if (reply.error) throw refusal(reply.error, rate ?? undefined);
  if (reply.replay) {
    linkRows(deps, request, rows, reply.replay.outcome);
    applyEmails(rows, reply.replay.outcome, reply.replay.emails);
    return {
      merchantId: reply.replay.outcome.merchant_id,
      body: JSON.stringify(rows),
      rate,
      replayed: true,
      registered: 0,
      timings: { db_ms: ms(dbStarted, performance.now()), sign_ms: 0, email_ms: 0 },
    };
  }
  if (reply.busy) throw new Error("the registration answered busy when called to wait");

  // Committed. From here on nothing may fail: the answer is made of strings.
  const outcome: Outcome = reply;
  const signStarted = performance.now();
  linkRows(deps, request, rows, outcome);

  const emailStarted = performance.now();
  const queued = outcome.rows.flatMap((row) =>
    "email_outbox_id" in row && row.email_outbox_id ? [row.email_outbox_id] : []
  );
  const sent = await sendInvitations(deps, queued);
  let emails: EmailRecord | null = sent.size ? Object.fromEntries(sent) : null;
  if (emails && idempotency) {
    // The answer may report the emails only if its record says the same; if a replay fixed the
    // record first, or the call fails, it reports them as queued, as the record then holds them
    // (unless a call that timed out did write them: replays would then say "sent", the truth).
    const recorded = await callRpc<boolean>(deps.db, "finish_idempotent_request", {
      p_merchant_id: outcome.merchant_id,
      p_key: idempotency.key,
      p_emails: emails,
    }, deps.cfg.dbTimeoutMs).catch((err) => {
      logEvent("warn", { msg: "email outcomes not recorded", error: String(err) });
      return false;
    });
    if (!recorded) emails = null;
  }
  applyEmails(rows, outcome, emails);

  const done = performance.now();
  return {
    merchantId: outcome.merchant_id,
    body: JSON.stringify(rows),
    rate,
    replayed: false,
    registered: rows.filter((row) => row.result === "ok").length,
    timings: {
      db_ms: ms(dbStarted, signStarted),
      sign_ms: ms(signStarted, emailStarted),
      email_ms: ms(emailStarted, done),
    },
  };
}
