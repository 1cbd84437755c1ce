// A local stand-in for Resend: speaks the parts of Resend's HTTP API that the `resend` SDK uses
// (POST /emails, POST /emails/batch) with Resend's response and error shapes, Idempotency-Key
// semantics and rate-limit headers, keeps what it receives, and shows it:
//   GET /                 web inbox (stack/mail_inbox_page.ts)   GET /view/<id>   one email
//   POST /clear           the inbox page's "clear" button
//   GET /api/emails       JSON, newest last               DELETE /api/emails   empty it
//   GET /api/calls        every API call it answered
//   POST /api/faults      {"status": 500|429|503, "times": N, "delay_ms": D}: the next N API calls
//                         fail that way (without status: are answered late, after processing)
// Recipients at the reserved `.invalid` top-level domain are rejected, as a provider rejects an
// address it cannot deliver to.
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
}

interface ApiCall {
  method: string;
  path: string;
  status: number;
  idempotency_key: string | null;
  emails: number;
  at: string;
}

interface Fault {
  status?: number;
  times: number;
  delay_ms?: number;
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

/** Validates one email of a request; returns the stored form or the error Resend would give. */
function acceptEmail(
  input: unknown,
  idempotencyKey: string | null,
): { email: StoredEmail } | { error: string } {
  if (typeof input !== "object" || input === null) return { error: "Invalid email object." };
  const e = input as Record<string, unknown>;
  if (typeof e.from !== "string" || !addressOf(e.from)) {
    return {
      error: "Invalid `from` field. The email address needs to follow the `email@example.com` " +
        "or `Name <email@example.com>` format.",
    };
  }
  const to = list(e.to);
  if (!to || !to.length) return { error: "Missing `to` field." };
  if (to.length > 50) return { error: "Too many recipients in `to` field. Maximum is 50." };
  for (const recipient of to) {
    const address = addressOf(recipient);
    if (!address) {
      return {
        error: "Invalid `to` field. The email address needs to follow the `email@example.com` " +
          "or `Name <email@example.com>` format.",
      };
    }
    if (address.toLowerCase().endsWith(".invalid")) {
      return { error: `The recipient ${address} was rejected: its domain does not accept email.` };
    }
  }
  if (typeof e.subject !== "string" || !e.subject) return { error: "Missing `subject` field." };
  if (/[\r\n]/.test(e.subject)) return { error: "Invalid `subject` field." };
  if (typeof e.html !== "string" && typeof e.text !== "string") {
    return { error: "Missing `html` or `text` field." };
  }
  return {
    email: {
      id: crypto.randomUUID(),
      from: e.from,
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
    },
  };
}

export interface MailInboxOptions {
  port: number;
  apiKey: string;
  /** Requests a second, as Resend's default team limit. */
  rateLimit?: number;
}

export function startMailInbox(options: MailInboxOptions): Deno.HttpServer {
  const rateLimit = options.rateLimit ?? 5;
  const emails: StoredEmail[] = [];
  // Refused emails, for the page's delivery states.
  const rejected: RejectedEmail[] = [];
  const reject = (input: unknown, reason: string) => {
    const e = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>;
    rejected.push({
      to: list(e.to) ?? [],
      subject: typeof e.subject === "string" ? e.subject : "",
      reason,
      received_at: new Date().toISOString(),
    });
  };
  const calls: ApiCall[] = [];
  const faults: Fault[] = [];
  const idempotency = new Map<
    string,
    { hash: string; answer?: Answer; expires: number }
  >();
  let window = { start: 0, used: 0 };

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
    if (path === "/emails") {
      const accepted = acceptEmail(body, key);
      if ("error" in accepted) {
        reject(body, accepted.error);
        return error(422, "validation_error", accepted.error);
      }
      emails.push(accepted.email);
      return { status: 200, body: { id: accepted.email.id } };
    }
    if (!Array.isArray(body)) return error(422, "validation_error", "The body must be an array.");
    if (body.length === 0) return error(422, "validation_error", "The batch is empty.");
    if (body.length > 100) {
      return error(422, "validation_error", "Too many emails in the batch. Maximum is 100.");
    }
    const results = body.map((item) => acceptEmail(item, key));
    const errors = results.flatMap((r, index) => "error" in r ? [{ index, message: r.error }] : []);
    for (const { index, message } of errors) reject(body[index], message);
    if (errors.length && batchValidation !== "permissive") {
      return error(422, "validation_error", errors[0].message);
    }
    const stored = results.flatMap((r) => "email" in r ? [r.email] : []);
    emails.push(...stored);
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
      return respond(error(422, "validation_error", "The body is not valid JSON."));
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

    const fault = faults[0];
    if (fault) {
      if (--fault.times <= 0) faults.shift();
      if (fault.delay_ms) await new Promise((resolve) => setTimeout(resolve, fault.delay_ms));
      if (fault.status) {
        if (scoped !== null) idempotency.delete(scoped);
        const name = fault.status === 429 ? "rate_limit_exceeded" : "internal_server_error";
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
        if (!fault || !Number.isInteger(fault.times) || fault.times < 1) {
          return Response.json({ error: "expected {status?, times >= 1, delay_ms?}" }, {
            status: 400,
          });
        }
        faults.push({ status: fault.status, times: fault.times, delay_ms: fault.delay_ms });
        return Response.json({ queued: faults.length });
      }
      if (path === "/api/faults" && req.method === "DELETE") {
        faults.length = 0;
        return new Response(null, { status: 204 });
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
      return Response.json(error(404, "not_found", "Not found").body, { status: 404 });
    },
  );
}
