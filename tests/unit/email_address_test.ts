import assert from "node:assert/strict";
import { checkEmail } from "../../supabase/functions/job-interview-register-users/email_address.ts";

Deno.test("valid addresses pass, trimmed", () => {
  assert.deepEqual(checkEmail(" jozo@jozo.sk "), { ok: true, email: "jozo@jozo.sk" });
  assert.equal(checkEmail("first.last+tag@sub.example.co.uk").ok, true);
});

Deno.test("missing, wrong-typed and malformed addresses fail with a reason", () => {
  assert.deepEqual(checkEmail(undefined), { ok: false, reason: "email is required" });
  assert.deepEqual(checkEmail(null), { ok: false, reason: "email is required" });
  assert.deepEqual(checkEmail("  "), { ok: false, reason: "email is required" });
  assert.deepEqual(checkEmail(7), { ok: false, reason: "email must be a string" });
  for (
    const bad of ["plain", "a@b", "a@@b.co", "a b@c.co", "<a@b.co>", `${"a".repeat(250)}@b.co`]
  ) {
    assert.deepEqual(checkEmail(bad), { ok: false, reason: "invalid email address" }, bad);
  }
});
