import assert from "node:assert/strict";
import { describeIssue } from "../../supabase/functions/_shared/validation.ts";
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
