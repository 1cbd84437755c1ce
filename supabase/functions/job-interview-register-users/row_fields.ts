// Per-row checks of a candidate's fields, as the types they are: a bad value fails its own row,
// never the batch, and is never echoed back as anything but a string or null.
import { checkEmail } from "./email_address.ts";

// C0 and C1 control characters and DEL, except tab and newline (which names and ids pasted from
// spreadsheets carry). PostgreSQL cannot store NUL at all.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Why a name or external id cannot be stored, or null when it can. */
export function checkText(value: string | null | undefined, field: string): string | null {
  if (typeof value !== "string") return null;
  if (CONTROL.test(value)) return `${field} must not contain control characters`;
  if (!value.isWellFormed()) return `${field} must be valid Unicode text`;
  return null;
}

export interface CandidateInput {
  name?: string | null;
  email?: unknown;
  external_id?: string | null;
}

export type RowCheck =
  | { ok: true; name: string | null; email: string; external_id: string | null }
  | { ok: false; reason: string };

/** Checks one candidate: the email first, then the texts, the first problem wins. */
export function checkCandidate(user: CandidateInput): RowCheck {
  const email = checkEmail(user.email);
  if (!email.ok) return { ok: false, reason: email.reason };
  const problem = checkText(user.name, "name") ?? checkText(user.external_id, "external_id");
  if (problem) return { ok: false, reason: problem };
  return {
    ok: true,
    name: user.name ?? null,
    email: email.email,
    external_id: user.external_id ?? null,
  };
}

/** The email as echoed in the answer: the string sent, else null (never a structure). */
export function echoedEmail(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}
