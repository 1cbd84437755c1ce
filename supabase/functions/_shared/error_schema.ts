// The one error shape every endpoint answers with, as a schema for the OpenAPI document.
import { z } from "zod";

export const errorResponseSchema = z.object({
  error: z.string().meta({ description: "What went wrong, for people." }),
  name: z.string().optional().meta({
    description: "The request field the error is about, for field errors (e.g. users[2].name).",
  }),
  code: z.string().optional().meta({
    description: "A stable machine-readable reason, where callers need to tell errors apart " +
      "(e.g. token_used, rate_limited, idempotency_key_reused).",
  }),
});
