// Guard mutants: each a small edit that a real bug could look like, to one guard in the SQL or
// TypeScript. `deno task mutants` applies them one at a time to a scratch copy of the repository
// and runs the named test files against it; every mutant must make at least one test fail.
//
// Adding a guard's mutant is one entry. Keep `find` short and specific: it must occur exactly
// once in `file`, or the mutant is reported STALE (after the code moved: find the guard again and
// copy its current text). `filter` (a test name or /regex/) keeps a run cheap.
//
// Guards still to come with their issues, each to get entries here when it lands: API keys,
// tenancy policies, email suppression, webhook signatures, Greenhouse authentication.

export interface Mutant {
  /** Short and unique; `deno task mutants <name>` runs only this one. */
  name: string;
  /** The guard the edit breaks, in a few words. */
  guard: string;
  file: string;
  find: string;
  replace: string;
  /** Test files that must catch it. */
  tests: string[];
  /** `deno test --filter`: a test name, or /regex/. */
  filter?: string;
}

const REGISTRATION_SQL = "supabase/migrations/20261127090100_registration.sql";
const DOMAIN_SQL = "supabase/migrations/20261127090000_domain_schema.sql";
const ADMISSION_SQL = "supabase/migrations/20261127090050_request_admission.sql";
const DISPATCH_SQL = "supabase/migrations/20261127090200_email_dispatch.sql";
const START_SQL = "supabase/migrations/20261127090300_interview_start.sql";

const REGISTER = "tests/integration/register_test.ts";
const AUTH = "tests/integration/auth_test.ts";
const START = "tests/integration/start_test.ts";
const EMAIL = "tests/integration/email_test.ts";
const IDEMPOTENCY = "tests/integration/idempotency_test.ts";
const RLS = "tests/integration/rls_test.ts";
const CLAIM = "tests/integration/outbox_claim_test.ts";

export const mutants: Mutant[] = [
  // Registration: who may register, for which merchant and interview.
  {
    name: "merchant-scope-dropped",
    guard: "a user registers only for its own merchant or a sub-merchant",
    file: REGISTRATION_SQL,
    find: "and v_merchant_id is distinct from v_caller.merchant_id",
    replace: "and false and v_merchant_id is distinct from v_caller.merchant_id",
    tests: [AUTH],
    filter: "merchant scope",
  },
  {
    name: "role-403-as-401",
    guard: "a role that may not register gets 403, not 401",
    file: REGISTRATION_SQL,
    find: "'status', 403, 'message', 'This account''s role",
    replace: "'status', 401, 'message', 'This account''s role",
    tests: [AUTH],
    filter: "roles:",
  },
  {
    name: "unknown-user-403",
    guard: "a token of a user with no profile is a 401",
    file: REGISTRATION_SQL,
    find: "'status', 401, 'message', 'No user found",
    replace: "'status', 403, 'message', 'No user found",
    tests: [AUTH],
    filter: "a user deleted after the token was issued",
  },
  {
    name: "other-merchants-interview",
    guard: "the interview must be the merchant's own",
    file: REGISTRATION_SQL,
    find: "where i.id = p_interview_id and i.merchant_id = v_merchant_id;",
    replace: "where i.id = p_interview_id;",
    tests: [REGISTER],
    filter: "interview ids",
  },
  {
    name: "closed-interview-open",
    guard: "archived, deleted and completed interviews take nobody",
    file: REGISTRATION_SQL,
    find: "if v_interview.status in ('archived', 'deleted', 'completed')",
    replace: "if false and v_interview.status in ('archived', 'deleted', 'completed')",
    tests: [REGISTER],
    filter: "closed interviews take nobody",
  },
  {
    name: "draft-takes-real",
    guard: "drafts take only test registrations",
    file: REGISTRATION_SQL,
    find: "and not p_is_test then",
    replace: "and false then",
    tests: [REGISTER],
    filter: "drafts take only test registrations",
  },
  {
    name: "availability-ignored",
    guard: "an interview past interview_available_till takes nobody",
    file: REGISTRATION_SQL,
    find: "and v_interview.interview_available_till <= now() + interval '1 minute' then",
    replace: "and false then",
    tests: [REGISTER],
    filter: "token expiry never passes",
  },
  {
    name: "expiry-past-availability",
    guard: "a link never outlives its interview",
    file: REGISTRATION_SQL,
    find: "coalesce(v_interview.interview_available_till, 'infinity'::timestamptz)",
    replace: "'infinity'::timestamptz",
    tests: [REGISTER],
    filter: "token expiry never passes",
  },
  // Registration: the batch.
  {
    name: "dedup-case-sensitive",
    guard: "duplicate emails in one request are found case-insensitively",
    file: REGISTRATION_SQL,
    find: "partition by lower(input.email)",
    replace: "partition by input.email",
    tests: [REGISTER],
    filter: "per-row errors",
  },
  {
    name: "test-draws-limit",
    guard: "test enrolments do not draw on the invitation limit",
    file: REGISTRATION_SQL,
    find: "not p_is_test and coalesce((",
    replace: "coalesce((",
    tests: [REGISTER],
    filter: "the invitation limit holds",
  },
  {
    name: "reregistration-draws-limit",
    guard: "re-registering a real enrolment draws nothing",
    file: REGISTRATION_SQL,
    find: "), true) as draws",
    replace: "), true) or not p_is_test as draws",
    tests: [REGISTER],
    filter: "the invitation limit holds",
  },
  {
    name: "limit-overdrawn",
    guard: "new real enrolments stop at the invitation limit",
    file: REGISTRATION_SQL,
    find: "where not draws or v_headroom is null or n <= v_headroom",
    replace: "where true",
    tests: [REGISTER],
    filter: "the invitation limit holds",
  },
  {
    name: "email-for-test-enrolments",
    guard: "test enrolments get no email",
    file: REGISTRATION_SQL,
    find: "v_send_email := coalesce(p_send_email, false) and not p_is_test",
    replace: "v_send_email := coalesce(p_send_email, false)",
    tests: [EMAIL],
    filter: "email_status: skipped",
  },
  {
    name: "emails-off-ignored",
    guard: "a merchant with candidate emails off gets none sent",
    file: REGISTRATION_SQL,
    find: "and v_merchant.candidate_emails_enabled;",
    replace: ";",
    tests: [EMAIL],
    filter: "email_status: skipped",
  },
  {
    name: "email-view-hm-lost",
    guard: "the emailed link keeps hide_menu (view_hm)",
    file: REGISTRATION_SQL,
    find: "coalesce((p_view ->> 'hide_menu')::boolean, false)",
    replace: "false",
    tests: [EMAIL],
    filter: "the email: sender settings",
  },
  {
    name: "view-hm-lost",
    guard: "the link keeps hide_menu (view_hm)",
    file: "supabase/functions/_shared/interview_url.ts",
    find: '(view.hideMenu ? "&view_hm=true" : "")',
    replace: '""',
    tests: [REGISTER],
    filter: "flag forms",
  },
  {
    name: "batch-cap-dropped",
    guard: "at most REGISTER_MAX_USERS candidates a request",
    file: "supabase/functions/job-interview-register-users/schema.ts",
    find: ".max(maxUsers,",
    replace: ".max(Number.MAX_SAFE_INTEGER,",
    tests: ["tests/unit/handler_test.ts", REGISTER],
    filter: "/batch cap/",
  },
  {
    name: "body-cap-streamed",
    guard: "a body without a length is cut off at REGISTER_MAX_BODY_BYTES",
    file: "supabase/functions/_shared/http.ts",
    find: "if (size > maxBytes) throw tooLarge();",
    replace: "",
    tests: ["tests/unit/handler_test.ts"],
    filter: "bodies over the limit",
  },
  // Admission: idempotency keys and the rate limit.
  {
    name: "replay-other-body",
    guard: "an Idempotency-Key with another body is a 409",
    file: ADMISSION_SQL,
    find: "if v_existing.request_hash <> p_request_hash then",
    replace: "if false then",
    tests: [IDEMPOTENCY],
    filter: "another body",
  },
  {
    name: "key-in-use-replayed",
    guard: "an Idempotency-Key still in progress is a 409",
    file: ADMISSION_SQL,
    find: "if v_existing.state = 'in_progress' then",
    replace: "if false then",
    tests: [IDEMPOTENCY],
    filter: "still runs",
  },
  {
    name: "key-length-unchecked",
    guard: "a malformed Idempotency-Key is a 400 naming the header",
    file: "supabase/functions/job-interview-register-users/handler.ts",
    find: "if (key.length < 1 || key.length > 255) {",
    replace: "if (false) {",
    tests: [IDEMPOTENCY],
    filter: "malformed key",
  },
  {
    name: "expired-keys-kept",
    guard: "expired idempotency keys are purged",
    file: ADMISSION_SQL,
    find: "delete from public.idempotency_request where expires_at <= now();",
    replace: "delete from public.idempotency_request where false;",
    tests: [IDEMPOTENCY],
    filter: "expired keys are purged",
  },
  {
    name: "no-429",
    guard: "past the merchant's rate limit: 429",
    file: ADMISSION_SQL,
    find: "if v_count > v_limit then",
    replace: "if false then",
    tests: [IDEMPOTENCY],
    filter: "rate limits",
  },
  // Credentials.
  {
    name: "user-audience-unchecked",
    guard: "user tokens must be for the 'authenticated' audience",
    file: "supabase/functions/_shared/auth.ts",
    find: 'if (!audienceIncludes(payload, "authenticated"))',
    replace: "if (false)",
    tests: [AUTH],
    filter: "user tokens that do not verify",
  },
  {
    name: "user-issuer-unchecked",
    guard: "user tokens must come from the project's issuer",
    file: "supabase/functions/_shared/auth.ts",
    find: "if (cfg.authIssuer && payload.iss !== cfg.authIssuer) {",
    replace: "if (false) {",
    tests: [AUTH],
    filter: "user tokens that do not verify",
  },
  {
    name: "user-token-exp-optional",
    guard: "HS256 user tokens must carry exp",
    file: "supabase/functions/_shared/auth.ts",
    find: 'algorithms: ["HS256"],\n          requiredClaims: ["exp"],',
    replace: 'algorithms: ["HS256"],',
    tests: [AUTH],
    filter: "/user tokens that do not verify|credential attacks/",
  },
  {
    name: "any-secret-key",
    guard: "only a configured sb_secret_ key is the service",
    file: "supabase/functions/_shared/auth.ts",
    find: "if (matchesAnyKey(credential, secretKeyDigests)) {",
    replace: "if (true) {",
    tests: [AUTH],
    filter: "keys that are not callers",
  },
  {
    name: "dispatch-open-to-users",
    guard: "only the service key dispatches emails (403 for users)",
    file: "supabase/functions/job-interview-email-dispatch/handler.ts",
    find: 'if (caller.kind !== "service") {',
    replace: "if (false) {",
    tests: [EMAIL],
    filter: "the dispatch function is for the service key only",
  },
  {
    name: "dispatch-403-as-401",
    guard: "a user calling the dispatch gets 403, not 401",
    file: "supabase/functions/job-interview-email-dispatch/handler.ts",
    find: "new HttpError(403, ",
    replace: "new HttpError(401, ",
    tests: [EMAIL],
    filter: "the dispatch function is for the service key only",
  },
  // Row level security and grants.
  {
    name: "rls-every-merchant",
    guard: "staff see only their merchants",
    file: DOMAIN_SQL,
    find: "using (public.can_see(id));",
    replace: "using (true);",
    tests: [RLS],
    filter: "merchants: staff see",
  },
  {
    name: "rls-every-enrolment",
    guard: "candidates see only their own enrolments",
    file: DOMAIN_SQL,
    find: "using (profile_id = (select auth.uid()));",
    replace: "using (true);",
    tests: [RLS],
    filter: "enrolments: candidates see only their own",
  },
  {
    name: "selection-writes",
    guard: "merchant_selection only reads",
    file: DOMAIN_SQL,
    find:
      "(public.current_app_role() in ('merchant_owner', 'merchant') and public.is_staff_of(target))",
    replace: "public.is_staff_of(target)",
    tests: [RLS],
    filter: "interviews: staff read theirs",
  },
  {
    name: "invitation-limit-writable",
    guard: "nobody raises the invitation limit through the API",
    file: DOMAIN_SQL,
    find: "grant update (name, interview_frontend_domain,",
    replace: "grant update (invitations_limit, name, interview_frontend_domain,",
    tests: [RLS],
    filter: "nobody raises the invitation limit",
  },
  {
    name: "register-rpc-for-users",
    guard: "register_interview_users is for the service role only",
    file: REGISTRATION_SQL,
    find:
      "integer, boolean, jsonb, boolean, integer, jsonb, integer) from public, anon, authenticated;",
    replace: "integer, boolean, jsonb, boolean, integer, jsonb, integer) from public, anon;",
    tests: [RLS],
    filter: "/SQL functions are service-only|same rules hold over PostgREST/",
  },
  // Interview links.
  {
    name: "audience-unchecked",
    guard: "interview tokens must be for this audience",
    file: "supabase/functions/_shared/interview_token.ts",
    find: "audience: options.audience,",
    replace: "",
    tests: [START],
    filter: "another audience or issuer",
  },
  {
    name: "issuer-unchecked",
    guard: "interview tokens must come from this issuer",
    file: "supabase/functions/_shared/interview_token.ts",
    find: "issuer: options.issuer,",
    replace: "",
    tests: [START],
    filter: "another audience or issuer",
  },
  {
    name: "expired-as-invalid",
    guard: "an expired link says token_expired",
    file: "supabase/functions/_shared/interview_token.ts",
    find: "if (err instanceof joseErrors.JWTExpired) {",
    replace: "if (false) {",
    tests: [START],
    filter: "expired links",
  },
  {
    name: "link-usable-twice",
    guard: "a link starts one attempt",
    file: START_SQL,
    find: "if v_token.used_at is not null then",
    replace: "if false then",
    tests: [START],
    filter: "a link starts exactly one attempt",
  },
  {
    name: "revoked-link-starts",
    guard: "a revoked link does not start",
    file: START_SQL,
    find: "if v_token.revoked_at is not null then",
    replace: "if false then",
    tests: [START],
    filter: "/revoke/",
  },
  {
    name: "revoke-without-asking",
    guard: "earlier links are revoked only with revoke_previous",
    file: REGISTRATION_SQL,
    find: "where p_revoke_previous",
    replace: "where true",
    tests: [START],
    filter: "revoke_previous",
  },
  {
    name: "expired-record-starts",
    guard: "a link past its recorded expiry does not start",
    file: START_SQL,
    find: "if v_token.expires_at <= now() then",
    replace: "if false then",
    tests: [START],
    filter: "expired links",
  },
  {
    name: "withdrawn-enrolment-starts",
    guard: "a withdrawn enrolment's link does not start",
    file: START_SQL,
    find: "if v_enrolment.status = 'deleted' then",
    replace: "if false then",
    tests: [START],
    filter: "test links take drafts",
  },
  {
    name: "draft-starts-real",
    guard: "a real link does not start a draft",
    file: START_SQL,
    find: "or (v_interview.status in ('draft', 'preparing') and not v_token.is_test)",
    replace: "or false",
    tests: [START],
    filter: "test links take drafts",
  },
  {
    name: "attempts-unlimited",
    guard: "an enrolment starts at most attempts_allowed attempts",
    file: START_SQL,
    find: "if v_attempts >= v_interview.attempts_allowed then",
    replace: "if false then",
    tests: [START],
    filter: "attempts allowed",
  },
  // Invitation emails.
  {
    name: "claim-not-skip-locked",
    guard: "two senders never claim the same outbox rows",
    file: DISPATCH_SQL,
    find: "    limit p_limit\n    for update skip locked\n",
    replace: "    limit p_limit\n",
    tests: [CLAIM],
  },
  {
    name: "claim-ignores-lease",
    guard: "a row another sender leased is not claimed again",
    file: DISPATCH_SQL,
    find: "(o.status = 'pending' or (o.status = 'sending' and o.locked_until < now()))",
    replace: "o.status in ('pending', 'sending')",
    tests: [CLAIM],
  },
  {
    name: "sent-not-recorded",
    guard: "a sent email is recorded as sent",
    file: DISPATCH_SQL,
    find: "when x.outcome = 'sent' then 'sent'::public.email_status",
    replace: "when x.outcome = 'sent' then 'pending'::public.email_status",
    tests: [EMAIL],
    filter: "1,000 candidates",
  },
  {
    name: "unescaped-name",
    guard: "every value in the email's HTML is escaped",
    file: "supabase/functions/_shared/email/render.ts",
    find: "[key, escapeHtml(value)]",
    replace: "[key, value]",
    tests: ["tests/unit/render_test.ts", EMAIL],
    filter: "/escap/",
  },
  {
    name: "unescaped-link",
    guard: "the link in the email's HTML is escaped",
    file: "supabase/functions/_shared/email/render.ts",
    find: "const url = escapeHtml(data.url);",
    replace: "const url = data.url;",
    tests: ["tests/unit/render_test.ts", EMAIL],
    filter: "/escap/",
  },
  {
    name: "sender-name-breaks-out",
    guard: "a sender name cannot break out of the From header",
    file: "supabase/functions/_shared/email/render.ts",
    find: '.replace(/["\\\\<>]/g, "")',
    replace: "",
    tests: ["tests/unit/render_test.ts", EMAIL],
    filter: "/header|sender settings/",
  },
];
