// Plays Supabase's API gateway on one port: /rest/v1 to PostgREST, /functions/v1/<name> to the
// functions, and the project's JWKS under /auth/v1. Like Supabase's gateway it turns the new
// API keys into the JWTs PostgREST understands, so supabase-js works unchanged.
import type { StackKeys } from "./keys.ts";

export interface GatewayTargets {
  postgrest: string;
  functions: string;
}

/** What passed through the gateway; the benchmark reads database round trips from it. */
export interface GatewayStats {
  restRequests: number;
  functionRequests: number;
}

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

async function forward(req: Request, target: string, headers: Headers): Promise<Response> {
  for (const name of HOP_BY_HOP) headers.delete(name);
  try {
    const res = await fetch(target, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
    });
    const out = new Headers(res.headers);
    for (const name of HOP_BY_HOP) out.delete(name);
    out.delete("content-length");
    out.delete("content-encoding");
    return new Response(res.body, { status: res.status, headers: out });
  } catch {
    return Response.json({ message: "An invalid response was received from the upstream server" }, {
      status: 502,
    });
  }
}

/** The JWT PostgREST should see for a request's API key, as Supabase's gateway does it. */
function bearerFor(keys: StackKeys, headers: Headers): string | null {
  const auth = headers.get("authorization");
  const bearer = auth && /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
  const apikey = headers.get("apikey");
  const credential = bearer ?? apikey;
  if (!credential) return null;
  if (credential === keys.secretKey) return keys.serviceRoleKey;
  if (credential === keys.publishableKey) return keys.anonKey;
  if (credential.startsWith("sb_")) return "invalid";
  return credential;
}

export function startGateway(
  port: number,
  keys: StackKeys,
  targets: GatewayTargets,
  stats: GatewayStats = { restRequests: 0, functionRequests: 0 },
  /** Test stacks' control actions, by "METHOD /path". */
  control?: Record<string, (url: URL) => Promise<void>>,
  faults: GatewayFaults = { loseResponses: new Map() },
): Deno.HttpServer {
  return Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path === "/health") return new Response("ok");
    if (control && path.startsWith("/_stack/")) {
      if (req.method === "GET" && path === "/_stack/stats") return Response.json(stats);
      const action = control[`${req.method} ${path}`];
      if (!action) return Response.json({ message: "no such control action" }, { status: 404 });
      await action(url);
      return Response.json({ ok: true });
    }
    if (path === "/auth/v1/.well-known/jwks.json") {
      return Response.json(keys.authJwks, { headers: { "cache-control": "public, max-age=600" } });
    }
    if (path.startsWith("/rest/v1/") || path === "/rest/v1") {
      const headers = new Headers(req.headers);
      const bearer = bearerFor(keys, headers);
      if (!bearer) {
        return Response.json({ message: "No API key found in request" }, { status: 401 });
      }
      if (bearer === "invalid") {
        return Response.json({ message: "Invalid API key" }, { status: 401 });
      }
      headers.set("authorization", `Bearer ${bearer}`);
      stats.restRequests++;
      const upstreamPath = path.slice("/rest/v1".length) || "/";
      const res = await forward(req, `${targets.postgrest}${upstreamPath}${url.search}`, headers);
      const toLose = faults.loseResponses.get(upstreamPath) ?? 0;
      if (toLose > 0) {
        faults.loseResponses.set(upstreamPath, toLose - 1);
        await res.arrayBuffer();
        return LOST();
      }
      return res;
    }
    const fn = /^\/functions\/v1\/([A-Za-z0-9_-]+)(\/.*)?$/.exec(path);
    if (fn) {
      stats.functionRequests++;
      return forward(
        req,
        `${targets.functions}/${fn[1]}${fn[2] ?? ""}${url.search}`,
        new Headers(req.headers),
      );
    }
    return Response.json({ message: "no Route matched with those values" }, { status: 404 });
  });
}
