import assert from "node:assert/strict";
import { describeIssue } from "../../supabase/functions/_shared/validation.ts";
import { locateJsonError } from "../../supabase/functions/_shared/json_error.ts";
import { dispatchRequestSchema } from "../../supabase/functions/job-interview-email-dispatch/schema.ts";
import { startRequestSchema } from "../../supabase/functions/job-interview-start/schema.ts";
import { registerRequestSchema } from "../../supabase/functions/job-interview-register-users/schema.ts";

const schema = registerRequestSchema(1000);
const base = { users: [{ email: "a@b.co" }], interview_id: "04e09fa5-3fb8-4236-b37d-fca2bcd1cb66" };

Deno.test('flags accept true, "true", false, "false", null and absence', () => {
  for (
    const [value, expected] of [[true, true], ["true", true], [false, false], ["false", false], [
      null,
      false,
    ], [undefined, false]]
  ) {
    const parsed = schema.parse({ ...base, is_test: value });
    assert.equal(parsed.is_test, expected, String(value));
  }
});

Deno.test("unknown keys are ignored", () => {
  const parsed = schema.parse({ ...base, surprise: 1 });
  assert.equal("surprise" in parsed, false);
});

Deno.test("issues are described with a field path", () => {
  const result = schema.safeParse({ ...base, users: [{ email: "a@b.co", external_id: 3 }] });
  assert.equal(result.success, false);
  assert.deepEqual(describeIssue(result.error!), {
    message: "users[0].external_id must be a string or null",
    field: "users[0].external_id",
  });
});

Deno.test("merchant_id must be a uuid or null", () => {
  assert.equal(schema.safeParse({ ...base, merchant_id: null }).success, true);
  const result = schema.safeParse({ ...base, merchant_id: "abc" });
  assert.equal(describeIssue(result.error!).field, "merchant_id");
});

Deno.test("a present field of the wrong type or format says so, never 'is required'", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...base, interview_id: "abc" }, "interview_id must be a UUID"],
    [{ ...base, interview_id: 42 }, "interview_id must be a UUID"],
    [{ ...base, interview_id: null }, "interview_id must be a UUID"],
    [{ users: base.users }, "interview_id is required: the interview or position id (a UUID)"],
    [{ ...base, users: { email: "a@b.co" } }, "users must be an array of candidates"],
    [{ ...base, users: "a@b.co" }, "users must be an array of candidates"],
    [{ interview_id: base.interview_id }, "users is required: an array of candidates"],
    [{ ...base, users: [] }, "users must hold at least one candidate"],
    [{ ...base, merchant_id: 7 }, "merchant_id must be a UUID or null"],
    [{ ...base, send_email: "yes" }, "send_email must be true, false or null"],
    [{ ...base, type: "email" }, 'type must be "url" or "invitation"'],
    [{ ...base, hide_menu: 1 }, 'hide_menu must be true, false, "true", "false" or null'],
    [{ ...base, is_test: "yes" }, 'is_test must be true, false, "true", "false" or null'],
  ];
  for (const [body, message] of cases) {
    const result = schema.safeParse(body);
    assert.equal(result.success, false, JSON.stringify(body));
    assert.equal(describeIssue(result.error!).message, message, JSON.stringify(body));
  }
});

Deno.test("the start and dispatch endpoints name a wrong type too", () => {
  const start = startRequestSchema.safeParse({ interview_token: 5 });
  assert.equal(
    describeIssue(start.error!).message,
    "interview_token must be a string: the token from the interview link",
  );
  const dispatch = dispatchRequestSchema.safeParse({ limit: 0 });
  assert.equal(describeIssue(dispatch.error!).message, "limit must be an integer from 1 to 1000");
});

Deno.test("invalid JSON is located by line and column", () => {
  assert.equal(locateJsonError('{"users": []}'), null);
  assert.deepEqual(locateJsonError('{\n  "users": [],\n  "interview_id": tru\n}'), {
    line: 3,
    column: 22,
    found: '"\\n"',
  });
  assert.deepEqual(locateJsonError('{"a": 1,}'), { line: 1, column: 9, found: '"}"' });
  assert.deepEqual(locateJsonError('{"a": [1, 2'), { line: 1, column: 12, found: "end of input" });
  assert.deepEqual(locateJsonError("{'a': 1}"), { line: 1, column: 2, found: `"'"` });
  assert.deepEqual(locateJsonError('{"a": "x\\q"}'), { line: 1, column: 10, found: '"q"' });
  for (const valid of ['"x"', "-1.5e3", "[true,false,null]", ' {"\\u00e9": [{}]} ']) {
    assert.equal(locateJsonError(valid), null, valid);
  }
});
