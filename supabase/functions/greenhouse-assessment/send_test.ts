// send_test is a registration of one candidate through the registration core (the same SQL
// functions, links, outbox and emails as POST /job-interview-register-users). Greenhouse retries
// a send it did not see answered, so the request carries an Idempotency-Key of its own: the same
// candidate for the same test and application is answered from the first registration's record
// within the idempotency window, with no second enrolment or email.
import { createHash } from "node:crypto";
import type { ApiKeyCaller } from "../_shared/api_key.ts";
import { HttpError } from "../_shared/http.ts";
import { CHALLENGE } from "./basic_auth.ts";
import {
  type RegisterDeps,
  registerUsers,
  type Registration,
} from "../job-interview-register-users/register.ts";
import type { RegisterRequest, ResultRow } from "../job-interview-register-users/schema.ts";
import type { SendTestRequest } from "./schema.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The Greenhouse application id, from the candidate's Greenhouse profile URL, if it has one. */
export function applicationIdOf(profileUrl: string | null | undefined): string | null {
  if (!profileUrl) return null;
  try {
    const id = new URL(profileUrl).searchParams.get("application_id");
    return id && /^[0-9A-Za-z_-]{1,64}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}

export function candidateName(candidate: SendTestRequest["candidate"]): string | null {
  const name = [candidate.first_name, candidate.last_name]
    .map((part) => part?.trim() ?? "").filter(Boolean).join(" ");
  if (!name) return null;
  // At most 200 UTF-16 units, as the registration takes; never half of a surrogate pair.
  const cut = name.slice(0, 200);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * The send's identity: test, email and application. Its digest is both the key and the request
 * hash, so a retry that differs in anything else (a corrected name, another sender) is still
 * the same send and answered from its record.
 */
export function sendIdentity(request: SendTestRequest): { key: string; hash: string } {
  const identity = JSON.stringify([
    request.partner_test_id.toLowerCase(),
    (request.candidate.email ?? "").trim().toLowerCase(),
    applicationIdOf(request.candidate.greenhouse_profile_url),
  ]);
  const digest = createHash("sha256").update(identity).digest("hex");
  return { key: `greenhouse:${digest}`, hash: digest };
}

const unknownTest = () =>
  new HttpError(404, "Unknown partner_test_id", "partner_test_id", {}, "unknown_test");

/** The one candidate's row as an error Greenhouse can show, or null when it registered. */
function rowError(row: ResultRow): HttpError | null {
  if (row.result === "ok") return null;
  const reason = row.result.replace(/^Error: /, "");
  if (/invitation limit/i.test(reason)) {
    return new HttpError(
      403,
      "The merchant has reached its invitation limit",
      undefined,
      {},
      "invitation_limit",
    );
  }
  const field = /email/i.test(reason) ? "candidate.email" : "candidate";
  return new HttpError(400, `Invalid candidate: ${reason}`, field, {}, "invalid_candidate");
}

export async function sendTest(
  deps: RegisterDeps,
  caller: ApiKeyCaller,
  request: SendTestRequest,
): Promise<{ partnerInterviewId: string; registration: Registration }> {
  // An id that cannot be a test still goes through the key's check (401 before 404): as the nil
  // id, which no interview has, so the core answers it as unknown.
  const testId = UUID.test(request.partner_test_id)
    ? request.partner_test_id.toLowerCase()
    : "00000000-0000-0000-0000-000000000000";
  const register: RegisterRequest = {
    users: [{
      name: candidateName(request.candidate),
      email: request.candidate.email ?? undefined,
      external_id: applicationIdOf(request.candidate.greenhouse_profile_url),
    }],
    interview_id: testId,
    merchant_id: null,
    send_email: true,
    type: null,
    hide_menu: false,
    hide_iframe: false,
    // A test key registers test enrolments only (and may take draft interviews).
    is_test: caller.test,
    revoke_previous: false,
  };
  let registration: Registration;
  try {
    registration = await registerUsers(deps, caller, register, sendIdentity(request));
  } catch (err) {
    if (err instanceof HttpError && err.status === 422 && err.field === "interview_id") {
      throw unknownTest();
    }
    if (err instanceof HttpError && err.status === 401) {
      throw new HttpError(401, err.message, err.field, { ...err.headers, ...CHALLENGE }, err.code);
    }
    throw err;
  }
  const [row] = JSON.parse(registration.body) as ResultRow[];
  const refused = rowError(row);
  if (refused) throw refused;
  return { partnerInterviewId: row.profile_interview_id!, registration };
}
