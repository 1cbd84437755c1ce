// The request and response, as published: these zod schemas are the single source of the
// handler's types and of the OpenAPI document (openapi/). Emails are deliberately not validated
// here: a bad email fails its own row, never the request.
import { z } from "zod";

/** `true` or the string "true" switch a flag on; false, "false", null or absent switch it off. */
const flag = (description: string) =>
  z
    .union([z.boolean(), z.enum(["true", "false"]), z.null()], {
      error: 'must be true, false, "true", "false" or null',
    })
    .optional()
    .transform((value) => value === true || value === "true")
    .meta({ description });

/**
 * The message for a value zod refuses: "is required: ..." only when the field is absent, else what
 * a present value must be, so a caller is never told to add a field they sent.
 */
const expected = (required: string, wrong: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `is required: ${required}` : wrong;

const nullableText = (max: number, description: string) =>
  z.string({ error: "must be a string or null" })
    .max(max, { error: `must be at most ${max} characters` })
    .nullish()
    .meta({ description });

export const registerUserSchema = z.object({
  name: nullableText(200, "The candidate's name."),
  // Any value is accepted here and checked per row, so one bad email fails only its row.
  email: z.unknown().optional().meta({
    description: "The candidate's email (a string). Validated per candidate: a missing or " +
      "invalid email fails that candidate's row only.",
    examples: ["jozo@jozo.sk"],
  }),
  external_id: nullableText(
    255,
    "Your id for the candidate, echoed back and shown with each enrolment's email delivery " +
      "state (the enrolment_email_status view).",
  ),
}, { error: "must be an object with name, email and external_id" });

export function registerRequestSchema(maxUsers: number) {
  return z.object({
    users: z
      .array(registerUserSchema, {
        error: expected("an array of candidates", "must be an array of candidates"),
      })
      .min(1, { error: "must hold at least one candidate" })
      .max(maxUsers, { error: `must hold at most ${maxUsers} candidates per request` })
      .meta({
        description:
          "Candidates to register for the interview. Each gets a one-time interview URL.",
      }),
    // Lower case, as the database writes UUIDs: the link's path then matches its token's
    // claims, and a retry with the id in other letters is the same request.
    interview_id: z.guid({
      error: expected("the interview or position id (a UUID)", "must be a UUID"),
    }).toLowerCase().meta({
      description: "Interview definition (interview_def_set) or position (position_def_set) id " +
        "to register users for.",
      examples: ["04e09fa5-3fb8-4236-b37d-fca2bcd1cb66"],
    }),
    merchant_id: z.guid({ error: "must be a UUID or null" }).toLowerCase().nullish().meta({
      description: "Merchant id. Required when authenticating with the service key; for user " +
        "tokens it is optional and only honored for admin / sub-merchant accounts; with a " +
        "merchant API key optional (the key's merchant, or a sub-merchant the key may act for).",
      examples: ["b5201178-46dd-4a20-a1af-7ffd647f834b"],
    }),
    send_email: z.boolean({ error: "must be true, false or null" }).nullish().meta({
      description: "Whether to send an invitation email to each registered candidate.",
    }),
    type: z.enum(["url", "invitation"], { error: 'must be "url" or "invitation"' }).nullish()
      .meta({
        description: 'The older shape of send_email: "invitation" sends the email, "url" does ' +
          "not. send_email wins when both are given.",
      }),
    hide_menu: flag('When true (or the string "true"), the interview UI hides its menu (view_hm).'),
    hide_iframe: flag(
      'When true (or the string "true"), the interview UI hides its iframe chrome (view_hi).',
    ),
    is_test: flag(
      'When true (or the string "true"), mints a test token that can take a draft/unpublished ' +
        "interview and flags the result as a test.",
    ),
    revoke_previous: flag(
      "When true, also revokes each candidate's earlier unused interview links (an extension " +
        "of the published contract).",
    ),
  }, { error: "Request body must be a JSON object" });
}

export const resultRowSchema = z.object({
  name: z.string().nullable().meta({ description: "As sent; null when absent." }),
  email: z.string().nullable().meta({
    description: "As sent when it is a string; null when absent or not a string.",
  }),
  external_id: z.string().nullable().meta({ description: "As sent; null when absent." }),
  result: z.string().meta({
    description: '"ok" on success, otherwise an "Error: ..." message for that user.',
    examples: ["ok", "Error: invalid email address"],
  }),
  interview_url: z.url().optional().meta({
    description: "One-time interview URL containing the minted interview_token. Present only " +
      "on success.",
  }),
  profile_interview_id: z.guid().optional().meta({
    description: "The enrolment's id (the same when a candidate is registered again). Present " +
      "only on success.",
  }),
  expires_at: z.iso.datetime({ offset: true }).optional().meta({
    description: "When the link expires. Present only on success.",
  }),
  email_status: z.enum(["sent", "queued", "failed", "skipped"]).optional().meta({
    description: "The invitation email at answer time: sent, queued (will be retried), " +
      "failed (see email_error), or skipped (see email_skipped_reason). A test registration's " +
      'email is sent too, marked "[Test]". Delivery (delivered, bounced, ...) is reported ' +
      "later, in the enrolment_email_status view. " +
      "Present only on success.",
  }),
  email_error: z.string().optional().meta({ description: "Why the email failed." }),
  email_skipped_reason: z.string().optional().meta({
    description: "Why the email was skipped (with email_status skipped): not_requested, " +
      "emails_disabled (the merchant's candidate emails are off), suppressed (the address " +
      "bounced or complained before), or why it could no longer go: token_revoked, " +
      "token_used, token_expired, enrolment_deleted, interview_unavailable.",
    examples: ["not_requested", "suppressed"],
  }),
});

export const registerResponseSchema = z.array(resultRowSchema).meta({
  description: "Per-user registration results, in the order of the request's users.",
});

export type RegisterRequest = z.infer<ReturnType<typeof registerRequestSchema>>;
export type ResultRow = z.infer<typeof resultRowSchema>;
