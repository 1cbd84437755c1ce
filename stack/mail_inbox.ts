// A local stand-in for Resend: speaks the parts of Resend's HTTP API that the `resend` SDK uses
// (POST /emails, POST /emails/batch) with Resend's response and error shapes, Idempotency-Key
// semantics, its default rate limit (2 requests a second per team) with its headers, and its
// documented statuses: 400 validation_error (a field's value), 401 missing_api_key, 403
// invalid_api_key, 403 validation_error (a sender domain that is not verified; the testing
// domain, which only sends to the account's own address), 422 missing_required_field, 429
// rate_limit_exceeded. It keeps what it receives, and shows it:
//   GET /                 web inbox (stack/mail_inbox_page.ts)   GET /view/<id>   one email
//   POST /clear           the inbox page's "clear" button
//   GET /api/emails       JSON, newest last               DELETE /api/emails   empty it
//   GET /api/calls        every API call it answered
//   POST /api/faults      {"status": 400|401|403|422|429|500|503, "times": N, "delay_ms": D}: the
//                         next N API calls fail that way (without status: are answered late,
//                         after processing);
//                         {"hold": "before"|"during"|"after", "times": N}: the next N calls wait
//                         until POST /api/release: "before" drops a call whose caller left while
//                         it waited (it never reached us), "during" takes it anyway, "after"
//                         takes it and withholds the answer
//   GET /api/held         {"held": N}: calls waiting for a release
//   POST /api/webhooks    {"delay_ms": D, "enabled": bool}: how its delivery webhooks go
// Recipients at the reserved `.invalid` top-level domain are rejected, as a provider rejects an
// address it cannot deliver to. For each email it accepts it posts Resend's webhooks, signed as
// Resend signs them (Svix), each after the configured delay: `email.sent`, then
// `email.delivered`; for a recipient at `bounce.test` `email.bounced` (a permanent bounce)
// instead, and at `complaint.test` `email.complained` after the delivery.
import { signDeliveryEvent } from "../supabase/functions/_shared/email/webhook.ts";
import { inboxPage, type RejectedEmail, viewPage } from "./mail_inbox_page.ts";

export interface StoredEmail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  html: string | null;
  text: string | null;
  reply_to: string[] | null;
  headers: Record<string, string>;
  idempotency_key: string | null;
  received_at: string;
  tags: { name: string; value: string }[];
  /** The last delivery event sent for it (email.sent, email.delivered, ...). */
  delivery: string | null;
}

interface ApiCall {
  method: string;
  path: string;
  status: number;
  idempotency_key: string | null;
  emails: number;
  at: string;
}

type Hold = "before" | "during" | "after";

interface Fault {
  status?: number;
  times: number;
  delay_ms?: number;
  hold?: Hold;
}

interface Answer {
  status: number;
  body: unknown;
}

const ADDRESS =
  /^[^\s@<>",;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

function error(status: number, name: string, message: string): Answer {
  return { status, body: { statusCode: status, name, message } };
}

/** Resend's error name for an injected status. */
const FAULT_NAMES: Record<number, string> = {
  400: "validation_error",
  401: "missing_api_key",
  403: "validation_error",
  422: "missing_required_field",
  429: "rate_limit_exceeded",
};

/** Resend's shared testing domain: it sends only to the account owner's own address. */
const TESTING_DOMAIN = "resend.dev";

type Rejection = { status: number; name: string; message: string };
const fieldError = (message: string): Rejection => ({
  status: 400,
  name: "validation_error",
  message,
});
const missingField = (field: string): Rejection => ({
  status: 422,
  name: "missing_required_field",
  message: `Missing \`${field}\` field.`,
});

function addressOf(value: string): string | null {
  const named = /^\s*(?:"[^"]*"|[^<>"]*)\s*<([^<>]+)>\s*$/.exec(value);
  const address = (named ? named[1] : value).trim();
  return ADDRESS.test(address) ? address : null;
}

function list(value: unknown): string[] | null {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
  return null;
}

/** Who may send: the verified sender domains, and the owner the testing domain sends to. */
interface Account {
  verifiedDomains: string[];
  ownerEmail: string;
}

/** Validates one email of a request; returns the stored form or the error Resend would give. */
function acceptEmail(
  input: unknown,
  idempotencyKey: string | null,
  account: Account,
): { email: StoredEmail } | { error: Rejection } {
  if (typeof input !== "object" || input === null) {
    return { error: fieldError("Invalid email object.") };
  }
  const e = input as Record<string, unknown>;
  if (e.from === undefined || e.from === "") return { error: missingField("from") };
  const from = typeof e.from === "string" ? addressOf(e.from) : null;
  if (!from) {
    return {
      error: fieldError(
        "Invalid `from` field. The email address needs to follow the `email@example.com` " +
          "or `Name <email@example.com>` format.",
      ),
    };
  }
  if (e.to === undefined) return { error: missingField("to") };
  const to = list(e.to);
  if (!to || !to.length) return { error: missingField("to") };
  if (to.length > 50) {
    return { error: fieldError("Too many recipients in `to` field. Maximum is 50.") };
  }
  const addresses: string[] = [];
  for (const recipient of to) {
    const address = addressOf(recipient);
    if (!address) {
      return {
        error: fieldError(
          "Invalid `to` field. The email address needs to follow the `email@example.com` " +
            "or `Name <email@example.com>` format.",
        ),
      };
    }
    if (address.toLowerCase().endsWith(".invalid")) {
      return {
        error: fieldError(
          `The recipient ${address} was rejected: its domain does not accept email.`,
        ),
      };
    }
    addresses.push(address.toLowerCase());
  }
  if (e.subject === undefined || e.subject === "") return { error: missingField("subject") };
  if (typeof e.subject !== "string" || /[\r\n]/.test(e.subject)) {
    return { error: fieldError("Invalid `subject` field.") };
  }
  if (typeof e.html !== "string" && typeof e.text !== "string") {
    return { error: missingField("html` or `text") };
  }
  const domain = from.slice(from.lastIndexOf("@") + 1).toLowerCase();
  if (domain === TESTING_DOMAIN) {
    if (addresses.some((address) => address !== account.ownerEmail.toLowerCase())) {
      return {
        error: {
          status: 403,
          name: "validation_error",
          message:
            `You can only send testing emails to your own email address (${account.ownerEmail}). ` +
            "To send emails to other recipients, please verify a domain at resend.com/domains, " +
            "and change the `from` address to an email using this domain.",
        },
      };
    }
  } else if (!account.verifiedDomains.includes(domain)) {
    return {
      error: {
        status: 403,
        name: "validation_error",
        message: `The ${domain} domain is not verified. Please, add and verify your domain.`,
      },
    };
  }
  return {
    email: {
      id: crypto.randomUUID(),
      from: e.from as string,
      to,
      subject: e.subject,
      html: typeof e.html === "string" ? e.html : null,
      text: typeof e.text === "string" ? e.text : null,
      reply_to: list(e.reply_to),
      headers: (typeof e.headers === "object" && e.headers !== null ? e.headers : {}) as Record<
        string,
        string
      >,
      idempotency_key: idempotencyKey,
      received_at: new Date().toISOString(),
      tags: Array.isArray(e.tags) ? e.tags as { name: string; value: string }[] : [],
      delivery: null,
    },
  };
}

export interface MailInboxOptions {
  port: number;
  apiKey: string;
  /** Sender domains verified in the account; others are refused with 403. */
  verifiedDomains: string[];
  /** The account owner's address: the only recipient of the testing domain (resend.dev). */
  ownerEmail: string;
  /** Requests a second; Resend's default team limit is 2. */
  rateLimit?: number;
  /** Where and how its delivery webhooks go; none without it. */
  webhook?: { url: string; secret: string; delayMs: number };
}

/** What the inbox remembers; kept outside the server so that a stopped inbox starts again as it was. */
export interface InboxState {
  emails: StoredEmail[];
  /** Refused emails, for the page's delivery states. */
  rejected: RejectedEmail[];
  calls: ApiCall[];
  faults: Fault[];
  idempotency: Map<string, { hash: string; answer?: Answer; expires: number }>;
  held: (() => void)[];
  /** Delivery webhooks: the delay before each (null: the configured one), or none at all. */
  webhooks: {
    delayMs: number | null;
    enabled: boolean;
    timers: Set<ReturnType<typeof setTimeout>>;
  };
}

export function createInboxState(): InboxState {
  return {
    emails: [],
    rejected: [],
    calls: [],
    faults: [],
    idempotency: new Map(),
    held: [],
    webhooks: { delayMs: null, enabled: true, timers: new Set() },
  };
}

/** Delivery webhooks the inbox has in flight at once. */
const WEBHOOKS_IN_FLIGHT = 4;

/** The events Resend would report for an email to this address, in order. */
export function deliveryEvents(address: string): string[] {
  const domain = address.slice(address.lastIndexOf("@") + 1).toLowerCase();
  if (domain === "bounce.test") return ["email.sent", "email.bounced"];
  if (domain === "complaint.test") return ["email.sent", "email.delivered", "email.complained"];
  return ["email.sent", "email.delivered"];
}

function eventBody(type: string, email: StoredEmail): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    type,
    created_at: at,
    data: {
      created_at: email.received_at,
      email_id: email.id,
      from: email.from,
      to: email.to,
      subject: email.subject,
      ...(email.tags.length
        ? { tags: Object.fromEntries(email.tags.map((t) => [t.name, t.value])) }
        : {}),
      ...(type === "email.bounced"
        ? {
          bounce: {
            message: "The recipient's mail server permanently rejected the email.",
            subType: "General",
            type: "Permanent",
          },
        }
        : {}),
    },
  });
}

export function startMailInbox(
  options: MailInboxOptions,
  state: InboxState = createInboxState(),
): Deno.HttpServer {
  const rateLimit = options.rateLimit ?? 2;
  const account: Account = {
    verifiedDomains: options.verifiedDomains.map((domain) => domain.toLowerCase()),
    ownerEmail: options.ownerEmail,
  };
  const { emails, rejected, calls, faults, idempotency, held, webhooks } = state;

  /** Posts each event of an accepted email after the delay, in order; retried as Svix does. */
  function notify(email: StoredEmail) {
    const target = options.webhook;
    if (!target || !webhooks.enabled) return;
    const events = deliveryEvents(email.to[0] ?? "");
    const post = async (type: string) => {
      const id = `msg_${crypto.randomUUID().replaceAll("-", "")}`;
      const body = eventBody(type, email);
      for (let attempt = 1; attempt <= 3; attempt++) {
        const res = await fetch(target.url, {
          method: "POST",
          headers: signDeliveryEvent(target.secret, id, new Date(), body),
          body,
        }).catch(() => null);
        await res?.body?.cancel();
        if (res?.ok) return;
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    };
    const step = (index: number) => {
      if (index >= events.length) return;
      const timer = setTimeout(() => {
        webhooks.timers.delete(timer);
        email.delivery = events[index];
        enqueue(() => post(events[index])).then(() => step(index + 1));
      }, webhooks.delayMs ?? target.delayMs);
      webhooks.timers.add(timer);
    };
    step(0);
  }

  // A few deliveries at a time, as Svix paces an endpoint: a batch of 100 emails does not turn
  // into 100 simultaneous calls to the function.
  const waiting: (() => void)[] = [];
  let inFlight = 0;
  async function enqueue(work: () => Promise<void>): Promise<void> {
    if (inFlight >= WEBHOOKS_IN_FLIGHT) await new Promise<void>((go) => waiting.push(go));
    inFlight++;
    try {
      await work();
    } finally {
      inFlight--;
      waiting.shift()?.();
    }
  }
  // Refused emails, for the page's delivery states.
  const remember = (input: unknown, reason: string) => {
    const e = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>;
    rejected.push({
      to: list(e.to) ?? [],
      subject: typeof e.subject === "string" ? e.subject : "",
      reason,
      received_at: new Date().toISOString(),
    });
  };
  let window = { start: 0, used: 0 };

  const release = () => new Promise<void>((resolve) => held.push(resolve));

  function rateHeaders(now: number): Record<string, string> {
    return {
      "ratelimit-limit": String(rateLimit),
      "ratelimit-remaining": String(Math.max(rateLimit - window.used, 0)),
      "ratelimit-reset": String(Math.max(Math.ceil((window.start + 1000 - now) / 1000), 1)),
    };
  }

  async function hashOf(text: string): Promise<string> {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function process(path: string, body: unknown, batchValidation: string, key: string | null) {
    const reject = (r: Rejection) => error(r.status, r.name, r.message);
    if (path === "/emails") {
      const accepted = acceptEmail(body, key, account);
      if ("error" in accepted) {
        remember(body, accepted.error.message);
        return reject(accepted.error);
      }
      emails.push(accepted.email);
      notify(accepted.email);
      return { status: 200, body: { id: accepted.email.id } };
    }
    if (!Array.isArray(body)) return error(400, "validation_error", "The body must be an array.");
    if (body.length === 0) return error(400, "validation_error", "The batch is empty.");
    if (body.length > 100) {
      return error(400, "validation_error", "Too many emails in the batch. Maximum is 100.");
    }
    const results = body.map((item) => acceptEmail(item, key, account));
    const rejections = results.flatMap((r, index) => "error" in r ? [{ index, ...r.error }] : []);
    // Permissive validation reports field errors per email; a sender the account may not use
    // (403) refuses the whole call (the stricter reading; Resend does not document it).
    const refused = rejections.find((r) => r.status === 403);
    if (refused) return reject(refused);
    if (rejections.length && batchValidation !== "permissive") return reject(rejections[0]);
    for (const { index, message } of rejections) remember(body[index], message);
    const errors = rejections.map(({ index, message }) => ({ index, message }));
    const stored = results.flatMap((r) => "email" in r ? [r.email] : []);
    emails.push(...stored);
    for (const email of stored) notify(email);
    const data = stored.map((email) => ({ id: email.id }));
    return { status: 200, body: batchValidation === "permissive" ? { data, errors } : { data } };
  }

  async function api(req: Request, path: string): Promise<Response> {
    const now = Date.now();
    if (now - window.start >= 1000) window = { start: now, used: 0 };
    const key = req.headers.get("idempotency-key");
    const text = await req.text();
    let emailsInCall = 0;
    const respond = (answer: Answer, extra: Record<string, string> = {}) => {
      calls.push({
        method: req.method,
        path,
        status: answer.status,
        idempotency_key: key,
        emails: emailsInCall,
        at: new Date().toISOString(),
      });
      return Response.json(answer.body, {
        status: answer.status,
        headers: { ...rateHeaders(Date.now()), ...extra },
      });
    };

    // A held call waits before anything about it is decided.
    const hold = faults[0]?.hold;
    if (hold) {
      if (--faults[0].times <= 0) faults.shift();
      if (hold !== "after") {
        await release();
        if (hold === "before" && req.signal.aborted) {
          return new Response(null, { status: 499 });
        }
      }
    }

    const auth = req.headers.get("authorization");
    if (!auth) {
      return respond(error(401, "missing_api_key", "Missing API key in the authorization header."));
    }
    if (auth !== `Bearer ${options.apiKey}`) {
      return respond(error(403, "invalid_api_key", "API key is invalid"));
    }
    window.used++;
    if (window.used > rateLimit) {
      return respond(
        error(
          429,
          "rate_limit_exceeded",
          `Too many requests. You can only make ${rateLimit} requests per second. ` +
            "See rate limit response headers for more information.",
        ),
        { "retry-after": "1" },
      );
    }

    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return respond(error(400, "validation_error", "The body is not valid JSON."));
    }
    emailsInCall = Array.isArray(body) ? body.length : 1;

    // Like Resend, a key is taken when its request arrives, before the work is done.
    const scoped = key === null ? null : `${path} ${key}`;
    if (key !== null && scoped !== null) {
      if (key.length < 1 || key.length > 256) {
        return respond(
          error(
            400,
            "invalid_idempotency_key",
            "Idempotency key must be between 1-256 characters.",
          ),
        );
      }
      const hash = await hashOf(`${req.headers.get("x-batch-validation") ?? ""}\n${text}`);
      const seen = idempotency.get(scoped);
      if (seen && seen.expires > Date.now()) {
        if (seen.hash !== hash) {
          return respond(
            error(
              409,
              "invalid_idempotent_request",
              "Same idempotency key used with a different request payload.",
            ),
          );
        }
        if (!seen.answer) {
          return respond(
            error(
              409,
              "concurrent_idempotent_requests",
              "Same idempotency key used while original request is still in progress.",
            ),
          );
        }
        emailsInCall = 0;
        return respond(seen.answer, { "x-idempotent-replayed": "true" });
      }
      idempotency.set(scoped, { hash, expires: Date.now() + IDEMPOTENCY_TTL_MS });
    }

    const fault = faults[0]?.hold ? undefined : faults[0];
    if (fault) {
      if (--fault.times <= 0) faults.shift();
      if (fault.delay_ms) await new Promise((resolve) => setTimeout(resolve, fault.delay_ms));
      if (fault.status) {
        if (scoped !== null) idempotency.delete(scoped);
        const name = FAULT_NAMES[fault.status] ?? "internal_server_error";
        return respond(
          error(fault.status, name, `Injected fault: ${fault.status}`),
          fault.status === 429 ? { "retry-after": "1" } : {},
        );
      }
    }

    const answer = process(path, body, req.headers.get("x-batch-validation") ?? "strict", key);
    if (scoped !== null) {
      if (answer.status < 300) idempotency.get(scoped)!.answer = answer;
      else idempotency.delete(scoped);
    }
    if (hold === "after") await release();
    return respond(answer);
  }

  return Deno.serve(
    { hostname: "127.0.0.1", port: options.port, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      if (req.method === "POST" && (path === "/emails" || path === "/emails/batch")) {
        return api(req, path);
      }
      if (path === "/api/emails" && req.method === "GET") return Response.json(emails);
      if (path === "/api/emails" && req.method === "DELETE") {
        emails.length = 0;
        rejected.length = 0;
        calls.length = 0;
        return new Response(null, { status: 204 });
      }
      if (path === "/api/calls" && req.method === "GET") return Response.json(calls);
      if (path === "/api/faults" && req.method === "POST") {
        const fault = await req.json().catch(() => null) as Fault | null;
        if (
          !fault || !Number.isInteger(fault.times) || fault.times < 1 ||
          (fault.hold !== undefined && !["before", "during", "after"].includes(fault.hold))
        ) {
          return Response.json({ error: "expected {status?, times >= 1, delay_ms?, hold?}" }, {
            status: 400,
          });
        }
        faults.push({
          status: fault.status,
          times: fault.times,
          delay_ms: fault.delay_ms,
          hold: fault.hold,
        });
        return Response.json({ queued: faults.length });
      }
      if (path === "/api/faults" && req.method === "DELETE") {
        faults.length = 0;
        return new Response(null, { status: 204 });
      }
      if (path === "/api/held" && req.method === "GET") return Response.json({ held: held.length });
      if (path === "/api/webhooks" && req.method === "POST") {
        const body = await req.json().catch(() => null) as
          | { delay_ms?: number | null; enabled?: boolean }
          | null;
        if (!body) {
          return Response.json({ error: "expected {delay_ms?, enabled?}" }, { status: 400 });
        }
        if (body.delay_ms !== undefined) webhooks.delayMs = body.delay_ms;
        if (body.enabled !== undefined) webhooks.enabled = body.enabled;
        return Response.json({ delay_ms: webhooks.delayMs, enabled: webhooks.enabled });
      }
      if (path === "/api/release" && req.method === "POST") {
        const waiting = held.splice(0);
        for (const go of waiting) go();
        return Response.json({ released: waiting.length });
      }
      if (path === "/" && req.method === "GET") {
        return inboxPage(emails, rejected, new URL(req.url));
      }
      if (path === "/clear" && req.method === "POST") {
        emails.length = 0;
        rejected.length = 0;
        return new Response(null, { status: 303, headers: { location: "/" } });
      }
      const view = /^\/view\/([0-9a-f-]{36})$/.exec(path);
      if (view && req.method === "GET") return viewPage(emails.find((e) => e.id === view[1]));
      if (path === "/emails" || path === "/emails/batch") {
        return Response.json(
          error(405, "method_not_allowed", "Method is not allowed for the requested path.").body,
          { status: 405 },
        );
      }
      return Response.json(
        error(404, "not_found", "The requested endpoint does not exist.").body,
        { status: 404 },
      );
    },
  );
}
