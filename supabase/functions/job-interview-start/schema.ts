// The start endpoint's request and answer: the single source of its types and OpenAPI entry.
import { z } from "zod";

export const startRequestSchema = z.object({
  interview_token: z.string({
    error: (issue) =>
      issue.input === undefined
        ? "is required: the token from the interview link"
        : "must be a string: the token from the interview link",
  })
    .min(1, { error: "is required: the token from the interview link" })
    .max(8192, { error: "is not a valid interview token" })
    .meta({ description: "The interview_token parameter of the candidate's interview URL." }),
}, { error: "Request body must be a JSON object" });

export const startResponseSchema = z.object({
  attempt_id: z.guid().meta({ description: "The interview attempt (interview_result) begun." }),
  interview: z.object({
    id: z.guid(),
    name: z.string(),
    language: z.string().meta({ description: "mojito_language_code, e.g. en." }),
  }),
  candidate: z.object({ name: z.string().nullable() }),
  profile_interview_id: z.guid(),
  is_test: z.boolean(),
  attempts_left: z.int().min(0),
  view: z.object({ hide_menu: z.boolean(), hide_iframe: z.boolean() }),
});

export const jwksSchema = z.object({
  keys: z.array(z.looseObject({ kty: z.string(), kid: z.string() })),
}).meta({ description: "Public keys (JWKS) that verify interview tokens, current and previous." });
