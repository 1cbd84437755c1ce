// Plays Supabase's API gateway on one port, with the header handling a real project applies, so
// that what passes here passes there. Where the hosted gateway and the CLI's (Kong) differ, the
// stricter of the two is reproduced:
// - /rest/v1: an `apikey` header with one of the project's keys is required (hosted); an `sb_`
//   key in Authorization only when it equals `apikey` (hosted). The key becomes the legacy JWT of
//   its role for PostgREST (both).
// - /functions/v1/<name>: Authorization is kept when it holds anything but an `sb_` key;
//   otherwise it is replaced by the role JWT of the `apikey` (secret or publishable key), by the
//   `apikey` itself, or dropped (the CLI's rule; the hosted gateway passes an `sb_` Bearer on,
//   so a caller relying on that fails here). No CORS at the gateway (hosted: the function answers
//   its own preflight), and a 150 s request idle time-out, then 504 (both).
// - /auth/v1: the JWKS (public), and `GET /auth/v1/user` answered as Supabase Auth does
//   (stack/auth_user.ts), behind the `apikey` check (hosted).
// - Anything else: 404 in the project's error shape.
import type postgres from "postgres";
import type { StackKeys } from "./keys.ts";
import { authUser } from "./auth_user.ts";

export interface GatewayTargets {
  postgrest: string;
  /** Each function's own server, by name. */
  functions: Record<string, string>;
}

/** What passed through the gateway; the benchmark reads database round trips from it. */
export interface GatewayStats {
  restRequests: number;
  functionRequests: number;
  /** Each function's current process id (a function that died runs under a new one). */
  functionPids?: Record<string, number>;
}

/** Supabase's request idle time-out for Edge Functions (docs: Edge Functions, Limits). */
export const FUNCTION_IDLE_TIMEOUT_MS = 150_000;

const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "upgrade", "host"];

/**
 * Test stacks only: responses to lose. The request reaches PostgREST and runs to the end (its
 * transaction commits), then the caller gets 502 as from a proxy whose upstream connection broke:
 * the "did it happen?" case a caller cannot tell from a failure before the commit.
 */
export interface GatewayFaults {
  /** PostgREST paths (e.g. `/rpc/register_interview_users`) and how many responses to lose. */
  loseResponses: Map<string, number>;
}

const LOST = () =>
  Response.json({ message: "An invalid response was received from the upstream server" }, {
    status: 502,
  });

const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS",
};

function errorJson(status: number, error: string, name: string): Response {
  return Response.json({ error, name }, { status });
}

/** Kong's key-auth answers (hosted gateway): no key, or a key that is not the project's. */
function apiKeyError(message: string, hint: string): Response {
  return Response.json({ message, hint }, { status: 401, headers: CORS_HEADERS });
}

async function forward(
  req: Request,
  target: string,
  headers: Headers,
  timeoutMs: number | null,
  extra: Record<string, string> = {},
): Promise<Response> {
  for (const name of HOP_BY_HOP) headers.delete(name);
  try {
    const res = await fetch(target, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
      signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined,
    });
    const out = new Headers(res.headers);
    for (const name of HOP_BY_HOP) out.delete(name);
    out.delete("content-length");
    out.delete("content-encoding");
    for (const [name, value] of Object.entries(extra)) out.set(name, value);
    return new Response(res.body, { status: res.status, headers: out });
  } catch (err) {
    if (err instanceof DOMException && err.name === "TimeoutError") {
      return errorJson(
        504,
        `The function did not answer within ${timeoutMs! / 1000} s (the platform's request ` +
          "idle time-out)",
        "function",
      );
    }
    return errorJson(502, "An invalid response was received from the upstream server", "gateway");
  }
}

export interface GatewayOptions {
  port: number;
  keys: StackKeys;
  targets: GatewayTargets;
  /** The stack's database: `GET /auth/v1/user` looks the user up in auth.users. */
  sql: postgres.Sql;
  stats?: GatewayStats;
  /** Test stacks' control actions, by "METHOD /path". */
  control?: Record<string, (url: URL) => Promise<void>>;
  /** Test stacks' injected faults. */
  faults?: GatewayFaults;
  /** Overrides the 150 s function idle time-out (tests). */
  functionTimeoutMs?: number;
}

export function startGateway(options: GatewayOptions): Deno.HttpServer {
  const { keys, targets, control } = options;
  const stats = options.stats ?? { restRequests: 0, functionRequests: 0 };
  /** The legacy JWT each new-style key stands for. */
  const roleJwt = new Map([[keys.secretKey, keys.serviceRoleKey], [
    keys.publishableKey,
    keys.anonKey,
  ]]);
  const projectKeys = new Set([
    keys.secretKey,
    keys.publishableKey,
    keys.anonKey,
    keys.serviceRoleKey,
  ]);

  /** The hosted gateway's key check, for /rest/v1 and /auth/v1 (not for the JWKS). */
  function checkApiKey(headers: Headers): Response | null {
    const apikey = headers.get("apikey");
    if (!apikey) {
      return apiKeyError("No API key found in request", "No `apikey` request header was found.");
    }
    if (!projectKeys.has(apikey)) {
      return apiKeyError(
        "Invalid API key",
        "Double check your Supabase `anon` or `service_role` API key.",
      );
    }
    return null;
  }

  function preflight(req: Request): Response {
    return new Response(null, {
      status: 200,
      headers: {
        ...CORS_HEADERS,
        "access-control-allow-headers": req.headers.get("access-control-request-headers") ?? "*",
        "access-control-max-age": "3600",
      },
    });
  }

  async function rest(req: Request, url: URL): Promise<Response> {
    if (req.method === "OPTIONS") return preflight(req);
    const headers = new Headers(req.headers);
    const refused = checkApiKey(headers);
    if (refused) return refused;
    const apikey = headers.get("apikey")!;
    const authorization = headers.get("authorization");
    const bearer = authorization && /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
    if (bearer?.startsWith("sb_") && bearer !== apikey) {
      return apiKeyError(
        "Invalid API key",
        "An sb_ key in Authorization must be the same as the apikey header.",
      );
    }
    if (!authorization || bearer?.startsWith("sb_")) {
      headers.set("authorization", `Bearer ${roleJwt.get(apikey) ?? apikey}`);
    }
    stats.restRequests++;
    const upstreamPath = url.pathname.slice("/rest/v1".length) || "/";
    const res = await forward(
      req,
      `${targets.postgrest}${upstreamPath}${url.search}`,
      headers,
      null,
      { "access-control-allow-origin": "*" },
    );
    const toLose = options.faults?.loseResponses.get(upstreamPath) ?? 0;
    if (toLose > 0) {
      options.faults!.loseResponses.set(upstreamPath, toLose - 1);
      await res.arrayBuffer();
      return LOST();
    }
    return res;
  }

  function functionRequest(req: Request, url: URL, name: string, rest: string): Promise<Response> {
    const target = targets.functions[name];
    if (!target) {
      return Promise.resolve(errorJson(404, `Function not found: ${name}`, "function"));
    }
    const headers = new Headers(req.headers);
    const authorization = headers.get("authorization");
    if (authorization === null || /^Bearer sb_/.test(authorization)) {
      const apikey = headers.get("apikey");
      const replacement = apikey && roleJwt.has(apikey) ? `Bearer ${roleJwt.get(apikey)}` : apikey;
      if (replacement) headers.set("authorization", replacement);
      else headers.delete("authorization");
    }
    stats.functionRequests++;
    return forward(
      req,
      `${target}/${name}${rest}${url.search}`,
      headers,
      options.functionTimeoutMs ?? FUNCTION_IDLE_TIMEOUT_MS,
    );
  }

  return Deno.serve({ hostname: "127.0.0.1", port: options.port, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path === "/health") return new Response("ok");
    if (control && path.startsWith("/_stack/")) {
      if (req.method === "GET" && path === "/_stack/stats") return Response.json(stats);
      const action = control[`${req.method} ${path}`];
      if (!action) return errorJson(404, "no such control action", "path");
      return action(url).then(() => Response.json({ ok: true }));
    }
    if (path === "/auth/v1/.well-known/jwks.json") {
      if (req.method === "OPTIONS") return preflight(req);
      return Response.json(keys.authJwks, {
        headers: { ...CORS_HEADERS, "cache-control": "public, max-age=600" },
      });
    }
    if (path === "/auth/v1/user") {
      if (req.method === "OPTIONS") return preflight(req);
      const refused = checkApiKey(req.headers);
      if (refused) return refused;
      if (req.method !== "GET") {
        return errorJson(405, "Only GET /auth/v1/user is provided by the local stack", "method");
      }
      return authUser(req, keys, options.sql);
    }
    if (path === "/rest/v1" || path.startsWith("/rest/v1/")) return rest(req, url);
    const fn = /^\/functions\/v1\/([A-Za-z0-9_-]+)(\/.*)?$/.exec(path);
    if (fn) return functionRequest(req, url, fn[1], fn[2] ?? "");
    if (path.startsWith("/auth/v1/")) {
      return errorJson(
        404,
        `${path} is not provided by the local stack (only /auth/v1/user and the JWKS)`,
        "path",
      );
    }
    return errorJson(404, `No route for ${path}`, "path");
  });
}
