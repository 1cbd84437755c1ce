// Retention: the purge removes what nothing needs any more, in batches, and keeps what audits and
// replays need (tokens of attempts, tokens an unsent invitation carries, recent rows).
import assert from "node:assert/strict";
import { database, seed } from "../support/stack.ts";

const sql = database();
const day = 24 * 3600 * 1000;
const ago = (days: number) => new Date(Date.now() - days * day);

async function enrolment(): Promise<string> {
  const [row] = await sql`
    insert into public.profile_interview (merchant_id, interview_def_set_id, email)
    values (${seed.demoMerchant}, ${seed.activeInterview},
      ${`retention-${crypto.randomUUID().slice(0, 12)}@example.com`})
    returning id`;
  return row.id;
}

async function token(enrolmentId: string, expiredDaysAgo: number, used = false): Promise<string> {
  const expires = ago(expiredDaysAgo);
  const [row] = await sql`
    insert into public.interview_token (profile_interview_id, merchant_id, interview_def_set_id,
      issued_at, expires_at, used_at)
    values (${enrolmentId}, ${seed.demoMerchant}, ${seed.activeInterview},
      ${new Date(expires.getTime() - day)}, ${expires},
      ${used ? new Date(expires.getTime() - 3600_000) : null})
    returning jti`;
  return row.jti;
}

async function outbox(
  enrolmentId: string,
  tokenJti: string,
  status: string,
  daysAgo: number,
): Promise<string> {
  const [row] = await sql`
    insert into public.email_outbox (merchant_id, profile_interview_id, token_jti,
      link_interview_id, status, created_at, updated_at)
    values (${seed.demoMerchant}, ${enrolmentId}, ${tokenJti}, ${seed.activeInterview},
      ${status}, ${ago(daysAgo)}, ${ago(daysAgo)})
    returning id`;
  return row.id;
}

Deno.test("the purge keeps what audits and replays need and removes the rest", async () => {
  const e = await enrolment();
  const expiredLongAgo = await token(e, 40);
  const expiredRecently = await token(e, 5);
  const live = await token(e, -7);
  const usedLongAgo = await token(e, 40, true);
  await sql`insert into public.interview_result (profile_interview_id, interview_def_set_id,
      merchant_id, token_jti, status)
    values (${e}, ${seed.activeInterview}, ${seed.demoMerchant}, ${usedLongAgo}, 'submitted')`;
  // An invitation still waiting to go out keeps its token, however old.
  const e2 = await enrolment();
  const carried = await token(e2, 40);
  const pending = await outbox(e2, carried, "pending", 40);
  // Sent and failed invitations, old and recent.
  const sentOld = await outbox(e, live, "sent", 40);
  const sentRecent = await outbox(e, live, "sent", 2);
  const failedOld = await outbox(e, live, "failed", 100);
  const failedRecent = await outbox(e, live, "failed", 40);
  // Idempotency keys and rate-limit windows.
  const keyPrefix = `retention-${crypto.randomUUID()}`;
  await sql`insert into public.idempotency_request (merchant_id, key, request_hash, outcome,
      settled, expires_at)
    values (${seed.demoMerchant}, ${`${keyPrefix}-old`}, 'h', '{}', true, ${ago(1)}),
      (${seed.demoMerchant}, ${`${keyPrefix}-live`}, 'h', '{}', true, ${ago(-1)})`;
  const oldWindow = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3 * 3600_000);
  const liveWindow = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 3600_000);
  await sql`insert into public.merchant_request_counter (subject_id, window_start, requests)
    values (${seed.otherMerchant}, ${oldWindow}, 5), (${seed.otherMerchant}, ${liveWindow}, 1)
    on conflict do nothing`;

  // Delivery events: kept 90 days.
  const eventPrefix = `retention-${crypto.randomUUID()}`;
  await sql`insert into public.email_event (id, type, body_hash, received_at)
    values (${`${eventPrefix}-old`}, 'email.delivered', 'h', ${ago(100)}),
      (${`${eventPrefix}-recent`}, 'email.delivered', 'h', ${ago(10)})`;

  // Batches of 2: the procedure must loop, committing between batches.
  const [{ p_removed: removed }] = await sql.unsafe(
    "call private.purge_expired_rows(p_batch => 2)",
  );
  assert.ok(removed.interview_token >= 1, JSON.stringify(removed));
  assert.ok(removed.email_outbox >= 2, JSON.stringify(removed));

  const tokens = (await sql`select jti from public.interview_token
    where profile_interview_id in (${e}, ${e2})`).map((row) => row.jti).sort();
  assert.deepEqual(tokens, [expiredRecently, live, usedLongAgo, carried].sort());
  assert.ok(!tokens.includes(expiredLongAgo));

  const outboxRows = (await sql`select id from public.email_outbox
    where profile_interview_id in (${e}, ${e2})`).map((row) => row.id).sort();
  assert.deepEqual(outboxRows, [pending, sentRecent, failedRecent].sort());
  assert.ok(!outboxRows.includes(sentOld) && !outboxRows.includes(failedOld));

  const keys = (await sql`select key from public.idempotency_request
    where key like ${`${keyPrefix}%`}`).map((row) => row.key);
  assert.deepEqual(keys, [`${keyPrefix}-live`]);
  const events = (await sql`select id from public.email_event
    where id like ${`${eventPrefix}%`}`).map((row) => row.id);
  assert.deepEqual(events, [`${eventPrefix}-recent`]);
  const windows = await sql`select window_start from public.merchant_request_counter
    where subject_id = ${seed.otherMerchant} and window_start in (${oldWindow}, ${liveWindow})`;
  assert.deepEqual(windows.map((row) => row.window_start.getTime()), [liveWindow.getTime()]);

  // The enrolments and the attempt, the business record, are untouched.
  const [{ count }] = await sql`select count(*)::int as count from public.interview_result
    where token_jti = ${usedLongAgo}`;
  assert.equal(count, 1);
  const enrolments = await sql`select id from public.profile_interview where id in (${e}, ${e2})`;
  assert.equal(enrolments.length, 2);
});

Deno.test("the purge is not callable through the data API or by its roles", async () => {
  for (const role of ["anon", "authenticated", "service_role"]) {
    await assert.rejects(
      sql.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        await tx.unsafe(
          "select private.purge_expired_batch('1 day', '1 day', '1 day', " +
            "'1 hour', 1)",
        );
      }),
      /permission denied/,
    );
  }
});

Deno.test({
  name: "close the database connection (retention)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
