// An enrolment in Greenhouse's terms. Greenhouse stops polling at "complete" (the only value its
// documentation fixes); the others are shown as they are.
import type { TestStatus } from "./schema.ts";

export interface EnrolmentState {
  id: string;
  interview_name: string;
  frontend_domain: string | null;
  /** The latest attempt's status (interview_result), null before the candidate starts. */
  attempt_status: "started" | "submitted" | "abandoned" | null;
  started_at: string | null;
  finished_at: string | null;
}

const STATUS = {
  started: "started",
  submitted: "complete",
  abandoned: "abandoned",
} as const;

/** Where a recruiter sees the enrolment on the merchant's front end. */
export function profileUrl(frontendUrl: string, enrolmentId: string): string {
  return `${frontendUrl.replace(/\/+$/, "")}/enrolments/${encodeURIComponent(enrolmentId)}`;
}

export function testStatus(state: EnrolmentState, defaultFrontendUrl: string): TestStatus {
  // Values must be primitives and the object flat; absent times are left out, not null.
  const metadata: Record<string, string> = { "Interview": state.interview_name };
  if (state.started_at) metadata["Started At"] = new Date(state.started_at).toISOString();
  if (state.finished_at && state.attempt_status === "submitted") {
    metadata["Completed At"] = new Date(state.finished_at).toISOString();
  }
  return {
    partner_status: state.attempt_status ? STATUS[state.attempt_status] : "not_started",
    partner_profile_url: profileUrl(state.frontend_domain ?? defaultFrontendUrl, state.id),
    // The platform scores no interview yet.
    partner_score: null,
    metadata,
  };
}
