// POST /functions/v1/job-interview-register-users: parses, authenticates, validates, registers,
// and answers with one row per candidate in input order. Errors share one JSON shape.
import { type Caller, createAuthenticator } from "../_shared/auth.ts";
import { type Config, config as loadConfig } from "../_shared/config.ts";
import { createServiceClient } from "../_shared/db.ts";
import {
  corsHeaders,
  errorResponse,
  HttpError,
  jsonResponse,
  readJsonBody,
  requestIdOf,
} from "../_shared/http.ts";
import { createInterviewTokenSigner } from "../_shared/interview_token.ts";
import { logEvent } from "../_shared/log.ts";
import { registerUsers } from "./register.ts";
import { describeIssue, registerRequestSchema } from "./schema.ts";

const FUNCTION_NAME = "job-interview-register-users";

export function createHandler(cfg: Config): (req: Request) => Promise<Response> {
  const authenticate = createAuthenticator(cfg);
  const schema = registerRequestSchema(cfg.maxUsersPerRequest);
  const deps = {
    cfg,
    db: createServiceClient(cfg),
    signer: createInterviewTokenSigner(cfg.interviewSigningKey, {
      issuer: cfg.interviewTokenIssuer,
      audience: cfg.interviewTokenAudience,
    }),
  };

  return async function handle(req: Request): Promise<Response> {
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: corsHeaders });
    const started = performance.now();
    const requestId = requestIdOf(req);
    let caller: Caller | undefined;
    let merchantId: string | undefined;
    let users: number | undefined;
    let registered: number | undefined;
    let status = 500;
    try {
      if (req.method !== "POST") {
        throw new HttpError(405, "Method not allowed: use POST", undefined, {
          allow: "POST, OPTIONS",
        });
      }
      caller = await authenticate(req);
      const parsed = schema.safeParse(await readJsonBody(req, cfg.maxBodyBytes));
      if (!parsed.success) {
        const { message, field } = describeIssue(parsed.error);
        throw new HttpError(field ? 422 : 400, message, field);
      }
      users = parsed.data.users.length;
      const registration = await registerUsers(deps, caller, parsed.data);
      merchantId = registration.merchantId;
      registered = registration.rows.filter((row) => row.result === "ok").length;
      status = 200;
      return jsonResponse(registration.rows, 200, { "x-request-id": requestId });
    } catch (err) {
      if (err instanceof HttpError) {
        status = err.status;
        return errorResponse(err, requestId);
      }
      logEvent("error", {
        msg: "unexpected failure",
        function: FUNCTION_NAME,
        request_id: requestId,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      return errorResponse(
        new HttpError(500, `Internal error; quote request id ${requestId} when reporting it`),
        requestId,
      );
    } finally {
      logEvent(status >= 500 ? "error" : "info", {
        msg: "request",
        function: FUNCTION_NAME,
        request_id: requestId,
        method: req.method,
        status,
        caller: caller?.kind === "service" ? `service:${caller.via}` : caller?.kind ?? null,
        merchant_id: merchantId ?? null,
        users: users ?? null,
        registered: registered ?? null,
        duration_ms: Math.round(performance.now() - started),
      });
    }
  };
}

let handler: ((req: Request) => Promise<Response>) | undefined;

/** The handler with configuration from the environment, built on first use. */
export function handleRequest(req: Request): Promise<Response> {
  try {
    handler ??= createHandler(loadConfig());
  } catch (err) {
    logEvent("error", { msg: "configuration error", function: FUNCTION_NAME, error: String(err) });
    const requestId = requestIdOf(req);
    return Promise.resolve(errorResponse(
      new HttpError(500, `Internal error; quote request id ${requestId} when reporting it`),
      requestId,
    ));
  }
  return handler(req);
}
