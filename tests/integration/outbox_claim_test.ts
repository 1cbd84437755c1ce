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
  // Forms send groups of due rows (or takes formed groups whole): the rows of every group it
  // hands out are this sender's.
  claim_invitation_emails: async (tx, { ids, limit }) => {
    const [{ claimed }] = await tx`
      select public.claim_invitation_emails(${limit}, ${ids}::uuid[]) as claimed`;
    return groupRows(claimed as ClaimedGroups);
  },
};

interface ClaimedGroups {
  batches: {
    id: string;
    attempt: number;
    rows: { id: string }[];
    payload: { outbox_id: string }[] | null;
  }[];
}

/** The outbox rows of claimed groups: listed for a new group, in the payload of a formed one. */
function groupRows(claimed: ClaimedGroups): string[] {
  return claimed.batches.flatMap((batch) =>
    batch.payload ? batch.payload.map((email) => email.outbox_id) : batch.rows.map((r) => r.id)
  );
}

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

/** Thrown to roll a transaction back on purpose. */
class RollBack extends Error {}

// Formed groups are taken whole by a claim without ids: a group whose call's outcome is unknown
// waits for its retry, and only one sender may take it then.
Deno.test("claim_invitation_emails: a formed group held by one sender is invisible to a second", async () => {
  const ids = await dueOutboxRows(2);
  try {
    // One group per row, formed as a sender would, then made due again with a stored payload, as
    // after an unknown outcome. Due before any other group, so the claims below take only these.
    for (const id of ids) {
      await claimAsSender(first, claims.claim_invitation_emails, { ids: [id], limit: 1 });
    }
    await first`update public.email_send_batch b
      set state = 'waiting', maybe_sent = true, locked_until = null, next_attempt_at = '-infinity',
        payload = jsonb_build_array(jsonb_build_object('outbox_id', o.id))
      from public.email_outbox o
      where o.batch_id = b.id and o.id = any (${ids}::uuid[])`;
    // A limit of one: one group, and no new group formed from other due rows.
    const claimDue: Claim = async (tx) => {
      const [{ claimed }] = await tx`select public.claim_invitation_emails(1) as claimed`;
      return groupRows(claimed as ClaimedGroups);
    };
    const noIds = { ids: [], limit: 1 };

    let taken: string[] = [];
    const held = await claimAsSender(first, claimDue, noIds, async (held) => {
      assert.equal(held.length, 1, `the first sender took ${held}`);
      taken = await claimAsSender(second, claimDue, noIds).catch((err) => {
        throw new Error(`the second claim waited for the first's group: ${err.message}`);
      });
    });
    assert.deepEqual(taken.filter((id) => held.includes(id)), [], "both hold one group");
    assert.deepEqual([...held, ...taken].sort(), [...ids].sort(), "a due group was left");

    // Both groups are leased now: a later claim (rolled back) takes neither.
    let later: string[] = [];
    await claimAsSender(second, claimDue, noIds, (claimed) => {
      later = claimed;
      throw new RollBack();
    }).catch((err) => {
      if (!(err instanceof RollBack)) throw err;
    });
    assert.deepEqual(later.filter((id) => ids.includes(id)), [], "a leased group was taken");
  } finally {
    await first`delete from public.email_send_batch b using public.email_outbox o
      where o.batch_id = b.id and o.id = any (${ids}::uuid[])`;
    await first`delete from public.email_outbox where id = any (${ids}::uuid[])`;
  }
});

Deno.test("record_invitation_batch: sent marks the enrolment invited; unknown outcomes give up at the limit; late outcomes change nothing", async () => {
  const [sent, rejected, unknown] = await dueOutboxRows(3);
  const all = [sent, rejected, unknown];
  try {
    const claimGroup = (ids: string[]) =>
      first.begin(async (tx) => {
        await tx`set local role service_role`;
        const [{ claimed }] = await tx`
          select public.claim_invitation_emails(${ids.length}, ${ids}::uuid[]) as claimed`;
        const [batch] = (claimed as ClaimedGroups).batches;
        return batch;
      });
    const record = (batch: { id: string; attempt: number }, result: Record<string, unknown>) =>
      first.begin(async (tx) => {
        await tx`set local role service_role`;
        const [{ recorded }] = await tx`select public.record_invitation_batch(
          ${batch.id}, ${batch.attempt}, ${tx.json(result as postgres.JSONValue)}, 1) as recorded`;
        return recorded as { id: string; status: string; error: string | null }[];
      });

    const accepted = await claimGroup([sent, rejected]);
    assert.deepEqual(groupRows({ batches: [accepted] }).sort(), [sent, rejected].sort());
    const recorded = await record(accepted, {
      kind: "accepted",
      results: [{ id: sent, provider_id: "provider-1" }, { id: rejected, error: "bad address" }],
    });
    const byId = new Map(recorded.map((row) => [row.id, row]));
    assert.equal(byId.get(sent)?.status, "sent");
    assert.equal(byId.get(rejected)?.status, "failed");
    const [enrolment] = await first`select e.status from public.profile_interview e
      join public.email_outbox o on o.profile_interview_id = e.id where o.id = ${sent}`;
    assert.equal(enrolment.status, "invited");

    // A sender reporting for a settled group (its lease ran out, another finished it) changes
    // nothing.
    assert.deepEqual(await record(accepted, { kind: "unknown", error: "late" }), []);
    const [row] = await first`select status, provider_id, last_error from public.email_outbox
      where id = ${sent}`;
    assert.deepEqual({ ...row }, { status: "sent", provider_id: "provider-1", last_error: null });
    const [group] = await first`select state, outcome, last_error from public.email_send_batch
      where id = ${accepted.id}`;
    assert.deepEqual({ ...group }, { state: "done", outcome: "sent", last_error: null });

    // One attempt allowed, one made: an unknown outcome fails the group with the reason.
    const lost = await claimGroup([unknown]);
    const [gaveUp] = await record(lost, { kind: "unknown", error: "provider down" });
    assert.equal(gaveUp.status, "failed");
    assert.match(gaveUp.error ?? "", /gave up after 1 attempts: provider down/);
  } finally {
    await first`delete from public.email_outbox where id = any (${all}::uuid[])`;
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
