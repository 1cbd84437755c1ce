// Per-row email validation: a candidate's email must be one an email provider would accept.
import { z } from "zod";

const emailSchema = z.email();

export type EmailCheck = { ok: true; email: string } | { ok: false; reason: string };

export function checkEmail(value: unknown): EmailCheck {
  if (value === undefined || value === null || (typeof value === "string" && !value.trim())) {
    return { ok: false, reason: "email is required" };
  }
  if (typeof value !== "string") return { ok: false, reason: "email must be a string" };
  const email = value.trim();
  if (email.length > 254 || !emailSchema.safeParse(email).success) {
    return { ok: false, reason: "invalid email address" };
  }
  return { ok: true, email };
}
