// The local inbox (Resend stand-in) and the outbox behind it, for email tests.
import type postgres from "postgres";
import type { StoredEmail } from "../../stack/mail_inbox.ts";
import { assertMatchesContract } from "./contract.ts";
import { asService, info } from "./stack.ts";

export const inbox = {
  async clear(): Promise<void> {
    await fetch(`${info.MAILPIT_URL}/api/release`, { method: "POST" }).then((r) =>
      r.body?.cancel()
    );
    await fetch(`${info.MAILPIT_URL}/api/faults`, { method: "DELETE" }).then((r) =>
      r.body?.cancel()
    );
    await fetch(`${info.MAILPIT_URL}/api/emails`, { method: "DELETE" }).then((r) =>
      r.body?.cancel()
    );
  },
  async emails(): Promise<StoredEmail[]> {
    return await (await fetch(`${info.MAILPIT_URL}/api/emails`)).json();
  },
  async calls(): Promise<{ path: string; status: number; idempotency_key: string | null }[]> {
    return await (await fetch(`${info.MAILPIT_URL}/api/calls`)).json();
  },
  async fault(
    fault: {
      status?: number;
      times: number;
      delay_ms?: number;
      hold?: "before" | "during" | "after";
    },
  ): Promise<void> {
    const res = await fetch(`${info.MAILPIT_URL}/api/faults`, {
      method: "POST",
      body: JSON.stringify(fault),
    });
    await res.body?.cancel();
  },
};

export async function dispatch(
  options: { limit?: number; max_duration_ms?: number } = {},
): Promise<Record<string, number>> {
  const res = await fetch(`${info.FUNCTIONS_URL}/job-interview-email-dispatch`, {
    method: "POST",
    headers: { ...asService, "content-type": "application/json" },
    body: JSON.stringify(options),
  });
  const body = await res.json();
  assertMatchesContract("/job-interview-email-dispatch", "POST", res.status, body);
  return body;
}

/**
 * Fails at once, saying why, when a dispatch has left rows of these emails in a state no later
 * dispatch will fix: accepted by the provider (it has an id) but not recorded as sent, or handed
 * back to the queue without a reason. Rows still being sent, and retries that carry their reason,
 * are left to the next round.
 */
export async function assertOutboxSettled(
  sql: postgres.Sql,
  emails: string[],
  after: Record<string, number>,
) {
  const lowered = emails.map((email) => email.toLowerCase());
  const stuck = await sql`
    select o.status, o.attempts, o.provider_id is not null as accepted, o.last_error,
      count(*)::int
    from public.email_outbox o join public.profile_interview e on e.id = o.profile_interview_id
    where lower(e.email) = any (${lowered})
      and o.status in ('pending', 'sending')
      and o.attempts > 0
      and (o.provider_id is not null or (o.status = 'pending' and o.last_error is null))
    group by 1, 2, 3, 4`;
  if (stuck.length) {
    throw new Error(
      `after a dispatch (${JSON.stringify(after)}), outbox rows were not recorded as sent: ` +
        JSON.stringify(stuck),
    );
  }
}

/** Runs the dispatch until no outbox row of these emails is waiting, as the schedule would. */
export async function drainOutbox(sql: postgres.Sql, emails: string[], timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  const lowered = emails.map((email) => email.toLowerCase());
  while (Date.now() < deadline) {
    const [{ waiting }] = await sql`
      select count(*)::int as waiting
      from public.email_outbox o join public.profile_interview e on e.id = o.profile_interview_id
      where lower(e.email) = any (${lowered}) and o.status in ('pending', 'sending')
        -- Reminders wait for their own time; only invitations are drained here.
        and o.kind = 'invitation'`;
    if (waiting === 0) return;
    // Short rounds: rows a dispatch cannot settle are due again at once, and would keep one
    // long dispatch busy before the check below could say why.
    await assertOutboxSettled(sql, emails, await dispatch({ max_duration_ms: 5_000 }));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const states = await sql`
    select o.status, o.attempts, o.last_error, o.batch_id is not null as grouped, count(*)::int
    from public.email_outbox o join public.profile_interview e on e.id = o.profile_interview_id
    where lower(e.email) = any (${lowered}) group by 1, 2, 3, 4`;
  throw new Error(`the outbox did not drain in time: ${JSON.stringify(states)}`);
}

/** How many times each address received an email. */
export function deliveries(emails: StoredEmail[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const email of emails) {
    for (const to of email.to) {
      counts.set(to.toLowerCase(), (counts.get(to.toLowerCase()) ?? 0) + 1);
    }
  }
  return counts;
}
