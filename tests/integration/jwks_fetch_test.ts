// Without SUPABASE_JWKS the function fetches the project's JWKS from /auth/v1 and caches it.
import assert from "node:assert/strict";
import { createHandler } from "../../supabase/functions/job-interview-register-users/handler.ts";
import { seed, stackConfig, tokenFor, uniqueEmail } from "../support/stack.ts";

Deno.test("user tokens verify against the JWKS served under /auth/v1", async () => {
  const cfg = await stackConfig({ SUPABASE_JWKS: undefined });
  assert.equal(cfg.jwks, null);
  const handle = createHandler(cfg);
  const send = async () =>
    handle(
      new Request("http://functions.test/job-interview-register-users", {
        method: "POST",
        headers: { authorization: `Bearer ${await tokenFor("owner")}` },
        body: JSON.stringify({
          users: [{ email: uniqueEmail("jwks") }],
          interview_id: seed.activeInterview,
        }),
      }),
    );
  const first = await send();
  assert.equal(first.status, 200, await first.clone().text());
  assert.equal((await first.json())[0].result, "ok");
  const second = await send();
  assert.equal(second.status, 200);
  await second.body?.cancel();
});
