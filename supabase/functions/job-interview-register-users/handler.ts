// POST /functions/v1/job-interview-register-users: authenticates, validates, registers, and
// answers with one row per candidate in input order.
import { createHash } from "node:crypto";
import { createAuthenticator } from "../_shared/auth.ts";
import type { Config } from "../_shared/config.ts";
import { handlerFromEnv, postEndpoint } from "../_shared/endpoint.ts";
import { HttpError, rawJsonResponse, readJsonBody } from "../_shared/http.ts";
import { createServices } from "../_shared/services.ts";
import { parseBody } from "../_shared/validation.ts";
import { rateLimitHeaders, registerUsers } from "./register.ts";
import { type RegisterRequest, registerRequestSchema } from "./schema.ts";

const FUNCTION_NAME = "job-interview-register-users";

/** The Idempotency-Key header, checked; null when absent. */
function idempotencyKeyOf(req: Request): string | null {
  const key = req.headers.get("idempotency-key");
  if (key === null) return null;
  if (key.length < 1 || key.length > 255) {
    throw new HttpError(400, "Idempotency-Key must be 1 to 255 characters", "Idempotency-Key");
  }
  return key;
}

/**
 * A digest of the request as understood, so formatting and unknown keys do not matter. An email
 * that is not a string counts only as that (it fails its row, whatever it is), so that no
 * structure sent in its place is ever serialised.
 */
function requestHash(request: RegisterRequest): string {
  const users = request.users.map((user) => ({
    name: user.name ?? null,
    email: typeof user.email === "string" ? user.email : user.email == null ? null : false,
    external_id: user.external_id ?? null,
  }));
  return createHash("sha256").update(JSON.stringify({ ...request, users })).digest("hex");
}

export function createHandler(cfg: Config) {
  const authenticate = createAuthenticator(cfg);
  const schema = registerRequestSchema(cfg.maxUsersPerRequest);
  const services = createServices(cfg);

  return postEndpoint(FUNCTION_NAME, async (req, ctx) => {
    const caller = await authenticate(req);
    ctx.log.caller = caller.kind === "service" ? `service:${caller.via}` : caller.kind;
    const key = idempotencyKeyOf(req);
    const request = parseBody(schema, await readJsonBody(req, cfg.maxBodyBytes));
    ctx.log.users = request.users.length;
    const idempotency = key ? { key, hash: requestHash(request) } : null;

    const registration = await registerUsers(services, caller, request, idempotency);
    ctx.log.merchant_id = registration.merchantId;
    Object.assign(ctx.log, registration.timings);
    const headers = rateLimitHeaders(registration.rate);
    if (registration.replayed) {
      ctx.log.replayed = true;
      headers["idempotent-replayed"] = "true";
    } else {
      ctx.log.registered = registration.registered;
    }
    return rawJsonResponse(registration.body, 200, headers);
  });
}

export const handleRequest = handlerFromEnv(FUNCTION_NAME, createHandler);
