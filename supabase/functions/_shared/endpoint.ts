// What every endpoint here does around its own work: the CORS preflight, the shared error shape,
// a 500 that shows only the request id, and one structured log line per request; POST endpoints
// also answer 405 for other methods.
import { type Config, config as loadConfig } from "./config.ts";
import { corsHeaders, errorResponse, HttpError, requestIdOf } from "./http.ts";
import { logEvent } from "./log.ts";

export interface RequestContext {
  requestId: string;
  /** Fields for the request's log line; never tokens, keys or candidate emails. */
  log: Record<string, unknown>;
}

export type Handler = (req: Request) => Promise<Response>;

function internalError(requestId: string): Response {
  return errorResponse(
    new HttpError(500, `Internal error; quote request id ${requestId} when reporting it`),
    requestId,
  );
}

/**
 * What every endpoint does around its own work: the CORS preflight, the shared error shape, a 500
 * that shows only the request id, and one log line per request. `work` checks its own method.
 */
export function jsonEndpoint(
  name: string,
  work: (req: Request, ctx: RequestContext) => Promise<Response>,
): Handler {
  return async function handle(req) {
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: corsHeaders });
    const started = performance.now();
    const ctx: RequestContext = { requestId: requestIdOf(req), log: {} };
    let status = 500;
    try {
      const res = await work(req, ctx);
      status = res.status;
      res.headers.set("x-request-id", ctx.requestId);
      return res;
    } catch (err) {
      if (err instanceof HttpError) {
        status = err.status;
        return errorResponse(err, ctx.requestId);
      }
      logEvent("error", {
        msg: "unexpected failure",
        function: name,
        request_id: ctx.requestId,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      return internalError(ctx.requestId);
    } finally {
      logEvent(status >= 500 ? "error" : "info", {
        msg: "request",
        function: name,
        request_id: ctx.requestId,
        method: req.method,
        status,
        ...ctx.log,
        duration_ms: Math.round(performance.now() - started),
      });
    }
  };
}

/** An endpoint that takes POST only (405 otherwise). */
export function postEndpoint(
  name: string,
  work: (req: Request, ctx: RequestContext) => Promise<Response>,
): Handler {
  return jsonEndpoint(name, (req, ctx) => {
    if (req.method !== "POST") {
      throw new HttpError(405, "Method not allowed: use POST", undefined, {
        allow: "POST, OPTIONS",
      });
    }
    return work(req, ctx);
  });
}

/** The function's handler with configuration from the environment, built on first use. */
export function handlerFromEnv(name: string, create: (cfg: Config) => Handler): Handler {
  let handler: Handler | undefined;
  return (req) => {
    try {
      handler ??= create(loadConfig());
    } catch (err) {
      logEvent("error", { msg: "configuration error", function: name, error: String(err) });
      return Promise.resolve(internalError(requestIdOf(req)));
    }
    return handler(req);
  };
}
