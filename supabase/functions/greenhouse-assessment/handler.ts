// Greenhouse's Assessment Partner API, served at /functions/v1/greenhouse-assessment/<endpoint>:
// GET list_tests, POST send_test, GET test_status?partner_interview_id=..., POST response_error.
// Every call is authenticated by the merchant API key in HTTP Basic (basic_auth.ts) and counted
// against the key's and the merchant's rate limits; errors use the shared error shape with the
// statuses Greenhouse documents (401 bad key, 404 unknown resource). send_test also records the
// completion callback Greenhouse asks for (_shared/greenhouse_callback.ts).
import { type ApiKeyCaller, apiKeyCaller } from "../_shared/api_key.ts";
import type { Config } from "../_shared/config.ts";
import { callRpc } from "../_shared/db.ts";
import {
  type Handler,
  handlerFromEnv,
  jsonEndpoint,
  type RequestContext,
} from "../_shared/endpoint.ts";
import { HttpError, jsonResponse, readJsonBody } from "../_shared/http.ts";
import { logEvent } from "../_shared/log.ts";
import { createServices } from "../_shared/services.ts";
import { parseBody } from "../_shared/validation.ts";
import { type RateLimit, rateLimitHeaders } from "../job-interview-register-users/register.ts";
import { callbackAllowed, sealCredential } from "../_shared/greenhouse_callback.ts";
import { basicUserName, CHALLENGE } from "./basic_auth.ts";
import { responseErrorRequestSchema, sendTestRequestSchema } from "./schema.ts";
import { sendTest } from "./send_test.ts";
import { type EnrolmentState, testStatus } from "./test_status.ts";

const FUNCTION_NAME = "greenhouse-assessment";

interface RpcError {
  status: number;
  message: string;
  name?: string;
  code?: string;
}

interface Admitted {
  error?: RpcError;
  rate?: RateLimit | null;
}

const ENDPOINTS = {
  list_tests: "GET",
  send_test: "POST",
  test_status: "GET",
  response_error: "POST",
} as const;
type Endpoint = keyof typeof ENDPOINTS;

/** A refusal of the database, with the rate-limit headers (and retry-after on 429). */
function refusal(error: RpcError, rate: RateLimit | null | undefined): HttpError {
  const headers = rateLimitHeaders(rate);
  if (error.status === 429) headers["retry-after"] = String(rate?.reset ?? 60);
  if (error.status === 401) Object.assign(headers, CHALLENGE);
  return new HttpError(error.status, error.message, error.name, headers, error.code);
}

export function createHandler(cfg: Config): Handler {
  const services = createServices(cfg);
  const rpc = <T extends Admitted>(fn: string, caller: ApiKeyCaller, args = {}) =>
    callRpc<T>(services.db, fn, {
      p_api_key_hash: caller.keyHash,
      p_rate_limit: cfg.rateLimitPerMinute,
      ...args,
    }, cfg.dbTimeoutMs).then((reply) => {
      if (reply.error) throw refusal(reply.error, reply.rate);
      return reply;
    });

  /**
   * Where and how to tell Greenhouse of the completion, before the send is answered: if this
   * fails, the send answers 503, and Greenhouse's retry (answered from the registration's record)
   * records it again.
   */
  async function recordCallback(
    merchantId: string,
    enrolmentId: string,
    url: string | null | undefined,
    key: string,
  ): Promise<string> {
    const secret = cfg.greenhouse.callbackKey;
    if (!url || !secret) return "none";
    if (!callbackAllowed(url, cfg.greenhouse.callbackOrigins)) return "url not allowed";
    await callRpc<boolean>(services.db, "greenhouse_record_callback", {
      p_merchant_id: merchantId,
      p_enrolment_id: enrolmentId,
      p_url: url,
      p_credential: await sealCredential(secret, key),
    }, cfg.dbTimeoutMs);
    return "recorded";
  }

  const work: Record<
    Endpoint,
    (req: Request, caller: ApiKeyCaller, ctx: RequestContext, key: string) => Promise<Response>
  > = {
    async list_tests(_req, caller) {
      const reply = await rpc<Admitted & { tests: unknown[] }>("greenhouse_list_tests", caller);
      return jsonResponse(reply.tests, 200, rateLimitHeaders(reply.rate));
    },

    async send_test(req, caller, ctx, key) {
      const request = parseBody(sendTestRequestSchema, await readJsonBody(req, cfg.maxBodyBytes));
      const { partnerInterviewId, registration } = await sendTest(services, caller, request);
      ctx.log.merchant_id = registration.merchantId;
      ctx.log.partner_interview_id = partnerInterviewId;
      ctx.log.callback = await recordCallback(
        registration.merchantId,
        partnerInterviewId,
        request.url,
        key,
      );
      const headers = rateLimitHeaders(registration.rate);
      if (registration.replayed) {
        ctx.log.replayed = true;
        headers["idempotent-replayed"] = "true";
      }
      return jsonResponse({ partner_interview_id: partnerInterviewId }, 200, headers);
    },

    async test_status(req, caller) {
      const id = new URL(req.url).searchParams.get("partner_interview_id") ?? "";
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
      // An id that cannot be an enrolment still authenticates and counts, then is unknown.
      const reply = await rpc<Admitted & { enrolment?: EnrolmentState }>(
        "greenhouse_test_status",
        caller,
        { p_enrolment_id: uuid ? id.toLowerCase() : "00000000-0000-0000-0000-000000000000" },
      );
      if (!reply.enrolment) {
        throw refusal({
          status: 404,
          code: "not_found",
          name: "partner_interview_id",
          message: "No test was sent with this partner_interview_id",
        }, reply.rate);
      }
      return jsonResponse(
        testStatus(reply.enrolment, cfg.interviewFrontendUrl),
        200,
        rateLimitHeaders(reply.rate),
      );
    },

    async response_error(req, caller, ctx) {
      const reply = await rpc<Admitted & { merchant_id: string }>("greenhouse_admit", caller);
      const report = parseBody(
        responseErrorRequestSchema,
        await readJsonBody(req, cfg.maxBodyBytes),
      );
      // Kept in the logs for whoever looks into the integration; never the candidate's email.
      logEvent("warn", {
        msg: "greenhouse reported a malformed response",
        request_id: ctx.requestId,
        merchant_id: reply.merchant_id,
        api_call: report.api_call,
        errors: report.errors,
        partner_test_id: report.partner_test_id ?? null,
        partner_interview_id: report.partner_interview_id ?? null,
      });
      return jsonResponse({ status: 200 }, 200, rateLimitHeaders(reply.rate));
    },
  };

  return jsonEndpoint(FUNCTION_NAME, async (req, ctx) => {
    const endpoint = new URL(req.url).pathname.split("/").filter(Boolean).pop() ?? "";
    ctx.log.endpoint = endpoint;
    if (!Object.hasOwn(ENDPOINTS, endpoint)) {
      throw new HttpError(
        404,
        "Unknown endpoint: use list_tests, send_test, test_status or response_error",
        undefined,
        {},
        "not_found",
      );
    }
    const method = ENDPOINTS[endpoint as Endpoint];
    if (req.method !== method) {
      throw new HttpError(405, `Method not allowed: use ${method}`, undefined, {
        allow: `${method}, OPTIONS`,
      });
    }
    const key = basicUserName(req.headers.get("authorization"));
    ctx.log.caller = "api_key";
    return await work[endpoint as Endpoint](req, apiKeyCaller(key), ctx, key);
  });
}

export const handleRequest = handlerFromEnv(FUNCTION_NAME, createHandler);
