import assert from "node:assert/strict";
import {
  checkCandidate,
  checkText,
  echoedEmail,
} from "../../supabase/functions/job-interview-register-users/row_fields.ts";

Deno.test("names and ids: tab and newline pass, other control characters fail", () => {
  assert.equal(checkText("Ada\tLovelace\n", "name"), null);
  assert.equal(checkText(null, "name"), null);
  assert.equal(checkText(undefined, "name"), null);
  for (const bad of ["\u0000", "a\rb", "\u0007", "\u001b[0m", "\u007f", "\u0085", "\u009f"]) {
    assert.equal(checkText(bad, "name"), "name must not contain control characters", bad);
  }
  assert.equal(checkText("x\ud800", "external_id"), "external_id must be valid Unicode text");
  assert.equal(checkText("💥 O'Brien", "name"), null);
});

Deno.test("a candidate's first problem wins: email, then name, then external id", () => {
  assert.deepEqual(checkCandidate({ email: 7, name: "\u0000" }), {
    ok: false,
    reason: "email must be a string",
  });
  assert.deepEqual(checkCandidate({ email: "a@b.co", name: "\u0000", external_id: "\u0000" }), {
    ok: false,
    reason: "name must not contain control characters",
  });
  assert.deepEqual(checkCandidate({ email: " a@b.co ", name: "A" }), {
    ok: true,
    name: "A",
    email: "a@b.co",
    external_id: null,
  });
});

Deno.test("only strings are echoed as the email", () => {
  assert.equal(echoedEmail("a@b.co"), "a@b.co");
  for (const value of [7, {}, [], true, null, undefined]) assert.equal(echoedEmail(value), null);
});
