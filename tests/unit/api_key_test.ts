import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { apiKeyCaller, looksLikeApiKey } from "../../supabase/functions/_shared/api_key.ts";
import { HttpError } from "../../supabase/functions/_shared/http.ts";

const live = "jm_live_" + "a1B2".repeat(11) + "xyz";
const test = "jm_test_" + "Z9".repeat(23) + "q";

Deno.test("API keys are recognised by their prefix alone, before any JWT parsing", () => {
  assert.ok(looksLikeApiKey(live) && looksLikeApiKey(test) && looksLikeApiKey("jm_live_"));
  for (const other of ["sb_secret_abc", "eyJhbGciOiJIUzI1NiJ9.e30.x", "jm_prod_x", "JM_LIVE_x"]) {
    assert.equal(looksLikeApiKey(other), false, other);
  }
});

Deno.test("a well-formed key becomes its SHA-256, whatever its content", () => {
  assert.deepEqual(apiKeyCaller(live), {
    kind: "api_key",
    keyHash: createHash("sha256").update(live).digest("hex"),
    test: false,
  });
  assert.equal(apiKeyCaller(test).test, true);
});

Deno.test("a key of the wrong shape: 401 Invalid API key", () => {
  for (const bad of ["jm_live_", live.slice(0, -1), `${live}a`, `${live.slice(0, -1)}-`]) {
    assert.throws(
      () => apiKeyCaller(bad),
      (err) => err instanceof HttpError && err.status === 401 && err.message === "Invalid API key",
    );
  }
});
