// Load: 64 concurrent clients for a fixed time, mixed batch sizes, the same candidates again and
// again. Afterwards every "ok" row exists exactly once, the invitation counter equals the new
// enrolments, and every email asked for arrived exactly once.
import assert from "node:assert/strict";
import { deliveries, drainOutbox, inbox } from "../support/inbox.ts";
import { asService, database, postRegister } from "../support/stack.ts";

const sql = database();
const CONCURRENCY = 64;
const DURATION_MS = 5_000;

Deno.test("64 concurrent clients: no 5xx, nothing lost, nothing doubled", async () => {
  await inbox.clear();
  const [merchant] = await sql`insert into public.merchant (name, api_requests_per_minute)
    values ('Load test', 1000000) returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${merchant.id}, 'Load', 'active') returning id`;
  const pool = Array.from(
    { length: 400 },
    (_, i) => `load-${i}-${crypto.randomUUID().slice(0, 6)}@example.com`,
  );
  const pick = () => pool[Math.floor(Math.random() * pool.length)];
  const seen = new Map<string, Set<string>>(); // email -> enrolment ids answered
  const emailed = new Set<string>();
  const statuses = new Map<number, number>();
  let requests = 0;
  let slowest = 0;

  const deadline = Date.now() + DURATION_MS;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < deadline) {
      const size = [1, 1, 1, 5, 20, 100][Math.floor(Math.random() * 6)];
      const sendEmail = Math.random() < 0.05;
      const users = Array.from({ length: size }, () => ({ name: "Load", email: pick() }));
      const started = performance.now();
      const res = await postRegister({
        users,
        interview_id: interview.id,
        merchant_id: merchant.id,
        send_email: sendEmail,
      }, asService);
      requests++;
      slowest = Math.max(slowest, performance.now() - started);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(res.status < 500, `HTTP ${res.status}: ${JSON.stringify(res.body)}`);
      if (res.status !== 200) continue;
      res.body.forEach((row: { result: string; email: string; profile_interview_id: string }) => {
        if (row.result !== "ok") return;
        const ids = seen.get(row.email) ?? new Set();
        ids.add(row.profile_interview_id);
        seen.set(row.email, ids);
        if (sendEmail) emailed.add(row.email);
      });
    }
  }));
  console.log(`${requests} requests, the slowest took ${Math.round(slowest)} ms`);
  assert.ok(requests > 100, `only ${requests} requests`);
  assert.deepEqual([...statuses.keys()], [200], JSON.stringify([...statuses]));

  const rows = await sql`select lower(email) as email, id from public.profile_interview
    where interview_def_set_id = ${interview.id}`;
  const byEmail = new Map(rows.map((row) => [row.email, row.id]));
  assert.equal(byEmail.size, rows.length, "one enrolment per email");
  for (const [email, ids] of seen) {
    assert.equal(ids.size, 1, `${email} got several enrolments`);
    assert.equal(byEmail.get(email), [...ids][0]);
  }
  assert.equal(rows.length, seen.size);
  const [{ invitations_sent }] =
    await sql`select private.invitations_sent(${merchant.id})::int as invitations_sent`;
  assert.equal(invitations_sent, rows.length, "the counter equals the new enrolments");

  await drainOutbox(sql, [...emailed], 60_000);
  const sent = await sql`select lower(e.email) as email, count(*)::int as sent
    from public.email_outbox o join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation'
    where e.interview_def_set_id = ${interview.id} and o.status = 'sent'
    group by 1`;
  const received = deliveries(await inbox.emails());
  for (const email of emailed) {
    const expected = sent.find((row) => row.email === email)?.sent ?? 0;
    assert.ok(expected >= 1, `${email} has no sent invitation`);
    assert.equal(received.get(email), expected, `${email}: ${received.get(email)} of ${expected}`);
  }
  await inbox.clear();
});

Deno.test({
  name: "close the database connection (load)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
