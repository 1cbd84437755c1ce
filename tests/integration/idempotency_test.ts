// Idempotency keys (Stripe's semantics) and per-merchant rate limits.
import assert from "node:assert/strict";
import { assertMatchesContract } from "../support/contract.ts";
import { deliveries, drainOutbox, inbox } from "../support/inbox.ts";
import {
  asService,
  asUser,
  database,
  postRegister,
  REGISTER_URL,
  seed,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();

const withKey = (key: string) => ({ ...asService, "idempotency-key": key });
const request = (emails: string[], extra: Record<string, unknown> = {}) => ({
  users: emails.map((email) => ({ name: "Idem", email })),
  interview_id: seed.activeInterview,
  merchant_id: seed.demoMerchant,
  ...extra,
});

async function raw(body: unknown, headers: Record<string, string>) {
  const res = await fetch(REGISTER_URL, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assertMatchesContract("/job-interview-register-users", "POST", res.status, JSON.parse(text));
  return { status: res.status, headers: res.headers, text };
}

const invitationsSent = async (merchant: string) =>
  (await sql`select private.invitations_sent(${merchant})::int as invitations_sent`)[0]
    .invitations_sent as number;

Deno.test("the same key and body replay the first response and change nothing", async () => {
  await inbox.clear();
  const key = crypto.randomUUID();
  const email = uniqueEmail("idem");
  const before = await invitationsSent(seed.demoMerchant);
  const first = await raw(request([email], { send_email: true }), withKey(key));
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("idempotent-replayed"), null);
  const again = await raw(request([email], { send_email: true }), withKey(key));
  assert.equal(again.status, 200);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(again.text, first.text, "byte for byte");
  const [{ tokens }] = await sql`select count(*)::int as tokens from public.interview_token t
    join public.profile_interview e on e.id = t.profile_interview_id where e.email = ${email}`;
  assert.equal(tokens, 2, "one link token and one email token, not four");
  assert.equal(await invitationsSent(seed.demoMerchant), before + 1);
  // The first send may have been queued (the provider's rate limit, others' mail): once sent,
  // it went once.
  await drainOutbox(sql, [email]);
  assert.equal(deliveries(await inbox.emails()).get(email), 1);
});

Deno.test("the same key with another body is a 409", async () => {
  const key = crypto.randomUUID();
  assert.equal((await raw(request([uniqueEmail()]), withKey(key))).status, 200);
  const other = await raw(request([uniqueEmail()]), withKey(key));
  assert.equal(other.status, 409);
  assert.equal(JSON.parse(other.text).code, "idempotency_key_reused");
});

Deno.test("the same key while the first request still sends its emails gets the same answer", async () => {
  await inbox.clear();
  // The first request waits on a slow email provider after its registration committed (less than
  // its send budget, so it has the emails' outcomes to report when the replay has come first).
  await inbox.fault({ delay_ms: 1000, times: 1 });
  const key = crypto.randomUUID();
  const body = request([uniqueEmail("slow")], { send_email: true });
  const first = raw(body, withKey(key));
  await new Promise((resolve) => setTimeout(resolve, 400));
  const second = await raw(body, withKey(key));
  assert.equal(second.status, 200);
  assert.equal(second.headers.get("idempotent-replayed"), "true");
  // The replay fixed the answer: the first reports its email as the record holds it.
  const answered = await first;
  assert.equal(answered.status, 200);
  assert.equal(answered.text, second.text, "byte for byte");
  assert.equal(JSON.parse(answered.text)[0].email_status, "queued");
  assert.equal((await raw(body, withKey(key))).text, answered.text);
  await inbox.clear();
});

Deno.test("keys belong to a merchant: another merchant's key never replays", async () => {
  const key = crypto.randomUUID();
  const mine = await raw(request([uniqueEmail()]), withKey(key));
  const theirs = await raw({
    users: [{ email: uniqueEmail() }],
    interview_id: seed.otherInterview,
    merchant_id: seed.otherMerchant,
  }, withKey(key));
  assert.equal(mine.status, 200);
  assert.equal(theirs.status, 200);
  assert.equal(theirs.headers.get("idempotent-replayed"), null);
  assert.notEqual(theirs.text, mine.text);
});

Deno.test("20 concurrent retries with one key register and email once", async () => {
  await inbox.clear();
  const key = crypto.randomUUID();
  const email = uniqueEmail("retry");
  const body = request([email], { send_email: true });
  const answers = await Promise.all(Array.from({ length: 20 }, () => raw(body, withKey(key))));
  const ok = answers.filter((a) => a.status === 200);
  assert.ok(answers.every((a) => a.status === 200), answers.map((a) => a.status).join());
  assert.equal(ok.filter((a) => a.headers.get("idempotent-replayed") !== "true").length, 1);
  assert.ok(ok.every((a) => a.text === ok[0].text));
  const [{ enrolments }] =
    await sql`select count(*)::int as enrolments from public.profile_interview
    where email = ${email}`;
  assert.equal(enrolments, 1);
  const [{ tokens }] = await sql`select count(*)::int as tokens from public.interview_token t
    join public.profile_interview e on e.id = t.profile_interview_id where e.email = ${email}`;
  assert.equal(tokens, 2);
  assert.equal(deliveries(await inbox.emails()).get(email), 1);
  const late = await raw(body, withKey(key));
  assert.equal(late.headers.get("idempotent-replayed"), "true");
});

Deno.test("a request that waited for its key answers from the record the key got meanwhile", async () => {
  const email = uniqueEmail("waited");
  const body = request([email]);
  // The record a first request of the key commits: that of a request with the same body.
  const earlier = crypto.randomUUID();
  assert.equal((await raw(body, withKey(earlier))).status, 200);
  const key = crypto.randomUUID();
  let second;
  await sql.begin(async (tx) => {
    // The first request of `key` holds the key, as a registration does, and commits its record;
    // the second passed the admission before that and waits for the key.
    await tx`select pg_advisory_xact_lock(
      hashtextextended(${seed.demoMerchant}::text || '/' || ${key}, 0))`;
    second = raw(body, withKey(key));
    for (let i = 0; i < 100; i++) {
      const [{ waiting }] = await sql`select count(*)::int as waiting from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`;
      if (waiting > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await tx`insert into public.idempotency_request
        (merchant_id, key, request_hash, outcome, emails, settled, expires_at)
      select merchant_id, ${key}, request_hash, outcome, emails, settled, expires_at
      from public.idempotency_request where merchant_id = ${seed.demoMerchant} and key = ${earlier}`;
  });
  const res = await second!;
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get("idempotent-replayed"), "true", "registered again");
  const [{ tokens }] = await sql`select count(*)::int as tokens from public.interview_token t
    join public.profile_interview e on e.id = t.profile_interview_id where e.email = ${email}`;
  assert.equal(tokens, 1);
});

Deno.test("a malformed key is a 400 naming the header", async () => {
  const res = await postRegister(request([uniqueEmail()]), withKey("k".repeat(256)));
  assert.equal(res.status, 400);
  assert.equal(res.body.name, "Idempotency-Key");
  const empty = await postRegister(request([uniqueEmail()]), withKey(""));
  assert.equal(empty.status, 400);
});

Deno.test("expired keys are purged and free again", async () => {
  const key = crypto.randomUUID();
  assert.equal((await raw(request([uniqueEmail()]), withKey(key))).status, 200);
  await sql`update public.idempotency_request set expires_at = now() - interval '1 second'
    where key = ${key}`;
  const [{ purged }] = await sql`select public.purge_request_admission() as purged`;
  assert.ok(purged >= 1);
  const [{ count }] = await sql`select count(*)::int from public.idempotency_request
    where key = ${key}`;
  assert.equal(count, 0);
  const reused = await raw(request([uniqueEmail()]), withKey(key));
  assert.equal(reused.status, 200);
  assert.equal(reused.headers.get("idempotent-replayed"), null);
});

Deno.test("rate limits: per merchant, counted in the database, with the standard headers", async () => {
  const [merchant] = await sql`insert into public.merchant (name, api_requests_per_minute)
    values ('Rate limited', 3) returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${merchant.id}, 'Limited', 'active') returning id`;
  // Start at the beginning of a minute, so the window cannot roll over mid-test.
  const [{ seconds }] = await sql`select extract(second from now())::float as seconds`;
  if (seconds > 50) await new Promise((resolve) => setTimeout(resolve, (61 - seconds) * 1000));
  const send = () =>
    raw(
      { users: [{ email: uniqueEmail() }], interview_id: interview.id, merchant_id: merchant.id },
      asService,
    );
  const remaining: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await send();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("ratelimit-limit"), "3");
    remaining.push(res.headers.get("ratelimit-remaining")!);
  }
  assert.deepEqual(remaining, ["2", "1", "0"]);
  const limited = await send();
  assert.equal(limited.status, 429);
  assert.equal(JSON.parse(limited.text).code, "rate_limited");
  const retryAfter = Number(limited.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60);
  assert.equal(limited.headers.get("ratelimit-remaining"), "0");
  assert.ok(Number(limited.headers.get("ratelimit-reset")) >= 1);
  // Another merchant is not affected.
  assert.equal((await raw(request([uniqueEmail()]), asService)).status, 200);
});

Deno.test("the same key and body after the interview was archived answer the stored 200", async () => {
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${seed.demoMerchant}, 'Archived later', 'active') returning id`;
  const key = crypto.randomUUID();
  const body = { ...request([uniqueEmail("arch")]), interview_id: interview.id };
  const first = await raw(body, withKey(key));
  assert.equal(first.status, 200);
  await sql`update public.interview_def_set set status = 'archived' where id = ${interview.id}`;
  const again = await raw(body, withKey(key));
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(again.text, first.text);
  // Without the key, the archived interview is refused as before.
  assert.equal((await raw(body, asService)).status, 422);
});

/** Waits for the start of a minute when less than `seconds` of the current one are left. */
async function freshMinute(seconds = 20) {
  const [{ second }] = await sql`select extract(second from now())::float as second`;
  if (second > 60 - seconds) {
    await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
  }
}

Deno.test("a flood is shed with 429 while the merchant is busy, not queued behind it", async () => {
  // With an invitation limit, the merchant's registrations take turns on its row.
  const [merchant] = await sql`insert into public.merchant (name, api_requests_per_minute,
    invitations_limit) values ('Flooded', 1, 1000) returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${merchant.id}, 'Flooded', 'active') returning id`;
  const body = () => ({
    users: [{ email: uniqueEmail() }],
    interview_id: interview.id,
    merchant_id: merchant.id,
  });
  await freshMinute();
  let admitted;
  let shed;
  await sql.begin(async (tx) => {
    // Another registration of this merchant holds its row, as a registration does.
    await tx`select id from public.merchant where id = ${merchant.id} for no key update`;
    admitted = raw(body(), asService);
    // The admitted request waits on the row; the next one is over the limit.
    for (let i = 0; i < 100; i++) {
      const [{ waiting }] = await sql`select count(*)::int as waiting from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`;
      if (waiting > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    shed = await raw(body(), asService);
  });
  assert.equal(shed!.status, 429, shed!.text);
  assert.equal((await admitted!).status, 200);
});

Deno.test("a count not yet committed holds up no other request of its merchant", async () => {
  const [merchant] = await sql`insert into public.merchant (name, api_requests_per_minute)
    values ('Counted', 10) returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${merchant.id}, 'Counted', 'active') returning id`;
  const counted = async () =>
    (await sql`select coalesce(sum(requests), 0)::int as n from public.merchant_request_counter
      where subject_id = ${merchant.id} and window_start = date_trunc('minute', now())`)[0]
      .n as number;
  await freshMinute();
  await sql.begin(async (tx) => {
    // A request of the merchant has counted and is still running, as a registration does.
    await tx`select public.count_request(${merchant.id}, 10)`;
    // The next request counts in a row of its own: it answers without waiting for that one.
    const res = await raw({
      users: [{ email: uniqueEmail("counted") }],
      interview_id: interview.id,
      merchant_id: merchant.id,
    }, asService);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get("ratelimit-remaining"), "9", "the running count is not seen");
  });
  assert.equal(await counted(), 2, "both counted");
});

Deno.test("a flood is shed with 429 while a registration waits for a candidate's row", async () => {
  // Without an invitation limit nobody takes the merchant's row; a registration can still wait,
  // for the row of a candidate that another registration (a large batch, say) holds.
  const [merchant] = await sql`insert into public.merchant (name, api_requests_per_minute)
    values ('Flooded, no limit', 1) returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${merchant.id}, 'Flooded, no limit', 'active') returning id`;
  const body = (email: string) => ({
    users: [{ email }],
    interview_id: interview.id,
    merchant_id: merchant.id,
  });
  const email = uniqueEmail("held");
  await sql`insert into public.profile_interview (merchant_id, interview_def_set_id, email)
    values (${merchant.id}, ${interview.id}, ${email})`;
  await freshMinute();
  let admitted;
  let shed;
  await sql.begin(async (tx) => {
    await tx`select id from public.profile_interview
      where interview_def_set_id = ${interview.id} for update`;
    const [{ pid }] = await tx`select pg_backend_pid() as pid`;
    // The first request of the minute is admitted, and waits for the candidate's row.
    admitted = raw(body(email), asService);
    for (let i = 0; i < 100; i++) {
      const [{ waiting }] = await sql`select count(*)::int as waiting from pg_stat_activity
        where ${pid}::int = any (pg_blocking_pids(pid))`;
      if (waiting > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The next one is over the limit of one a minute.
    shed = await raw(body(uniqueEmail("flood")), asService);
  });
  assert.equal((await admitted!).status, 200);
  assert.equal(shed!.status, 429, shed!.text);
});

Deno.test("requests refused with 403 count against the caller, not the merchant they target", async () => {
  const [victim] = await sql`insert into public.merchant (name, api_requests_per_minute)
    values ('Victim', 3) returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${victim.id}, 'Victim', 'active') returning id`;
  const body = () => ({
    users: [{ email: uniqueEmail() }],
    interview_id: interview.id,
    merchant_id: victim.id,
  });
  const counted = async (subject: string) =>
    (await sql`select coalesce(sum(requests), 0)::int as n from public.merchant_request_counter
      where subject_id = ${subject} and window_start = date_trunc('minute', now())`)[0].n as number;
  await freshMinute();
  const attacker = await asUser("otherOwner");
  const before = await counted(seed.otherMerchant);
  for (let i = 0; i < 3; i++) assert.equal((await postRegister(body(), attacker)).status, 403);
  assert.equal(await counted(seed.otherMerchant), before + 3, "charged to the caller's merchant");
  assert.equal(await counted(victim.id), 0, "not to the merchant it named");
  try {
    // Once the caller's own budget is spent, its refusals are shed with 429 too.
    await sql`update public.merchant set api_requests_per_minute = ${before + 3}
      where id = ${seed.otherMerchant}`;
    const shed = await postRegister(body(), attacker);
    assert.equal(shed.status, 429);
    const own = await postRegister({
      users: [{ email: uniqueEmail() }],
      interview_id: seed.otherInterview,
    }, attacker);
    assert.equal(own.status, 429, "the caller's own budget is spent");
  } finally {
    await sql`update public.merchant set api_requests_per_minute = 100000
      where id = ${seed.otherMerchant}`;
  }
  const victimOwn = await postRegister(body(), asService);
  assert.equal(victimOwn.status, 200);
  assert.equal(victimOwn.headers.get("ratelimit-remaining"), "2", "the victim's budget is whole");
});

Deno.test({
  name: "close the database connection (idempotency)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
