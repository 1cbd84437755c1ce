// The OpenAPI 3.1 document of every public function, generated from the zod schemas the handlers
// use, plus what zod cannot know: auth schemes, status codes, headers and examples.
import { z } from "zod";
import { errorResponseSchema } from "../supabase/functions/_shared/error_schema.ts";
import {
  dispatchRequestSchema,
  dispatchResponseSchema,
} from "../supabase/functions/job-interview-email-dispatch/schema.ts";
import {
  eventRequestSchema,
  eventResponseSchema,
} from "../supabase/functions/job-interview-email-events/schema.ts";
import {
  registerRequestSchema,
  registerResponseSchema,
} from "../supabase/functions/job-interview-register-users/schema.ts";
import {
  jwksSchema,
  startRequestSchema,
  startResponseSchema,
} from "../supabase/functions/job-interview-start/schema.ts";

/** JSON Schema of a zod schema, as a request (input) or a response (output) body. */
function schema(zod: z.ZodType, io: "input" | "output") {
  const { $schema: _, ...json } = z.toJSONSchema(zod, { io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return json;
}

const json = (zod: z.ZodType, io: "input" | "output", example?: unknown) => ({
  "application/json": {
    schema: schema(zod, io),
    ...(example === undefined ? {} : { example }),
  },
});

const errorRef = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };
const requestIdHeader = { "x-request-id": { $ref: "#/components/headers/RequestId" } };
const rateHeaders = {
  "ratelimit-limit": { $ref: "#/components/headers/RateLimitLimit" },
  "ratelimit-remaining": { $ref: "#/components/headers/RateLimitRemaining" },
  "ratelimit-reset": { $ref: "#/components/headers/RateLimitReset" },
};

function error(
  description: string,
  headers: Record<string, unknown> = {},
  examples?: Record<string, { summary: string; value: unknown }>,
) {
  const content = examples
    ? { "application/json": { ...errorRef["application/json"], examples } }
    : errorRef;
  return { description, headers: { ...requestIdHeader, ...headers }, content };
}

/** The register endpoint's answers to merchant API keys it refuses. */
const API_KEY_401 = {
  invalid: {
    summary: "Unknown API key, or not a key's shape",
    value: { error: "Invalid API key", code: "api_key_invalid" },
  },
  revoked: {
    summary: "Revoked API key",
    value: { error: "API key revoked", code: "api_key_revoked" },
  },
  expired: {
    summary: "Expired API key",
    value: { error: "API key expired", code: "api_key_expired" },
  },
};
const API_KEY_403 = {
  test_key: {
    summary: "A jm_test_ key on a registration without is_test",
    value: {
      error: "A test API key (jm_test_) registers only is_test enrolments",
      name: "is_test",
      code: "api_key_test_only",
    },
  },
  scope: {
    summary: "An API key without the registrations:write scope",
    value: { error: "This API key lacks the registrations:write scope", code: "api_key_scope" },
  },
  merchant: {
    summary: "A merchant_id the API key may not act for",
    value: {
      error: "This API key may not register candidates for this merchant",
      name: "merchant_id",
      code: "api_key_merchant",
    },
  },
};

/** The reference page's example request. */
export const EXAMPLE_REQUEST = {
  users: [
    { name: "Peter Parker", email: "jozo@jozo.sk", external_id: "abcd" },
    { name: "mr beast", email: "hi@jozefbalaz.com" },
  ],
  interview_id: "04e09fa5-3fb8-4236-b37d-fca2bcd1cb66",
  merchant_id: "b5201178-46dd-4a20-a1af-7ffd647f834b",
  send_email: true,
  hide_menu: true,
  hide_iframe: true,
  is_test: true,
};

const EXAMPLE_RESPONSE = [
  {
    name: "Peter Parker",
    email: "jozo@jozo.sk",
    external_id: "abcd",
    result: "ok",
    interview_url: "https://cool.jobmojito.com/interview/take/04e09fa5-3fb8-4236-b37d-" +
      "fca2bcd1cb66/?interview_token=eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIuLi4ifQ.c2ln&view_hm=true" +
      "&view_hi=true",
    profile_interview_id: "3c5e8a51-0b7e-4a51-9d7f-2f6d2b1c9e10",
    expires_at: "2026-12-27T09:00:00.000Z",
    email_status: "skipped",
  },
  {
    name: "mr beast",
    email: "hi@jozefbalaz.com",
    external_id: null,
    result: "Error: invalid email address",
  },
];

export function buildOpenApiDocument(maxUsers = 1000) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Job interview registration API",
      version: "1.0.0",
      summary: "Register candidates for AI job interviews and start one-time interview links.",
      description: "Supabase Edge Functions. Errors share one shape: " +
        '`{"error": "...", "name": "<field>"}`, with `code` where callers need to tell errors ' +
        "apart.",
      license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
    },
    servers: [
      { url: "https://cool.jobmojito.com/functions/v1", description: "Production" },
      { url: "http://127.0.0.1:54321/functions/v1", description: "Local stack" },
    ],
    tags: [
      { name: "Registration", description: "Register candidates and mint interview links." },
      { name: "Interview links", description: "Redeem one-time interview links." },
      { name: "Operations", description: "Scheduled work, service key only." },
    ],
    security: [{ bearerAuth: [] }, { apikeyHeader: [] }],
    paths: {
      "/job-interview-register-users": {
        post: {
          operationId: "registerUsers",
          tags: ["Registration"],
          summary: "Register users for an interview",
          description: "Registers (or updates) candidates for an interview and returns a " +
            "one-time interview URL for each, in input order. A bad row does not fail the " +
            'request: it gets `result: "Error: ..."`.',
          security: [{ merchantApiKey: [] }, { bearerAuth: [] }, { apikeyHeader: [] }],
          parameters: [{ $ref: "#/components/parameters/IdempotencyKey" }],
          requestBody: {
            required: true,
            content: json(registerRequestSchema(maxUsers), "input", EXAMPLE_REQUEST),
          },
          responses: {
            "200": {
              description: "Per-user registration results.",
              headers: {
                ...requestIdHeader,
                ...rateHeaders,
                "idempotent-replayed": { $ref: "#/components/headers/IdempotentReplayed" },
              },
              content: json(registerResponseSchema, "output", EXAMPLE_RESPONSE),
            },
            "400": error(
              "The body is not JSON (the error says at which line and column), or the " +
                "Idempotency-Key is malformed.",
            ),
            "401": error(
              "Missing, malformed or expired credentials, a user token with no resolvable user, " +
                "or an API key that is unknown, revoked or expired (`code` says which).",
              {},
              API_KEY_401,
            ),
            "403": error(
              "The caller's role, or the merchant acted for, is not permitted; or an API key " +
                "that may not do this: a test key on a real registration, a missing scope, " +
                "another merchant.",
              {},
              API_KEY_403,
            ),
            "409": error("The Idempotency-Key was used with another body."),
            "413": error("The body is larger than 1 MiB."),
            "422": error(
              "A field is missing, or present with the wrong type or format (`name` says which " +
                'field; `error` what it must be, e.g. "interview_id must be a UUID"), ' +
                "`merchant_id` is missing with the service key, or the interview is not found or " +
                "takes no candidates.",
              rateHeaders,
            ),
            "429": error(
              "The rate limit is reached (the merchant's or the API key's, or for a refused " +
                "request the caller's own).",
              {
                ...rateHeaders,
                "retry-after": { $ref: "#/components/headers/RetryAfter" },
              },
            ),
            "500": error("Unexpected failure; quote the request id."),
            "503": error(
              "`code: database_unavailable`: nothing was changed; retry. " +
                "`code: outcome_unknown`: the registration may have succeeded; retry with the " +
                "same Idempotency-Key, which then answers with its result.",
            ),
          },
        },
      },
      "/job-interview-start": {
        post: {
          operationId: "startInterview",
          tags: ["Interview links"],
          summary: "Start an interview with a one-time link",
          description: "Turns an interview token into exactly one interview attempt. The token " +
            "is the only credential.",
          security: [],
          requestBody: { required: true, content: json(startRequestSchema, "input") },
          responses: {
            "200": {
              description: "The attempt has begun.",
              headers: requestIdHeader,
              content: json(startResponseSchema, "output"),
            },
            "400": error("The body is not JSON (the error says at which line and column)."),
            "401": error("token_invalid, token_expired or token_revoked."),
            "409": error("token_used: the link has already been used."),
            "422": error(
              "interview_unavailable, enrolment_deleted or attempts_exhausted; or a field error.",
            ),
            "500": error("Unexpected failure; quote the request id."),
            "503": error("The database is unavailable; retry."),
          },
        },
      },
      "/job-interview-start/jwks.json": {
        get: {
          operationId: "getInterviewTokenKeys",
          tags: ["Interview links"],
          summary: "Public keys of interview tokens",
          description: "For verifying interview links offline. Cacheable.",
          security: [],
          responses: {
            "200": { description: "A JWKS.", content: json(jwksSchema, "output") },
          },
        },
      },
      "/job-interview-email-dispatch": {
        post: {
          operationId: "dispatchEmails",
          tags: ["Operations"],
          summary: "Send the invitation emails that are due",
          description: "Service key only. Scheduled every minute by pg_cron.",
          security: [{ bearerAuth: [] }, { apikeyHeader: [] }],
          requestBody: { required: false, content: json(dispatchRequestSchema, "input") },
          responses: {
            "200": {
              description: "What was sent.",
              headers: requestIdHeader,
              content: json(dispatchResponseSchema, "output"),
            },
            "401": error("Missing or invalid credentials."),
            "403": error("A user token or an API key: only the service key may dispatch."),
            "422": error("A field is invalid."),
            "500": error("Unexpected failure; quote the request id."),
            "503": error("The database is unavailable; retry."),
          },
        },
      },
      "/job-interview-email-events": {
        post: {
          operationId: "receiveEmailEvents",
          tags: ["Operations"],
          summary: "Resend's delivery webhooks",
          description: "Called by Resend, not by clients: email.sent, email.delivered, " +
            "email.delivery_delayed, email.bounced, email.complained and email.failed, verified " +
            "by their Svix signature with RESEND_WEBHOOK_SECRET. A hard bounce or a complaint " +
            "suppresses the address for the merchant.",
          security: [],
          parameters: ["svix-id", "svix-timestamp", "svix-signature"].map((name) => ({
            name,
            in: "header",
            required: true,
            schema: { type: "string" },
          })),
          requestBody: { required: true, content: json(eventRequestSchema, "input") },
          responses: {
            "200": {
              description: "Taken (or already taken).",
              headers: requestIdHeader,
              content: json(eventResponseSchema, "output"),
            },
            "400": error(
              "Signed, but not an event: a body that is not a JSON object, or an " +
                "svix-id longer than 200 characters.",
            ),
            "401": error("Not signed with the project's secret, or the timestamp is stale."),
            "409": error("The event id was taken before with another body."),
            "413": error("The body is too large."),
            "500": error("Unexpected failure; quote the request id."),
            "503": error("Webhooks are not configured, or the database is unavailable; retry."),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        merchantApiKey: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "jm_live_... or jm_test_... (47 base62 characters)",
          description: "A merchant API key, created by a merchant owner or admin with " +
            "`create_api_key` (Data API) and shown once. Bound to one merchant (and its " +
            "sub-merchants when the key allows), with scopes (`registrations:write`), an " +
            "optional expiry and rate limit; revocable, effective on the next request. " +
            "`jm_test_` keys register only `is_test` enrolments. `merchant_id` is optional.",
        },
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "A Supabase Auth access token (merchant staff), or the legacy " +
            "service_role key. API keys (sb_...) belong in the apikey header: Supabase's gateway " +
            "does not pass an sb_ key sent only as Bearer on to the function.",
        },
        apikeyHeader: {
          type: "apiKey",
          in: "header",
          name: "apikey",
          description: "The project's service key: a secret key (sb_secret_...) or the legacy " +
            "service_role key. The anon and publishable keys are not callers.",
        },
      },
      parameters: {
        IdempotencyKey: {
          name: "Idempotency-Key",
          in: "header",
          required: false,
          description: "Makes retries safe: the first response for a (merchant, key) is kept for " +
            "24 hours and replayed for the same body.",
          schema: { type: "string", minLength: 1, maxLength: 255 },
        },
      },
      headers: {
        RequestId: {
          description: "Identifies the request in logs.",
          schema: { type: "string" },
        },
        RateLimitLimit: {
          description: "Requests allowed per minute for the merchant.",
          schema: { type: "integer" },
        },
        RateLimitRemaining: {
          description: "Requests left in the current minute.",
          schema: { type: "integer" },
        },
        RateLimitReset: {
          description: "Seconds until the current minute's window ends.",
          schema: { type: "integer" },
        },
        RetryAfter: {
          description: "Seconds to wait before retrying.",
          schema: { type: "integer" },
        },
        IdempotentReplayed: {
          description: "true when this is the stored response to an earlier request with the " +
            "same Idempotency-Key.",
          schema: { type: "string", enum: ["true"] },
        },
      },
      schemas: {
        Error: schema(errorResponseSchema, "output"),
      },
    },
  };
}
