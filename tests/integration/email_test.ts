// Invitation emails end to end: the outbox, batch sending through the real `resend` SDK to the
// local Resend stand-in, retries under faults, and what the email says.
import assert from "node:assert/strict";
import { importJWK, jwtVerify } from "jose";
import { publicJwk } from "../../stack/keys.ts";
import { deliveries, dispatch, drainOutbox, inbox } from "../support/inbox.ts";
import {
  asService,
  asUser,
  database,
  info,
  keys,
  postRegister,
  seed,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();

const register = (users: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
  postRegister({
    users,
    interview_id: seed.activeInterview,
    merchant_id: seed.demoMerchant,
    send_email: true,
    ...extra,
  }, asService);

function exactlyOnce(received: Map<string, number>, addresses: string[]) {
  for (const address of addresses) {
    assert.equal(
      received.get(address.toLowerCase()),
      1,
      `${address} received ${received.get(address)}`,
    );
  }
}

Deno.test("1,000 candidates: 1,000 emails, each once, through at most 10 API calls", async () => {
  await inbox.clear();
  const addresses = Array.from({ length: 1000 }, (_, i) => uniqueEmail(`mass${i}`));
  const res = await register(addresses.map((email, i) => ({ name: `Candidate ${i}`, email })));
  assert.equal(res.status, 200);
  for (const row of res.body) {
    assert.equal(row.result, "ok");
    assert.ok(["sent", "queued"].includes(row.email_status), row.email_status);
  }
  await drainOutbox(sql, addresses);
  const received = deliveries(await inbox.emails());
  exactlyOnce(received, addresses);
  assert.equal(received.size, 1000);
  // Calls turned away by Resend's rate limit (2 a second, shared by all senders) carry nothing.
  const calls = (await inbox.calls()).filter((call) => call.status !== 429);
  assert.ok(calls.length <= 10, `${calls.length} API calls`);
  const outbox = await sql`select o.status, o.provider_id from public.email_outbox o
    join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation'
    where lower(e.email) = any (${addresses})`;
  assert.equal(outbox.length, 1000);
  assert.ok(outbox.every((row) => row.status === "sent" && row.provider_id));
});

for (
  const [name, fault] of [
    ["500s", { status: 500, times: 2 }],
    ["a 429 with retry-after", { status: 429, times: 1 }],
    ["503s", { status: 503, times: 3 }],
    ["a time-out after the provider took the batch", { delay_ms: 2500, times: 1 }],
  ] as const
) {
  Deno.test(`with ${name}, every email still arrives exactly once`, async () => {
    await inbox.clear();
    await inbox.fault(fault);
    const addresses = Array.from({ length: 3 }, () => uniqueEmail("fault"));
    const res = await register(addresses.map((email) => ({ email })));
    assert.equal(res.status, 200);
    assert.ok(res.body.every((row: { email_status: string }) => row.email_status === "queued"));
    await drainOutbox(sql, addresses);
    // Let a delayed provider call finish, so a duplicate would have time to show up.
    await new Promise((resolve) => setTimeout(resolve, "delay_ms" in fault ? 1500 : 100));
    exactlyOnce(deliveries(await inbox.emails()), addresses);
    const rows = await sql`select o.status, o.attempts from public.email_outbox o
      join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation'
      where lower(e.email) = any (${addresses})`;
    assert.ok(rows.every((row) => row.status === "sent"));
    assert.ok(rows.every((row) => row.attempts >= 2));
    if ("delay_ms" in fault) {
      // The retry went out under the same Idempotency-Key, which is why nothing doubled.
      const keysUsed = (await inbox.calls()).map((call) => call.idempotency_key);
      assert.ok(keysUsed.length >= 2 && new Set(keysUsed).size < keysUsed.length, String(keysUsed));
    }
  });
}

Deno.test("a rejected address fails alone; the others arrive", async () => {
  await inbox.clear();
  const good = [uniqueEmail("ok"), uniqueEmail("ok")];
  const bad = `nobody-${crypto.randomUUID().slice(0, 8)}@example.invalid`;
  const res = await register([{ email: good[0] }, { email: bad }, { email: good[1] }]);
  assert.deepEqual(res.body.map((row: { email_status: string }) => row.email_status), [
    "sent",
    "failed",
    "sent",
  ]);
  assert.match(res.body[1].email_error, /rejected/);
  exactlyOnce(deliveries(await inbox.emails()), good);
  const [row] = await sql`select o.status, o.last_error from public.email_outbox o
    join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation' where e.email = ${bad}`;
  assert.equal(row.status, "failed");
  assert.match(row.last_error, /rejected/);
});

Deno.test("email_status: skipped, with its reason, when not asked and when the merchant turned emails off", async () => {
  await inbox.clear();
  const notAsked = await register([{ email: uniqueEmail() }], { send_email: false });
  assert.equal(notAsked.body[0].email_status, "skipped");
  assert.equal(notAsked.body[0].email_skipped_reason, "not_requested");
  const absent = await register([{ email: uniqueEmail() }], { send_email: undefined });
  assert.equal(absent.body[0].email_status, "skipped");
  assert.equal(absent.body[0].email_skipped_reason, "not_requested");
  const test = await register([{ email: uniqueEmail() }], { is_test: true, send_email: false });
  assert.equal(test.body[0].email_status, "skipped");
  assert.equal(test.body[0].email_skipped_reason, "not_requested");
  await sql`update public.merchant set candidate_emails_enabled = false where id = ${seed.otherMerchant}`;
  try {
    const off = await postRegister({
      users: [{ email: uniqueEmail() }],
      interview_id: seed.otherInterview,
      merchant_id: seed.otherMerchant,
      send_email: true,
    }, asService);
    assert.equal(off.body[0].email_status, "skipped");
    assert.equal(off.body[0].email_skipped_reason, "emails_disabled");
    // Decided by the registration: nothing is queued that a later dispatch could still send.
    const [queued] = await sql`select count(*)::int as n from public.email_outbox o
      where o.profile_interview_id = ${off.body[0].profile_interview_id}`;
    assert.equal(queued.n, 0, "an invitation was queued while the merchant's emails were off");
  } finally {
    await sql`update public.merchant set candidate_emails_enabled = true where id = ${seed.otherMerchant}`;
  }
  assert.equal((await inbox.emails()).length, 0);
});

Deno.test("type: invitation sends; type: url does not", async () => {
  await inbox.clear();
  const invited = uniqueEmail("type");
  const a = await register([{ email: invited }], { send_email: undefined, type: "invitation" });
  assert.equal(a.body[0].email_status, "sent");
  const b = await register([{ email: uniqueEmail() }], { send_email: undefined, type: "url" });
  assert.equal(b.body[0].email_status, "skipped");
  assert.deepEqual([...deliveries(await inbox.emails()).keys()], [invited]);
});

Deno.test("re-registering does not resend unless asked again", async () => {
  await inbox.clear();
  const email = uniqueEmail("again");
  await register([{ email }]);
  await register([{ email }], { send_email: false });
  assert.equal(deliveries(await inbox.emails()).get(email), 1);
  await register([{ email }]);
  assert.equal(deliveries(await inbox.emails()).get(email), 2);
});

Deno.test("revoke_previous leaves the link of an invitation still to be sent", async () => {
  await inbox.clear();
  await inbox.fault({ status: 500, times: 1 });
  const email = uniqueEmail("keep");
  await register([{ email }]);
  const [waiting] = await sql`select o.status from public.email_outbox o
    join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation' where e.email = ${email}`;
  // A 500 leaves the outcome open: the row stays with its send group, which waits for a retry.
  assert.equal(waiting.status, "sending", "the invitation waits for a retry");
  const again = await register([{ email }], { send_email: false, revoke_previous: true });
  assert.equal(again.body[0].result, "ok");
  const tokens = await sql`select t.revoked_at is not null as revoked,
      exists (select 1 from public.email_outbox o where o.token_jti = t.jti) as emailed
    from public.interview_token t join public.profile_interview e on e.id = t.profile_interview_id
    where e.email = ${email} order by t.issued_at`;
  assert.deepEqual(tokens.map((t) => [t.emailed, t.revoked]).sort(), [
    [false, false], // the new link
    [false, true], // the first registration's link
    [true, false], // the waiting invitation's link
  ]);
  await drainOutbox(sql, [email]);
  exactlyOnce(deliveries(await inbox.emails()), [email]);
});

Deno.test("revoke_previous keeps the link of the invitation it found waiting, sent meanwhile", async () => {
  // An interview without reminders: a reminder would carry the link as well.
  const [{ id: interview }] = await sql`insert into public.interview_def_set
    (merchant_id, name, status, reminder_delays)
    values (${seed.demoMerchant}, 'No reminders', 'active', '{}') returning id`;
  await inbox.clear();
  await inbox.fault({ status: 500, times: 1 });
  const email = uniqueEmail("keep-sent");
  assert.equal((await register([{ email }], { interview_id: interview })).status, 200);
  const [waiting] = await sql`select o.status, o.token_jti from public.email_outbox o
    join public.profile_interview e on e.id = o.profile_interview_id and o.kind = 'invitation'
    where e.email = ${email}`;
  assert.equal(waiting.status, "sending", "the invitation waits for a retry");

  // The registration below finds that invitation waiting, so it queues none; a pause of this
  // test's own, at the end of its email statement (only in a transaction that wrote a link of
  // this interview), lets the invitation go out before the registration goes on to revoke.
  await sql`create table public.test_only_pause (interview uuid)`;
  await sql`create function public.test_only_pause() returns trigger language plpgsql
    security definer set search_path = '' as $$
    begin
      for attempt in 1..80 loop
        exit when not exists (select 1 from public.test_only_pause p
          join public.interview_token t on t.interview_def_set_id = p.interview
          where age(t.xmin) = 0);
        perform pg_sleep(0.05);
      end loop;
      return null;
    end $$`;
  await sql`create trigger test_only_pause after insert on public.email_outbox
    for each statement execute function public.test_only_pause()`;
  const paused = async () =>
    (await sql`select 1 from pg_stat_activity where wait_event = 'PgSleep'`).length > 0;
  try {
    await sql`insert into public.test_only_pause values (${interview})`;
    const again = register([{ email }], { interview_id: interview, revoke_previous: true });
    again.catch(() => {});
    const deadline = Date.now() + 3_000;
    while (!await paused()) {
      assert.ok(Date.now() < deadline, "the registration did not reach the pause");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await drainOutbox(sql, [email]);
    assert.ok(await paused(), "the invitation went out while the registration was paused");
    await sql`delete from public.test_only_pause`;
    const res = await again;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body[0].result, "ok");
  } finally {
    await sql`drop trigger test_only_pause on public.email_outbox`;
    await sql`drop function public.test_only_pause()`;
    await sql`drop table public.test_only_pause`;
  }
  const [link] = await sql`select revoked_at is null as live from public.interview_token
    where jti = ${waiting.token_jti}`;
  assert.ok(link.live, "the invitation that went out carries a working link");
  exactlyOnce(deliveries(await inbox.emails()), [email]);
});

Deno.test("the email: sender settings, escaping, link with its own token, text part", async () => {
  await inbox.clear();
  const email = uniqueEmail("render");
  await sql`update public.merchant
    set email_sender_name = ${'Evil\r\nBcc: spy@example.com "Corp"'}
    where id = ${seed.otherMerchant}`;
  try {
    // A newline is the injection attempt: other control characters fail the row before any email.
    const res = await postRegister({
      users: [{ name: "<script>alert(1)</script>\nBcc: x@example.com", email }],
      interview_id: seed.otherInterview,
      merchant_id: seed.otherMerchant,
      send_email: true,
      hide_menu: true,
    }, asService);
    assert.equal(res.body[0].email_status, "sent");
  } finally {
    await sql`update public.merchant set email_sender_name = 'Other Merchant'
      where id = ${seed.otherMerchant}`;
  }
  const [sent] = (await inbox.emails()).filter((e) => e.to.includes(email));
  assert.equal(sent.from, '"Evil Bcc: spy@example.com Corp" <invitations@mail.jobmojito.test>');
  assert.ok(!sent.html!.includes("<script>"));
  assert.ok(sent.html!.includes("&lt;script&gt;alert(1)&lt;/script&gt; Bcc: x@example.com"));
  assert.ok(!/[\r\n]/.test(sent.subject));
  assert.match(sent.subject, /Sales Representative/);
  assert.ok(sent.text!.includes("<script>alert(1)</script> Bcc: x@example.com"));

  const link = /https?:\/\/[^\s"<]+interview_token=[^\s"<&]+(&amp;view_hm=true)?/.exec(
    sent.html!,
  )![0]
    .replaceAll("&amp;", "&");
  assert.ok(sent.text!.includes(link), "the text part carries the same link");
  const url = new URL(link);
  assert.equal(url.pathname, `/interview/take/${seed.otherInterview}/`);
  assert.equal(url.searchParams.get("view_hm"), "true");
  const key = await importJWK(publicJwk(keys.interviewSigningKey), "EdDSA");
  const { payload } = await jwtVerify(url.searchParams.get("interview_token")!, key, {
    issuer: `${info.API_URL}/functions/v1`,
    audience: "job-interview",
  });
  const [record] = await sql`select t.jti, e.email from public.interview_token t
    join public.profile_interview e on e.id = t.profile_interview_id where t.jti = ${payload.jti!}`;
  assert.equal(record.email, email);
  const [outbox] = await sql`select token_jti from public.email_outbox where token_jti = ${payload
    .jti!}`;
  assert.ok(outbox, "the email's token is the outbox row's own");
  assert.match(sent.text!, /expires|UTC/);
});

Deno.test("the email speaks the interview's language, with English as the fallback", async () => {
  await inbox.clear();
  const [{ id: spanish }] = await sql`insert into public.interview_def_set
    (merchant_id, name, status, mojito_language_code)
    values (${seed.demoMerchant}, 'Entrevista', 'active', 'es') returning id`;
  const [{ id: unknown }] = await sql`insert into public.interview_def_set
    (merchant_id, name, status, mojito_language_code)
    values (${seed.demoMerchant}, 'Entrevista BR', 'active', 'pt-BR') returning id`;
  const cases: [string, string, RegExp][] = [
    [seed.subInterview, seed.subMerchant, /^Ihr Interview für Warehouse Associate/],
    [spanish, seed.demoMerchant, /^Tu entrevista para Entrevista/],
    [unknown, seed.demoMerchant, /^Your interview for Entrevista BR/],
  ];
  for (const [interview, merchant, subject] of cases) {
    const email = uniqueEmail("lang");
    const res = await postRegister({
      users: [{ name: "Lang", email }],
      interview_id: interview,
      merchant_id: merchant,
      send_email: true,
    }, asService);
    assert.equal(res.body[0].email_status, "sent", JSON.stringify(res.body));
    const [sent] = (await inbox.emails()).filter((e) => e.to.includes(email));
    assert.match(sent.subject, subject);
  }
});

Deno.test("concurrent dispatchers never send the same row twice", async () => {
  await inbox.clear();
  await inbox.fault({ status: 500, times: 3 });
  const addresses = Array.from({ length: 250 }, () => uniqueEmail("conc"));
  const res = await register(addresses.map((email) => ({ email })));
  assert.ok(res.body.every((row: { email_status: string }) => row.email_status === "queued"));
  await new Promise((resolve) => setTimeout(resolve, 600));
  await Promise.all(Array.from({ length: 4 }, () => dispatch()));
  await drainOutbox(sql, addresses);
  exactlyOnce(deliveries(await inbox.emails()), addresses);
});

Deno.test("the dispatch function is for the service key only", async () => {
  const url = `${info.FUNCTIONS_URL}/job-interview-email-dispatch`;
  const none = await fetch(url, { method: "POST" });
  assert.equal(none.status, 401);
  await none.body?.cancel();
  const user = await fetch(url, { method: "POST", headers: await asUser("admin") });
  assert.equal(user.status, 403);
  await user.body?.cancel();
  const bad = await fetch(url, {
    method: "POST",
    headers: asService,
    body: JSON.stringify({ limit: 0 }),
  });
  assert.equal(bad.status, 422);
  assert.equal((await bad.json()).name, "limit");
});

Deno.test({
  name: "close the database connection (email)",
  fn: async () => {
    await inbox.clear();
    await sql.end();
  },
  sanitizeResources: false,
  sanitizeOps: false,
});
