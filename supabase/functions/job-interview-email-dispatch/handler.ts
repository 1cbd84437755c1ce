// POST /functions/v1/job-interview-email-dispatch (service key only): sends the invitation emails
// that are due (new, to retry, or left behind by a sender that died) and says what happened.
// Then, with what time is left, Greenhouse's completion callbacks that are due (their counts are
// in the log line).
// Scheduled every minute by pg_cron on Supabase, and on a timer by the local stack.
import { createAuthenticator } from "../_shared/auth.ts";
import type { Config } from "../_shared/config.ts";
import { handlerFromEnv, postEndpoint } from "../_shared/endpoint.ts";
import { HttpError, jsonResponse, readJsonBody } from "../_shared/http.ts";
import { dispatchCallbacks } from "../_shared/greenhouse_callback.ts";
import { createServices } from "../_shared/services.ts";
import { parseBody } from "../_shared/validation.ts";
import { dispatchRequestSchema } from "./schema.ts";

const FUNCTION_NAME = "job-interview-email-dispatch";

export function createHandler(cfg: Config) {
  const authenticate = createAuthenticator(cfg);
  const { dispatcher, db } = createServices(cfg);

  return postEndpoint(FUNCTION_NAME, async (req, ctx) => {
    const caller = await authenticate(req);
    if (caller.kind !== "service") {
      throw new HttpError(403, "Only the service key may dispatch emails");
    }
    const request = parseBody(
      dispatchRequestSchema,
      await readJsonBody(req, 4096, { emptyAs: {} }),
    );
    const deadline = Date.now() + (request.max_duration_ms ?? 25_000);
    const limit = request.limit ?? 500;
    const { outcomes: _outcomes, ...counts } = await dispatcher.drain({ deadline, limit });
    Object.assign(ctx.log, counts);
    Object.assign(ctx.log, await dispatchCallbacks(cfg, db, { deadline, limit }));
    return jsonResponse(counts, 200);
  });
}

export const handleRequest = handlerFromEnv(FUNCTION_NAME, createHandler);
