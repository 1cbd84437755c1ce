// Turns a zod failure into the shared error: 422 naming the field (as a path like
// `users[2].name`), or 400 when the body as a whole is of the wrong shape.
import type { z } from "zod";
import { HttpError } from "./http.ts";

/** The first problem, as `{message, field}`, with the field as a path like `users[2].name`. */
export function describeIssue(error: z.ZodError): { message: string; field?: string } {
  const issue = error.issues[0];
  const field = issue.path.reduce<string>(
    (acc, part) =>
      typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part),
    "",
  );
  if (!field) return { message: issue.message };
  return { message: `${field} ${issue.message}`, field };
}

/** Parses `body` or throws the shared error for its first problem. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const { message, field } = describeIssue(parsed.error);
  throw new HttpError(field ? 422 : 400, message, field);
}
