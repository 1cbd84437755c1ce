// The typed client generated from the OpenAPI document, against the stack.
import assert from "node:assert/strict";
import { createRegistrationClient } from "../../clients/typescript/client.ts";
import { info, seed, tokenFor, uniqueEmail } from "../support/stack.ts";

Deno.test("register, then start the link, through the typed client", async () => {
  const api = createRegistrationClient({
    functionsUrl: info.FUNCTIONS_URL,
    credential: info.SECRET_KEY,
  });
  const { data, error, response } = await api.POST("/job-interview-register-users", {
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
    body: {
      users: [{ name: "Typed", email: uniqueEmail("typed") }],
      interview_id: seed.activeInterview,
      merchant_id: seed.demoMerchant,
      hide_menu: "true",
    },
  });
  assert.equal(error, undefined);
  assert.equal(response.headers.get("ratelimit-limit") !== null, true);
  const row = data![0];
  assert.equal(row.result, "ok");
  const token = new URL(row.interview_url!).searchParams.get("interview_token")!;

  const started = await api.POST("/job-interview-start", { body: { interview_token: token } });
  assert.equal(started.data?.profile_interview_id, row.profile_interview_id);
  assert.equal(started.data?.view.hide_menu, true);

  const again = await api.POST("/job-interview-start", { body: { interview_token: token } });
  assert.equal(again.response.status, 409);
  assert.equal(again.error?.code, "token_used");
});

Deno.test("errors come back typed, in the shared shape", async () => {
  const api = createRegistrationClient({
    functionsUrl: info.FUNCTIONS_URL,
    credential: await tokenFor("selection"),
  });
  const { data, error, response } = await api.POST("/job-interview-register-users", {
    body: { users: [{ email: uniqueEmail() }], interview_id: seed.activeInterview },
  });
  assert.equal(data, undefined);
  assert.equal(response.status, 403);
  assert.equal(typeof error?.error, "string");
});
