// The request body, as published: this zod schema is the single source of the handler's types
// (and of the OpenAPI document). Emails are deliberately not validated here: a bad email fails
// its own row, never the request.
import { z } from "zod";

/** `true` or the string "true" switch a flag on; false, "false", null or absent switch it off. */
const flag = z
  .union([z.boolean(), z.enum(["true", "false"]), z.null()], {
    error: 'must be true, false, "true", "false" or null',
  })
  .optional()
  .transform((value) => value === true || value === "true");

const nullableText = (max: number) =>
  z.string({ error: "must be a string or null" })
    .max(max, { error: `must be at most ${max} characters` })
    .nullish();

export const registerUserSchema = z.object({
  name: nullableText(200),
  // Any value is accepted here and checked per row, so one bad email fails only its row.
  email: z.unknown().optional(),
  external_id: nullableText(255),
}, { error: "must be an object with name, email and external_id" });

export function registerRequestSchema(maxUsers: number) {
  return z.object({
    users: z
      .array(registerUserSchema, { error: "is required: an array of candidates" })
      .min(1, { error: "must hold at least one candidate" })
      .max(maxUsers, { error: `must hold at most ${maxUsers} candidates per request` }),
    interview_id: z.guid({ error: "is required: the interview or position id (a UUID)" }),
    merchant_id: z.guid({ error: "must be a UUID or null" }).nullish(),
    send_email: z.boolean({ error: "must be true, false or null" }).nullish(),
    type: z.enum(["url", "invitation"], { error: 'must be "url" or "invitation"' }).nullish(),
    hide_menu: flag,
    hide_iframe: flag,
    is_test: flag,
    // Not in the published contract: also revoke each enrolment's earlier unused links.
    revoke_previous: flag,
  }, { error: "Request body must be a JSON object" });
}

export type RegisterRequest = z.infer<ReturnType<typeof registerRequestSchema>>;
export type RegisterUser = z.infer<typeof registerUserSchema>;
