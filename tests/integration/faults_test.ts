// Faults in what the endpoint depends on: PostgREST stopped, PostgreSQL dropping connections, a
// statement time-out, a busy merchant, the email service down. Each answers 503 quickly (or
// queues), recovers when the dependency does, and leaves nothing half-written.
import assert from "node:assert/strict";
import { deliveries, drainOutbox, inbox } from "../support/inbox.ts";
import { asService, database, info, postRegister, seed, uniqueEmail } from "../support/stack.ts";
import { TEST_DB_TIMEOUT_MS } from "../support/timeouts.ts";

const sql = database();
// The test stack's functions give up on the database after TEST_DB_TIMEOUT_MS.
const BOUND_MS = TEST_DB_TIMEOUT_MS + 1_500;

async function control(action: "stop" | "start") {
  const res = await fetch(`${info.API_URL}/_stack/postgrest/${action}`, { method: "POST" });
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

function batch(size: number, tag: string) {
  return Array.from({ length: size }, () => ({ name: "Fault", email: uniqueEmail(tag) }));
}

async function register(users: { email: string }[], extra: Record<string, unknown> = {}) {
  const started = performance.now();
  const res = await postRegister({
    users,
    interview_id: seed.activeInterview,
    merchant_id: seed.demoMerchant,
    ...extra,
  }, asService);
  return { ...res, ms: performance.now() - started };
}

/** All of a request's candidates were registered, or none. */
async function allOrNothing(users: { email: string }[]): Promise<number> {
  const emails = users.map((user) => user.email);
  const [{ count }] = await sql`select count(*)::int from public.profile_interview
    where email = any (${emails})`;
  assert.ok(count === 0 || count === emails.length, `${count} of ${emails.length} written`);
  return count;
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await attempt();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} did not happen within ${ms} ms`);
}

Deno.test("PostgREST stopped mid-run: 503 within a bounded time, then recovery", async () => {
  const sent: { users: { email: string }[]; status: number; ms: number }[] = [];
  let running = true;
  const load = (async () => {
    while (running) {
      const users = batch(20, "pgrst");
      const res = await register(users);
      sent.push({ users, status: res.status, ms: res.ms });
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await control("stop");
  try {
    const down = await register(batch(5, "down"));
    assert.equal(down.status, 503);
    assert.equal(typeof down.body.error, "string");
    assert.ok(down.ms < BOUND_MS, `${down.ms} ms`);
  } finally {
    await control("start");
  }
  await until("a registration after restart", async () => {
    const res = await register(batch(3, "back"));
    return res.status === 200 ? res : undefined;
  });
  running = false;
  await load;
  assert.ok(sent.some((r) => r.status === 200));
  for (const request of sent) {
    assert.ok([200, 503].includes(request.status), `HTTP ${request.status}`);
    assert.ok(request.ms < BOUND_MS, `${request.ms} ms`);
    const written = await allOrNothing(request.users);
    if (request.status === 200) assert.equal(written, request.users.length);
  }
});

Deno.test("PostgreSQL drops every connection: requests recover without anything half-written", async () => {
  const before = batch(10, "restart");
  assert.equal((await register(before)).status, 200);
  await sql`select pg_terminate_backend(pid) from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid()`;
  const results = [];
  for (let i = 0; i < 5; i++) {
    const users = batch(10, "after");
    const res = await register(users);
    results.push({ users, res });
    assert.ok([200, 503].includes(res.status), `HTTP ${res.status}`);
  }
  await until("a registration after the restart", async () => {
    const res = await register(batch(2, "later"));
    return res.status === 200 ? res : undefined;
  });
  for (const { users, res } of results) {
    const written = await allOrNothing(users);
    if (res.status === 200) assert.equal(written, users.length);
  }
});

Deno.test("a merchant busy beyond the lock time-out gets a clean 503", async () => {
  // With an invitation limit, the merchant's registrations take turns on its row.
  const [merchant] = await sql`insert into public.merchant (name, invitations_limit)
    values ('Busy', 1000) returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${merchant.id}, 'Busy', 'active') returning id`;
  const ids = { interview_id: interview.id, merchant_id: merchant.id };
  const users = batch(3, "busy");
  let res;
  await sql.begin(async (tx) => {
    await tx`select id from public.merchant where id = ${merchant.id} for no key update`;
    res = await register(users, ids);
  });
  assert.equal(res!.status, 503);
  assert.ok(res!.ms < BOUND_MS, `${res!.ms} ms`);
  assert.equal(await allOrNothing(users), 0);
  assert.equal((await register(users, ids)).status, 200);
});

Deno.test("the email service down for a while: emails queue, then all arrive once", async () => {
  await inbox.clear();
  await inbox.fault({ status: 503, times: 4 });
  const users = batch(30, "maildown");
  const res = await register(users, { send_email: true });
  assert.equal(res.status, 200);
  assert.ok(res.body.every((row: { email_status: string }) => row.email_status === "queued"));
  await drainOutbox(sql, users.map((u) => u.email));
  const received = deliveries(await inbox.emails());
  for (const user of users) assert.equal(received.get(user.email), 1);
  await inbox.clear();
});

Deno.test({
  name: "close the database connection (faults)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
