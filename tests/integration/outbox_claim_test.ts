// The outbox from the SQL side, deterministically. Exclusive claiming: one sender's claim is held
// open in a transaction while a second sender, on another connection, claims again. The second
// must get none of the first's rows (skip locked), must not wait for them, and once the first
// commits, its lease keeps them from every later claim. Then recording outcomes.
//
// Every claim function the dispatch uses is listed in `claims`; a new one (group claiming, say)
// is one more entry: a function that claims at most `limit` of the given outbox rows and returns
// the ids of the rows it took.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { asService, database, postRegister, seed, uniqueEmail } from "../support/stack.ts";

type Claim = (
  tx: postgres.TransactionSql,
  rows: { ids: string[]; limit: number },
) => Promise<string[]>;

const claims: Record<string, Claim> = {
  claim_invitation_emails: async (tx, { ids, limit }) => {
    const [{ claimed }] = await tx`
      select public.claim_invitation_emails(${limit}, ${ids}::uuid[]) as claimed`;
    return (claimed as { id: string }[]).map((row) => row.id);
  },
};

// Two senders: two connections, as two function instances would have.
const first = database();
const second = database();

/** Outbox rows due now, for enrolments of their own, that no other sender is told about. */
async function dueOutboxRows(count: number): Promise<string[]> {
  const res = await postRegister({
    users: Array.from({ length: count }, () => ({ email: uniqueEmail("claim") })),
    interview_id: seed.activeInterview,
    merchant_id: seed.demoMerchant,
  }, asService);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const enrolments = res.body.map((row: { profile_interview_id: string }) =>
    row.profile_interview_id
  );
  const rows = await first`
    insert into public.email_outbox (merchant_id, profile_interview_id, token_jti, link_interview_id)
    select t.merchant_id, t.profile_interview_id, t.jti, t.interview_def_set_id
    from public.interview_token t
    where t.profile_interview_id = any (${enrolments}::uuid[])
    returning id`;
  assert.equal(rows.length, count);
  return rows.map((row) => row.id as string);
}

/** Runs a claim as the dispatcher does (service role), refusing to wait on another's locks. */
function claimAsSender(
  sql: postgres.Sql,
  claim: Claim,
  rows: { ids: string[]; limit: number },
  work: (claimed: string[]) => Promise<void> = async () => {},
): Promise<string[]> {
  return sql.begin(async (tx) => {
    await tx`set local role service_role`;
    // A claim that waits for another sender's rows instead of skipping them fails here.
    await tx`set local lock_timeout = '5s'`;
    const claimed = await claim(tx, rows);
    await work(claimed);
    return claimed;
  }) as Promise<string[]>;
}

for (const [name, claim] of Object.entries(claims)) {
  Deno.test(`${name}: a claim held open is invisible to a second sender`, async () => {
    const ids = await dueOutboxRows(4);
    try {
      let taken: string[] = [];
      const held = await claimAsSender(first, claim, { ids, limit: 2 }, async (held) => {
        assert.ok(held.length > 0, "the first sender claimed nothing");
        assert.ok(held.length < ids.length, "the first sender claimed every row");
        // The first transaction is still open: its rows are locked, not yet committed.
        taken = await claimAsSender(second, claim, { ids, limit: ids.length }).catch((err) => {
          throw new Error(`the second claim waited for the first's rows: ${err.message}`);
        });
      });
      const both = held.filter((id) => taken.includes(id));
      assert.deepEqual(both, [], "the second sender got rows the first one holds");
      assert.deepEqual(
        [...held, ...taken].sort(),
        [...ids].sort(),
        "the second sender took the rows nobody held",
      );

      // Committed claims hold their rows until the lease runs out.
      const later = await claimAsSender(second, claim, { ids, limit: ids.length });
      assert.deepEqual(later, [], "a later claim took rows under another sender's lease");
    } finally {
      await first`delete from public.email_outbox where id = any (${ids}::uuid[])`;
    }
  });
}

Deno.test("record_invitation_outcomes: sent marks the enrolment invited; retries give up at the limit; late outcomes change nothing", async () => {
  const [sent, retried] = await dueOutboxRows(2);
  try {
    const record = (outcomes: Record<string, unknown>[], maxAttempts: number) =>
      first.begin(async (tx) => {
        await tx`set local role service_role`;
        const [{ recorded }] = await tx`select public.record_invitation_outcomes(
          ${tx.json(outcomes as postgres.JSONValue)}, ${maxAttempts}) as recorded`;
        return recorded as { id: string; status: string; error: string | null }[];
      });
    const held = await claimAsSender(first, claims.claim_invitation_emails, {
      ids: [sent, retried],
      limit: 2,
    });
    assert.equal(held.length, 2);
    const recorded = await record([
      { id: sent, outcome: "sent", provider_id: "provider-1" },
      { id: retried, outcome: "retry", error: "provider down" },
    ], 1);
    const byId = new Map(recorded.map((row) => [row.id, row]));
    assert.equal(byId.get(sent)?.status, "sent");
    assert.equal(byId.get(retried)?.status, "failed", "one attempt allowed, one made");
    assert.match(byId.get(retried)?.error ?? "", /gave up after 1 attempts: provider down/);
    const [enrolment] = await first`select e.status from public.profile_interview e
      join public.email_outbox o on o.profile_interview_id = e.id where o.id = ${sent}`;
    assert.equal(enrolment.status, "invited");

    // A sender whose lease ran out reports late: the row is no longer its to change.
    assert.deepEqual(await record([{ id: sent, outcome: "retry", error: "late" }], 8), []);
    const [row] = await first`select status, provider_id, last_error from public.email_outbox
      where id = ${sent}`;
    assert.deepEqual({ ...row }, { status: "sent", provider_id: "provider-1", last_error: null });
  } finally {
    await first`delete from public.email_outbox where id = any (${[sent, retried]}::uuid[])`;
  }
});

Deno.test({
  name: "close the database connections (outbox claim)",
  fn: async () => {
    await first.end();
    await second.end();
  },
  sanitizeResources: false,
  sanitizeOps: false,
});
