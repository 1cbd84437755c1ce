// POST /functions/v1/job-interview-start {"interview_token": "..."}: turns a one-time link into
// exactly one interview attempt. The token is the only credential. Its public keys are at
// GET /functions/v1/job-interview-start/jwks.json, so a front end can also verify a link offline.
import type { Config } from "../_shared/config.ts";
import { callRpc } from "../_shared/db.ts";
import { type Handler, handlerFromEnv, postEndpoint } from "../_shared/endpoint.ts";
import { HttpError, jsonResponse, readJsonBody } from "../_shared/http.ts";
import { createInterviewTokenVerifier } from "../_shared/interview_token.ts";
import { createServiceClient } from "../_shared/db.ts";
import { parseBody } from "../_shared/validation.ts";
import { startRequestSchema } from "./schema.ts";

const FUNCTION_NAME = "job-interview-start";

interface StartOutcome {
  error?: { status: number; code: string; message: string };
  attempt_id: string;
  interview: { id: string; name: string; language: string };
  candidate: { name: string | null };
  profile_interview_id: string;
  is_test: boolean;
  attempts_left: number;
}

export function createHandler(cfg: Config): Handler {
  const db = createServiceClient(cfg);
  const verify = createInterviewTokenVerifier(cfg.interviewPublicKeys, {
    issuer: cfg.interviewTokenIssuer,
    audience: cfg.interviewTokenAudience,
  });
  const jwks = JSON.stringify(cfg.interviewPublicKeys);

  const start = postEndpoint(FUNCTION_NAME, async (req, ctx) => {
    const { interview_token } = parseBody(
      startRequestSchema,
      await readJsonBody(req, 16 * 1024),
    );
    const token = await verify(interview_token);
    const outcome = await callRpc<StartOutcome>(
      db,
      "start_interview",
      { p_jti: token.jti },
      cfg.dbTimeoutMs,
    );
    if (outcome.error) {
      ctx.log.code = outcome.error.code;
      throw new HttpError(
        outcome.error.status,
        outcome.error.message,
        undefined,
        {},
        outcome.error.code,
      );
    }
    ctx.log.attempt_id = outcome.attempt_id;
    return jsonResponse({
      ...outcome,
      view: { hide_menu: token.hideMenu, hide_iframe: token.hideIframe },
    }, 200);
  });

  return (req) => {
    if (req.method === "GET" && new URL(req.url).pathname.endsWith("/jwks.json")) {
      return Promise.resolve(
        jsonResponse(JSON.parse(jwks), 200, { "cache-control": "public, max-age=300" }),
      );
    }
    return start(req);
  };
}

export const handleRequest = handlerFromEnv(FUNCTION_NAME, createHandler);
