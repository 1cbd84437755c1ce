// Resend's webhooks, verified as Resend signs them: Svix headers (svix-id, svix-timestamp,
// svix-signature) over `${id}.${timestamp}.${body}` with the endpoint's `whsec_` secret, through
// the Standard Webhooks library the `resend` SDK's own `webhooks.verify` uses. A signature that
// does not match, or a timestamp more than five minutes off, is refused.
import { Webhook, WebhookVerificationError } from "standardwebhooks";

export interface DeliveryEvent {
  /** The Svix message id: the same on every redelivery of one event. */
  id: string;
  type: string;
  created_at: string | null;
  /** Resend's id of the email (what the batch call returned). */
  email_id: string | null;
  detail: string | null;
  bounce_type: string | null;
  body_hash: string;
}

export type Verification =
  | { ok: true; event: DeliveryEvent }
  | {
    ok: false;
    /** 401: not Resend's (signature, timestamp); 400: signed, but not an event. */
    status: 400 | 401;
    reason: string;
    name: "svix-signature" | "svix-timestamp" | "svix-id" | "body";
  };

/** Longest Svix message id kept (email_event.id); Resend's are about 30 characters. */
const MAX_ID = 200;
/** Longest provider id kept (email_event.provider_id); Resend's are UUIDs. */
const MAX_EMAIL_ID = 200;
/** Longest event type kept (email_event.type); a longer one is no type Resend sends. */
const MAX_TYPE = 100;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

/** An ISO time the database takes (years 1 to 9999), or null: it is only informational. */
function time(value: unknown): string | null {
  const raw = text(value);
  if (!raw) return null;
  const at = new Date(raw);
  const year = at.getUTCFullYear();
  return Number.isNaN(at.getTime()) || year < 1 || year > 9999 ? null : at.toISOString();
}

export async function verifyDeliveryEvent(
  secret: string,
  headers: Headers,
  body: string,
): Promise<Verification> {
  const id = headers.get("svix-id");
  try {
    new Webhook(secret).verify(body, {
      "webhook-id": id ?? "",
      "webhook-timestamp": headers.get("svix-timestamp") ?? "",
      "webhook-signature": headers.get("svix-signature") ?? "",
    });
  } catch (err) {
    // The library parses the body only once its signature matched.
    if (err instanceof SyntaxError) {
      return { ok: false, status: 400, reason: "webhook body is not JSON", name: "body" };
    }
    const reason = err instanceof WebhookVerificationError ? err.message : String(err);
    return {
      ok: false,
      status: 401,
      reason: `webhook not verified: ${reason}`,
      name: /timestamp/i.test(reason) ? "svix-timestamp" : "svix-signature",
    };
  }
  // Signed, so Resend's or the secret's holder's: what follows is shape, not trust. A field
  // the database could not take is dropped (the event is then ignored), never a 500 that
  // Resend would retry forever.
  if (id!.length > MAX_ID) {
    return { ok: false, status: 400, reason: "webhook id is too long", name: "svix-id" };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, status: 400, reason: "webhook body is not JSON", name: "body" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { ok: false, status: 400, reason: "webhook body is not a JSON object", name: "body" };
  }
  const event = parsed as Record<string, unknown>;
  const data = record(event.data);
  const bounce = record(data.bounce);
  const failed = record(data.failed);
  const type = text(event.type);
  const emailId = text(data.email_id);
  return {
    ok: true,
    event: {
      id: id!,
      type: type && type.length <= MAX_TYPE ? type : "unknown",
      created_at: time(event.created_at),
      email_id: emailId && emailId.length <= MAX_EMAIL_ID ? emailId : null,
      detail: text(bounce.message) ?? text(failed.reason),
      bounce_type: text(bounce.type),
      body_hash: await sha256(body),
    },
  };
}

/** Signs a body as Resend does (the local stand-in sends its webhooks with it). */
export function signDeliveryEvent(
  secret: string,
  id: string,
  at: Date,
  body: string,
): Record<string, string> {
  return {
    "svix-id": id,
    "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
    "svix-signature": new Webhook(secret).sign(id, at, body),
    "content-type": "application/json",
  };
}
