// The outbox decides at the moment of sending: an email whose link died, whose enrolment was
// withdrawn, whose interview closed or whose merchant turned candidate emails off is not sent,
// and its row says why. A group already formed keeps its payload and key whatever changes later;
// past the provider's key window it is never sent blindly again.
import assert from "node:assert/strict";
import { deliveries, drainOutbox, inbox } from "../support/inbox.ts";
import {
  asService,
  asUser,
  database,
  info,
  postRegister,
  seed,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();

async function register(
  email: string,
  interview: string = seed.activeInterview,
  merchant: string = seed.demoMerchant,
  name = "Dana",
) {
  const res = await postRegister({
    users: [{ name, email }],
    interview_id: interview,
    merchant_id: merchant,
    send_email: true,
  }, asService);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body[0];
}

async function outboxRow(email: string) {
  const [row] = await sql`select o.id, o.status::text, o.skip_reason, o.last_error, o.token_jti,
      o.profile_interview_id, o.batch_id
    from public.email_outbox o join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation'
    where e.email = ${email} order by o.created_at desc limit 1`;
  return row;
}

async function newInterview(): Promise<string> {
  const [{ id }] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${seed.demoMerchant}, 'Outbox check', 'active') returning id`;
  return id;
}

type Row = Awaited<ReturnType<typeof outboxRow>>;
const deadLinks: [string, string, (row: Row) => Promise<unknown>, string?][] = [
  [
    "a revoked link",
    "token_revoked",
    (row) => sql`select public.revoke_interview_tokens(${row.profile_interview_id}, null)`,
  ],
  [
    "a used link",
    "token_used",
    (row) => sql`update public.interview_token set used_at = now() where jti = ${row.token_jti}`,
  ],
  [
    "an expired link",
    "token_expired",
    (row) =>
      sql`update public.interview_token set issued_at = now() - interval '2 days',
        expires_at = now() - interval '1 second' where jti = ${row.token_jti}`,
  ],
  [
    "a withdrawn enrolment",
    "enrolment_deleted",
    (row) =>
      sql`update public.profile_interview set status = 'deleted'
        where id = ${row.profile_interview_id}`,
  ],
  ...(["archived", "deleted", "completed"] as const).map((status) =>
    [
      `an interview ${status}`,
      "interview_unavailable",
      (row: Row) =>
        sql`update public.interview_def_set set status = ${status}
          where id = (select interview_def_set_id from public.profile_interview
            where id = ${row.profile_interview_id})`,
      "own interview",
    ] as [string, string, (row: Row) => Promise<unknown>, string]
  ),
  [
    "an interview past interview_available_till",
    "interview_unavailable",
    (row) =>
      sql`update public.interview_def_set set interview_available_till = now()
        where id = (select interview_def_set_id from public.profile_interview
          where id = ${row.profile_interview_id})`,
    "own interview",
  ],
  [
    "a merchant that turned candidate emails off",
    "emails_disabled",
    () =>
      sql`update public.merchant set candidate_emails_enabled = false
        where id = ${seed.otherMerchant}`,
    "other merchant",
  ],
];

for (const [what, reason, kill, where] of deadLinks) {
  Deno.test(`outbox: no email for ${what}; the row says ${reason}`, async () => {
    await inbox.clear();
    const email = uniqueEmail("dead");
    const interview = where === "own interview"
      ? await newInterview()
      : where === "other merchant"
      ? seed.otherInterview
      : seed.activeInterview;
    const merchant = where === "other merchant" ? seed.otherMerchant : seed.demoMerchant;
    // The provider refuses the first call (429): the email waits, not yet in any group.
    await inbox.fault({ status: 429, times: 1 });
    try {
      const registered = await register(email, interview, merchant);
      assert.equal(registered.email_status, "queued");
      const row = await outboxRow(email);
      assert.equal(row.status, "pending");
      await kill(row);
      await drainOutbox(sql, [email]);
    } finally {
      await sql`update public.merchant set candidate_emails_enabled = true
        where id = ${seed.otherMerchant}`;
    }
    assert.equal(deliveries(await inbox.emails()).get(email), undefined, "no email was sent");
    const row = await outboxRow(email);
    assert.equal(row.status, "skipped");
    assert.equal(row.skip_reason, reason);
  });
}

Deno.test("outbox: a name edited between attempts changes nothing of a group already formed", async () => {
  await inbox.clear();
  const email = uniqueEmail("rename");
  // The provider takes the call but answers after the sender gave up: the outcome is unknown.
  await inbox.fault({ delay_ms: 2500, times: 1 });
  const registered = await register(email, seed.activeInterview, seed.demoMerchant, "Old Name");
  assert.equal(registered.email_status, "queued");
  // What waits is the email as sent, minus its link's token: no token, no link.
  const { batch_id } = await outboxRow(email);
  const [group] = await sql`select payload::text as payload from public.email_send_batch
    where id = ${batch_id}`;
  assert.ok(group.payload.includes("__interview_token__"));
  assert.ok(group.payload.includes("Old Name"));
  assert.doesNotMatch(group.payload, /interview_token=(?!__interview_token__)|eyJ[\w-]+\.eyJ/);
  const staff = await asUser("owner");
  const edit = await fetch(
    `${info.REST_URL}/profile_interview?id=eq.${registered.profile_interview_id}`,
    {
      method: "PATCH",
      headers: { ...staff, "content-type": "application/json", prefer: "return=minimal" },
      body: JSON.stringify({ name: "New Name" }),
    },
  );
  assert.equal(edit.status, 204, await edit.text());
  // Let the late call land, then retry.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await drainOutbox(sql, [email]);
  const received = (await inbox.emails()).filter((e) => e.to.includes(email));
  assert.equal(received.length, 1);
  assert.match(received[0].text!, /Old Name/);
  const row = await outboxRow(email);
  assert.equal(row.status, "sent", row.last_error);
  const calls = await inbox.calls();
  assert.ok(calls.every((call) => call.status !== 409), JSON.stringify(calls));
  assert.equal(new Set(calls.map((call) => call.idempotency_key)).size, 1);
  assert.ok(calls.length >= 2, "the retry went out under the same key");
  // A settled group keeps its key and outcome, not the email.
  const [settled] = await sql`select payload, outcome from public.email_send_batch
    where id = ${batch_id}`;
  assert.deepEqual([settled.payload, settled.outcome], [null, "sent"]);
});

Deno.test("outbox: past the provider's key window a group is not sent again; its rows say why", async () => {
  await inbox.clear();
  const email = uniqueEmail("window");
  await inbox.fault({ status: 503, times: 1 });
  const registered = await register(email);
  assert.equal(registered.email_status, "queued");
  const row = await outboxRow(email);
  assert.equal(row.status, "sending");
  await sql`update public.email_send_batch set created_at = now() - interval '25 hours',
    next_attempt_at = now() where id = ${row.batch_id}`;
  await drainOutbox(sql, [email]);
  const after = await outboxRow(email);
  assert.equal(after.status, "failed");
  assert.match(after.last_error, /24-hour idempotency window/);
  assert.equal((await inbox.calls()).length, 1, "no call after the window");
});

Deno.test("outbox: a merchant's front-end domain the URL parser refuses holds up no invitation", async () => {
  await inbox.clear();
  const theirs = uniqueEmail("baddomain");
  const ours = uniqueEmail("neighbour");
  // Both wait in the queue (the provider refuses the first calls), so one dispatch groups them.
  await inbox.fault({ status: 429, times: 2 });
  try {
    assert.equal(
      (await register(theirs, seed.otherInterview, seed.otherMerchant)).email_status,
      "queued",
    );
    assert.equal((await register(ours)).email_status, "queued");
    // The owner sets a domain the table's check lets through but no URL parser accepts.
    const owner = await asUser("otherOwner");
    const edit = await fetch(`${info.REST_URL}/merchant?id=eq.${seed.otherMerchant}`, {
      method: "PATCH",
      headers: { ...owner, "content-type": "application/json", prefer: "return=minimal" },
      body: JSON.stringify({ interview_frontend_domain: 'https://jobs.example"><b>' }),
    });
    assert.equal(edit.status, 204, await edit.text());
    await drainOutbox(sql, [theirs, ours]);
  } finally {
    await sql`update public.merchant set interview_frontend_domain = null
      where id = ${seed.otherMerchant}`;
  }
  const received = deliveries(await inbox.emails());
  assert.equal(received.get(ours), 1, "the other merchant's email went out");
  assert.equal(received.get(theirs), 1, "the email went out, with the default front end");
  const sent = (await inbox.emails()).find((email) => email.to.includes(theirs))!;
  assert.doesNotMatch(sent.text!, /jobs\.example/);
  assert.equal((await outboxRow(theirs)).status, "sent");
  assert.equal((await outboxRow(ours)).status, "sent");
});

Deno.test({
  name: "close the database connection (outbox)",
  fn: async () => {
    await inbox.clear();
    await sql.end();
  },
  sanitizeResources: false,
  sanitizeOps: false,
});
