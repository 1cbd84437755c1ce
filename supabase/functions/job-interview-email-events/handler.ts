// POST /functions/v1/job-interview-email-events: Resend's delivery webhooks (email.sent,
// delivered, delivery_delayed, bounced, complained, failed). Verified by their Svix signature
// (no JWT: the gateway lets it through, see config.toml), recorded once per event id on the
// email's row; a hard bounce or a complaint suppresses the address for the merchant. An event for
// an email this project did not send is acknowledged and ignored, so Resend stops retrying it.
import type { Config } from "../_shared/config.ts";
import { callRpc, createServiceClient } from "../_shared/db.ts";
import { verifyDeliveryEvent } from "../_shared/email/webhook.ts";
import { handlerFromEnv, postEndpoint } from "../_shared/endpoint.ts";
import { HttpError, jsonResponse, readBodyBytes } from "../_shared/http.ts";

const FUNCTION_NAME = "job-interview-email-events";

/** Resend's events are small; anything much larger is not one. */
const MAX_BODY_BYTES = 256 * 1024;

export function createHandler(cfg: Config) {
  const db = createServiceClient(cfg);

  return postEndpoint(FUNCTION_NAME, async (req, ctx) => {
    const secret = cfg.email.webhookSecret;
    if (!secret) {
      // Resend retries a failed delivery: nothing is lost while the secret is being set.
      throw new HttpError(503, "webhooks are not configured (RESEND_WEBHOOK_SECRET)");
    }
    // Read up to the limit only: this endpoint takes anyone's body before its signature.
    const bytes = await readBodyBytes(
      req,
      MAX_BODY_BYTES,
      () => new HttpError(413, "webhook body too large", "body"),
    );
    const body = new TextDecoder().decode(bytes);
    const verified = await verifyDeliveryEvent(secret, req.headers, body);
    if (!verified.ok) throw new HttpError(verified.status, verified.reason, verified.name);
    const { event } = verified;
    const recorded = await callRpc<{ outcome: string; state?: string }>(
      db,
      "record_email_event",
      { p_event: event },
      cfg.dbTimeoutMs,
    );
    Object.assign(ctx.log, { event: event.type, outcome: recorded.outcome });
    if (recorded.outcome === "conflict") {
      // The id of an event already taken, with another body: not Resend's redelivery.
      throw new HttpError(409, "webhook id already used for another event", "svix-id");
    }
    return jsonResponse({ received: true, outcome: recorded.outcome }, 200);
  });
}

export const handleRequest = handlerFromEnv(FUNCTION_NAME, createHandler);
