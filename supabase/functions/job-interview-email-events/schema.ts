// The delivery webhook's body (as Resend sends it) and answer: the single source of its OpenAPI
// entry. The body is checked only after its signature is.
import { z } from "zod";

export const EVENT_TYPES = [
  "email.sent",
  "email.delivered",
  "email.delivery_delayed",
  "email.bounced",
  "email.complained",
  "email.failed",
] as const;

export const eventRequestSchema = z.looseObject({
  type: z.string().meta({
    description: `One of ${EVENT_TYPES.join(", ")}; other types are acknowledged and ignored.`,
    examples: ["email.delivered"],
  }),
  created_at: z.string().meta({ description: "When Resend created the event." }),
  data: z.looseObject({
    email_id: z.string().meta({ description: "Resend's id of the email." }),
    bounce: z.looseObject({
      type: z.string().meta({ description: "Permanent (suppresses the address) or Transient." }),
      message: z.string(),
    }).optional(),
  }),
}).meta({ description: "A Resend webhook event, signed with Svix headers." });

export const eventResponseSchema = z.object({
  received: z.literal(true),
  outcome: z.enum(["applied", "duplicate", "unknown_email"]).meta({
    description: "applied: recorded on the email's row; duplicate: this event id was taken " +
      "before (a redelivery), nothing changed; unknown_email: not an email this project sent, " +
      "ignored.",
  }),
});
