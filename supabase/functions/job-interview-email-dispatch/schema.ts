// The dispatch endpoint's request and answer: the single source of its types and OpenAPI entry.
import { z } from "zod";

export const dispatchRequestSchema = z.object({
  limit: z.int({ error: "must be an integer from 1 to 1000" })
    .min(1, { error: "must be an integer from 1 to 1000" })
    .max(1000, { error: "must be an integer from 1 to 1000" }).optional()
    .meta({ description: "Rows to claim per round (default 500)." }),
  max_duration_ms: z.int({ error: "must be an integer from 100 to 50000" })
    .min(100, { error: "must be an integer from 100 to 50000" })
    .max(50_000, { error: "must be an integer from 100 to 50000" })
    .optional().meta({ description: "Stop claiming after this long (default 25000)." }),
}, { error: "Request body must be a JSON object" });

export const dispatchResponseSchema = z.object({
  claimed: z.int().min(0),
  sent: z.int().min(0),
  failed: z.int().min(0),
  retrying: z.int().min(0),
  calls: z.int().min(0).meta({ description: "Calls made to the email provider." }),
});
