// Retries after a 503, with the fault at the worst moments: a database slower than the function
// is willing to wait, and a response lost after the registration committed. Whatever the 503
// says must be true, and the retry the error asks for (same Idempotency-Key) registers, links and
// emails each candidate once, and answers with the result that committed.
import assert from "node:assert/strict";
import { deliveries, drainOutbox, inbox } from "../support/inbox.ts";
import { asService, database, info, postRegister, REGISTER_URL } from "../support/stack.ts";
import { TEST_DB_TIMEOUT_MS } from "../support/timeouts.ts";
import { REGISTRATION_STATEMENT_TIMEOUT_MS } from "../../supabase/functions/_shared/config.ts";

const sql = database();

const [merchant] = await sql`insert into public.merchant (name, api_requests_per_minute)
  values ('Retry after 503', 100000) returning id`;
const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
  values (${merchant.id}, 'Retries', 'active') returning id`;

const candidates = (tag: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    name: `Retry ${i}`,
    email: `${tag}-${i}-${crypto.randomUUID().slice(0, 8)}@example.com`,
  }));

async function send(users: { email: string }[], key: string) {
  const res = await fetch(REGISTER_URL, {
    method: "POST",
    headers: { ...asService, "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({
      users,
      interview_id: interview.id,
      merchant_id: merchant.id,
      send_email: true,
    }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Waits until no registration of this database is still running in PostgreSQL. */
async function registrationsSettled() {
  for (let i = 0; i < 200; i++) {
    const [{ running }] = await sql`select count(*)::int as running from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and state = 'active'
        and query like '%register_interview_users%'`;
    if (running === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("a registration is still running");
}

/** What the database holds for these candidates: enrolments, link tokens, emails queued. */
async function stored(users: { email: string }[]) {
  const emails = users.map((user) => user.email);
  return await sql`
    select e.email, e.id::text as enrolment,
      (select array_agg(t.jti::text order by t.jti) from public.interview_token t
        where t.profile_interview_id = e.id and t.revoked_at is null) as tokens,
      (select count(*)::int from public.email_outbox o
        where o.profile_interview_id = e.id and o.kind = 'invitation')
        as emails
    from public.profile_interview e
    where e.email = any (${emails})
    order by e.email`;
}

/**
 * The invariants of a retried registration: one enrolment, one link and one email token per
 * candidate, the answer's links are the stored ones, and after dispatch one email arrived each.
 */
async function assertRegisteredOnce(users: { email: string }[], answer: string) {
  const rows = JSON.parse(answer) as { email: string; result: string; interview_url: string }[];
  const held = await stored(users);
  assert.equal(held.length, users.length, "one enrolment per candidate");
  for (const row of rows) {
    assert.equal(row.result, "ok");
    const enrolment = held.find((h) => h.email === row.email)!;
    assert.equal(enrolment.tokens.length, 2, `${row.email}: one link and one email token`);
    assert.equal(enrolment.emails, 1, `${row.email}: one invitation queued`);
    const token = new URL(row.interview_url).searchParams.get("interview_token")!;
    const { jti } = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    assert.ok(enrolment.tokens.includes(jti), `${row.email}: the answer's link is the stored one`);
  }
  await drainOutbox(sql, users.map((user) => user.email));
  const received = deliveries(await inbox.emails());
  for (const user of users) assert.equal(received.get(user.email.toLowerCase()), 1, user.email);
}

Deno.test("a database slower than the function waits: the 503 is true, the retry registers once", async () => {
  await inbox.clear();
  const users = candidates("slowdb", 3);
  const key = crypto.randomUUID();
  // Each candidate's insert sleeps: the statement outlasts the function's own time-out.
  const sleepSeconds = TEST_DB_TIMEOUT_MS / 1000 + 1;
  await sql.unsafe(`
    create or replace function public.test_slow_insert() returns trigger
    language plpgsql set search_path = '' as $$
    begin
      perform pg_sleep(${sleepSeconds} / 3.0);
      return new;
    end $$`);
  await sql`create trigger test_slow_insert before insert on public.profile_interview
    for each row when (new.email like 'slowdb-%') execute function public.test_slow_insert()`;
  let first;
  try {
    first = await send(users, key);
    assert.equal(first.status, 503, first.text);
    // The statement's own time-out, shorter than the function's, stopped it: PostgreSQL rolled
    // it back, so the 503 may say that nothing changed, and that holds once it is done.
    const body = JSON.parse(first.text);
    assert.equal(body.code, "database_unavailable", first.text);
    assert.match(body.error, /nothing was changed/);
    await registrationsSettled();
    assert.equal((await stored(users)).length, 0, "a 503 that says nothing changed wrote rows");
  } finally {
    await sql`drop trigger if exists test_slow_insert on public.profile_interview`;
    await sql`drop function if exists public.test_slow_insert()`;
  }
  await registrationsSettled();
  const retry = await send(users, key);
  assert.equal(retry.status, 200, retry.text);
  const again = await send(users, key);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(again.text, retry.text, "the committed answer, byte for byte");
  await assertRegisteredOnce(users, retry.text);
  await inbox.clear();
});

Deno.test("a response lost after the commit: 503 'may have succeeded', the retry replays it", async () => {
  await inbox.clear();
  const users = candidates("lost", 3);
  const key = crypto.randomUUID();
  const arm = await fetch(
    `${info.API_URL}/_stack/rest/lose-response?path=/rpc/register_interview_users`,
    { method: "POST" },
  );
  assert.equal(arm.status, 200);
  await arm.body?.cancel();
  const first = await send(users, key);
  assert.equal(first.status, 503, first.text);
  const body = JSON.parse(first.text);
  assert.equal(body.code, "outcome_unknown");
  assert.match(body.error, /may have succeeded/);
  assert.match(body.error, /same Idempotency-Key/);
  assert.equal((await stored(users)).length, users.length, "the registration did commit");

  const retry = await send(users, key);
  assert.equal(retry.status, 200, retry.text);
  assert.equal(retry.headers.get("idempotent-replayed"), "true");
  const again = await send(users, key);
  assert.equal(again.text, retry.text, "byte for byte");
  await assertRegisteredOnce(users, retry.text);
  await inbox.clear();
});

Deno.test("without a key, a lost response still says it may have succeeded", async () => {
  const arm = await fetch(
    `${info.API_URL}/_stack/rest/lose-response?path=/rpc/register_interview_users`,
    { method: "POST" },
  );
  await arm.body?.cancel();
  const users = candidates("lostnokey", 1);
  const res = await postRegister(
    { users, interview_id: interview.id, merchant_id: merchant.id },
    asService,
  );
  assert.equal(res.status, 503);
  assert.equal(res.body.code, "outcome_unknown");
});

Deno.test("the registration's statement time-out is below the function's, and inside 8 s", async () => {
  const [{ config }] = await sql`select proconfig as config from pg_proc
    where proname = 'register_interview_users'`;
  const setting = config.find((entry: string) => entry.startsWith("statement_timeout="));
  assert.equal(setting, `statement_timeout=${REGISTRATION_STATEMENT_TIMEOUT_MS / 1000}s`);
  assert.ok(REGISTRATION_STATEMENT_TIMEOUT_MS < TEST_DB_TIMEOUT_MS);
  assert.ok(TEST_DB_TIMEOUT_MS < 8_000);
});

Deno.test({
  name: "close the database connection (retry)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
