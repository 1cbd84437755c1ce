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
  | { ok: false; reason: string; name: "svix-signature" | "svix-timestamp" | "body" };

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
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
    const reason = err instanceof WebhookVerificationError ? err.message : String(err);
    return {
      ok: false,
      reason: `webhook not verified: ${reason}`,
      name: /timestamp/i.test(reason) ? "svix-timestamp" : "svix-signature",
    };
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, reason: "webhook body is not JSON", name: "body" };
  }
  const data =
    (typeof parsed.data === "object" && parsed.data !== null ? parsed.data : {}) as Record<
      string,
      unknown
    >;
  const bounce = (data.bounce ?? {}) as Record<string, unknown>;
  const failed = (data.failed ?? {}) as Record<string, unknown>;
  return {
    ok: true,
    event: {
      id: id!,
      type: text(parsed.type) ?? "unknown",
      created_at: text(parsed.created_at),
      email_id: text(data.email_id),
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
