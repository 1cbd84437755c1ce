// POST /functions/v1/job-interview-register-users: authenticates, validates, registers, and
// answers with one row per candidate in input order.
import { createAuthenticator } from "../_shared/auth.ts";
import type { Config } from "../_shared/config.ts";
import { handlerFromEnv, postEndpoint } from "../_shared/endpoint.ts";
import { jsonResponse, readJsonBody } from "../_shared/http.ts";
import { createServices } from "../_shared/services.ts";
import { registerUsers } from "./register.ts";
import { parseBody } from "../_shared/validation.ts";
import { registerRequestSchema } from "./schema.ts";

const FUNCTION_NAME = "job-interview-register-users";

export function createHandler(cfg: Config) {
  const authenticate = createAuthenticator(cfg);
  const schema = registerRequestSchema(cfg.maxUsersPerRequest);
  const services = createServices(cfg);

  return postEndpoint(FUNCTION_NAME, async (req, ctx) => {
    const caller = await authenticate(req);
    ctx.log.caller = caller.kind === "service" ? `service:${caller.via}` : "user";
    const request = parseBody(schema, await readJsonBody(req, cfg.maxBodyBytes));
    ctx.log.users = request.users.length;
    const registration = await registerUsers(services, caller, request);
    ctx.log.merchant_id = registration.merchantId;
    ctx.log.registered = registration.rows.filter((row) => row.result === "ok").length;
    Object.assign(ctx.log, registration.timings);
    return jsonResponse(registration.rows, 200);
  });
}

export const handleRequest = handlerFromEnv(FUNCTION_NAME, createHandler);
