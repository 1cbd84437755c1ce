// The Resend stand-in answers as Resend documents (statuses, error names, the default rate limit
// of 2 requests a second with its headers), and the sender fails at once, with the reason, the
// rows of a call Resend refuses as such (400, 401, 403, 422): no retry can change that answer.
import assert from "node:assert/strict";
import { createServices } from "../../supabase/functions/_shared/services.ts";
import { drainOutbox, inbox } from "../support/inbox.ts";
import {
  asService,
  database,
  info,
  keys,
  postRegister,
  seed,
  stackConfig,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();
const EMAILS_URL = `${info.MAILPIT_URL}/emails`;
const FROM = "Demo <invitations@mail.jobmojito.test>";

/** One call to the stand-in, waiting out its rate limit (other calls share the window). */
async function send(body: unknown, headers: Record<string, string> = {}) {
  for (;;) {
    const res = await fetch(EMAILS_URL, {
      method: "POST",
      headers: {
        authorization: `Bearer ${keys.resendApiKey}`,
        "content-type": "application/json",
        ...headers,
      },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const json = await res.json();
    if (res.status !== 429) return { status: res.status, body: json, headers: res.headers };
    await new Promise((resolve) =>
      setTimeout(resolve, Number(res.headers.get("retry-after")) * 1000)
    );
  }
}

const email = (extra: Record<string, unknown> = {}) => ({
  from: FROM,
  to: [uniqueEmail("resend")],
  subject: "Hello",
  text: "Hello",
  ...extra,
});

Deno.test("the stand-in answers with Resend's documented statuses and names", async (t) => {
  await inbox.clear();
  const cases: [string, unknown, Record<string, string>, number, string][] = [
    ["no API key", email(), { authorization: "" }, 401, "missing_api_key"],
    ["a wrong API key", email(), { authorization: "Bearer re_wrong" }, 403, "invalid_api_key"],
    ["no subject", email({ subject: undefined }), {}, 422, "missing_required_field"],
    ["no recipient", email({ to: undefined }), {}, 422, "missing_required_field"],
    ["a malformed recipient", email({ to: ["not-an-address"] }), {}, 400, "validation_error"],
    [
      "a header line in the subject",
      email({ subject: "a\r\nBcc: x@y.z" }),
      {},
      400,
      "validation_error",
    ],
    [
      "a sender domain that is not verified",
      email({ from: "someone@unverified.example" }),
      {},
      403,
      "validation_error",
    ],
    [
      "the testing domain to someone else",
      email({ from: "onboarding@resend.dev" }),
      {},
      403,
      "validation_error",
    ],
    ["a body that is not JSON", "{", {}, 400, "validation_error"],
  ];
  for (const [name, body, headers, status, errorName] of cases) {
    await t.step(name, async () => {
      const res = await send(body, headers);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.name, errorName);
      assert.equal(res.body.statusCode, status);
    });
  }
  await t.step("the testing domain to the account's own address", async () => {
    const res = await send(email({
      from: "onboarding@resend.dev",
      to: ["owner@mail.jobmojito.test"],
    }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
  assert.equal((await inbox.emails()).length, 1, "only the accepted email was kept");
});

Deno.test("2 requests a second, with the rate-limit headers, then 429 with retry-after", async () => {
  await inbox.clear();
  // Five at once span at most two one-second windows, so at least one is over the limit.
  const answers = await Promise.all(
    Array.from({ length: 5 }, () =>
      fetch(EMAILS_URL, {
        method: "POST",
        headers: { authorization: `Bearer ${keys.resendApiKey}` },
        body: JSON.stringify(email()),
      }).then(async (res) => ({
        status: res.status,
        headers: res.headers,
        body: await res.json(),
      }))),
  );
  for (const answer of answers) {
    assert.equal(answer.headers.get("ratelimit-limit"), "2");
    assert.ok(answer.headers.get("ratelimit-remaining") !== null);
    assert.ok(Number(answer.headers.get("ratelimit-reset")) >= 1);
  }
  const limited = answers.filter((answer) => answer.status === 429);
  assert.ok(limited.length >= 1, JSON.stringify(answers.map((a) => a.status)));
  for (const answer of limited) {
    assert.equal(answer.body.name, "rate_limit_exceeded");
    assert.ok(Number(answer.headers.get("retry-after")) >= 1);
  }
  assert.ok(answers.filter((answer) => answer.status === 200).length <= 4);
});

async function outboxOf(address: string) {
  const [row] = await sql`select o.id, o.status, o.attempts, o.last_error from public.email_outbox o
    join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation' where e.email = ${address}`;
  return row;
}

for (const status of [400, 401, 403, 422]) {
  Deno.test(`a call Resend refuses with ${status} fails its rows at once, with the reason`, async () => {
    await inbox.clear();
    await inbox.fault({ status, times: 1 });
    const address = uniqueEmail(`refused${status}`);
    const res = await postRegister({
      users: [{ email: address }],
      interview_id: seed.activeInterview,
      merchant_id: seed.demoMerchant,
      send_email: true,
    }, asService);
    assert.equal(res.status, 200);
    // "queued" only when the rate limit, shared with the calls before, turned the first call away.
    assert.ok(["failed", "queued"].includes(res.body[0].email_status), res.body[0].email_status);
    await drainOutbox(sql, [address]);
    const row = await outboxOf(address);
    assert.equal(row.status, "failed");
    assert.match(row.last_error, new RegExp(`rejected by the email provider: ${status}`));
    const answered = (await inbox.calls()).filter((call) => call.status !== 429);
    assert.deepEqual(answered.map((call) => call.status), [status], "one call, never retried");
  });
}

Deno.test("an unverified sender domain (a real 403, through the SDK) fails the rows at once", async () => {
  await inbox.clear();
  // The endpoint's own call is refused by the rate limit (nothing taken, so the row is free to be
  // grouped again), and the row waits for the dispatcher below, which has another sender.
  await inbox.fault({ status: 429, times: 1 });
  const address = uniqueEmail("unverified");
  const res = await postRegister({
    users: [{ email: address }],
    interview_id: seed.activeInterview,
    merchant_id: seed.demoMerchant,
    send_email: true,
  }, asService);
  assert.equal(res.body[0].email_status, "queued");
  const { id } = await outboxOf(address);
  const services = createServices(
    await stackConfig({ EMAIL_FROM_ADDRESS: "invitations@unverified.example" }),
  );
  // Until the row is decided: a call turned away by the shared rate limit leaves it queued.
  for (let i = 0; i < 100 && (await outboxOf(address)).status !== "failed"; i++) {
    await sql`update public.email_outbox set next_attempt_at = now()
      where id = ${id} and status = 'pending'`;
    await services.dispatcher.sendQueued([id]);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const row = await outboxOf(address);
  assert.equal(row.status, "failed");
  assert.match(
    row.last_error,
    /403 validation_error: The unverified\.example domain is not verified/,
  );
  const refused = (await inbox.calls()).filter((call) => call.status === 403);
  assert.equal(refused.length, 1, "refused once, never retried");
});

Deno.test({
  name: "close the database connection (email provider)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
