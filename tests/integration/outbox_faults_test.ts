// Exactly-once invitation emails under faults: a `send_email` registration while, at a random
// provider call and a random point of it (before the provider takes it, while it does, after it
// answered and before the outcome is recorded), the functions process, PostgREST or the provider
// stand-in is stopped, or the call times out. After recovery and dispatch every recipient has
// exactly one email and every outbox row is settled. Seeded: a failing trial prints its seed, and
// OUTBOX_FAULT_SEED=<seed> replays the run from it.
import assert from "node:assert/strict";
import { deliveries, inbox } from "../support/inbox.ts";
import { asService, database, info, REGISTER_URL, seed, uniqueEmail } from "../support/stack.ts";

const sql = database();
const TRIALS = 20;

type Target = "functions" | "postgrest" | "mail" | "timeout";
type Point = "before" | "during" | "after";
const TARGETS: Target[] = ["functions", "postgrest", "mail", "timeout"];
const POINTS: Point[] = ["before", "during", "after"];

/** mulberry32: a small seeded generator, so that a trial can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits out the stand-in's rate-limit window (2 calls a second, as Resend's default), so that a
 * trial's calls are not turned away with 429 for calls made before it: a refused call dissolves
 * its group, and the held call the trial waits for would never come.
 */
const freshRateWindow = () => sleep(1100);

async function control(part: "postgrest" | "functions" | "mail", action: "stop" | "start") {
  const res = await fetch(`${info.API_URL}/_stack/${part}/${action}`, { method: "POST" });
  assert.equal(res.status, 200, `${part} ${action}`);
  await res.body?.cancel();
}

async function held(): Promise<number> {
  const res = await fetch(`${info.MAILPIT_URL}/api/held`);
  return (await res.json()).held;
}

async function release(): Promise<void> {
  const res = await fetch(`${info.MAILPIT_URL}/api/release`, { method: "POST" });
  await res.body?.cancel();
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not happen within ${ms} ms`);
}

/** Dispatches, as the schedule would, until none of these rows waits; tolerates a stack coming back. */
async function drain(addresses: string[], limit: number, ms = 90_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const [{ waiting }] = await sql`
      select count(*)::int as waiting
      from public.email_outbox o join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation'
      where lower(e.email) = any (${addresses}) and o.status in ('pending', 'sending')`;
    if (waiting === 0) return;
    const res = await fetch(`${info.FUNCTIONS_URL}/job-interview-email-dispatch`, {
      method: "POST",
      headers: { ...asService, "content-type": "application/json" },
      body: JSON.stringify({ limit }),
    }).catch(() => null);
    await res?.body?.cancel();
    await sleep(250);
  }
  throw new Error("the outbox did not drain");
}

function register(addresses: string[]) {
  return fetch(REGISTER_URL, {
    method: "POST",
    headers: { ...asService, "content-type": "application/json" },
    body: JSON.stringify({
      users: addresses.map((email, i) => ({ name: `Candidate ${i}`, email })),
      interview_id: seed.activeInterview,
      merchant_id: seed.demoMerchant,
      send_email: true,
    }),
  }).then(async (res) => ({ status: res.status, body: await res.text() }))
    .catch((err) => ({ status: 0, body: String(err) }));
}

async function trial(
  trialSeed: number,
  size: number,
  fixed?: { target: Target; point: Point; nth: number; backlog: number; limit: number },
) {
  const rand = random(trialSeed);
  const target = fixed?.target ?? TARGETS[Math.floor(rand() * TARGETS.length)];
  const point = fixed?.point ?? POINTS[Math.floor(rand() * POINTS.length)];
  const calls = Math.ceil(size / 100);
  // Which provider call the fault hits (the others pass untouched).
  const nth = fixed?.nth ?? 1 + Math.floor(rand() * Math.min(calls, 3));
  // Recovering senders claim other numbers of rows than the registration did (the schedule
  // claims 500, an operator may ask for fewer), so rows left over may be grouped differently.
  const limit = fixed?.limit ?? [50, 250, 500][Math.floor(rand() * 3)];
  const describe =
    `seed ${trialSeed}: ${size} candidates, ${target} at call ${nth}, ${point}, then dispatching ${limit} at a time`;

  await inbox.clear();
  // Emails already waiting for a retry are due before this registration's.
  const backlog = Array.from({ length: fixed?.backlog ?? 0 }, () => uniqueEmail("backlog"));
  if (backlog.length) {
    await freshRateWindow();
    await inbox.fault({ status: 503, times: 1 });
    await register(backlog);
    await sleep(300);
  }
  await freshRateWindow();
  if (nth > 1) await inbox.fault({ times: nth - 1 });
  await inbox.fault({ hold: point, times: 1 });
  const fresh = Array.from({ length: size }, () => uniqueEmail(`xo${trialSeed}`));
  const registering = register(fresh);
  const addresses = [...backlog, ...fresh];
  size = addresses.length;

  try {
    await until(`${describe}: the provider call`, async () => (await held()) > 0);
    if (target === "timeout") {
      // Past the senders' EMAIL_SEND_TIMEOUT_MS (1.5 s in tests).
      await sleep(1800);
    } else {
      await control(target, "stop");
    }
    // A stopped inbox released its held calls itself.
    if (target !== "mail") await release();
    // Let the sender meet the fault: record its outcome, or fail to.
    await sleep(300 + Math.floor(rand() * 700));
  } finally {
    await release().catch(() => {});
    if (target !== "timeout") await control(target, "start");
  }
  const registered = await registering;
  // The registration committed before its first email was sent, whatever its caller saw.
  const [{ count }] = await sql`select count(*)::int from public.email_outbox o
    join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation'
    where lower(e.email) = any (${addresses})`;
  assert.equal(count, size, `${describe}: outbox rows (HTTP ${registered.status})`);

  await drain(addresses, limit);
  // A call answered late would show up now as a second email.
  await sleep(200);
  const received = deliveries(await inbox.emails());
  const wrong = addresses.filter((address) => received.get(address) !== 1);
  assert.equal(
    wrong.length,
    0,
    `${describe}: ${wrong.length} recipients did not get exactly one email, e.g. ${wrong[0]} ` +
      `got ${received.get(wrong[0]) ?? 0}; ${
        [...received.entries()].filter(([a]) => addresses.includes(a))
          .reduce((n, [, c]) => n + c, 0)
      } emails to ${size} recipients`,
  );
  const states = await sql`select o.status::text, count(*)::int from public.email_outbox o
    join public.profile_interview e on e.id = o.profile_interview_id
      and o.kind = 'invitation'
    where lower(e.email) = any (${addresses}) group by 1`;
  assert.deepEqual(
    states.map((row) => `${row.count} ${row.status}`),
    [`${size} sent`],
    `${describe}: outbox states`,
  );
}

Deno.test("outbox: PostgREST stopped after a provider call of 1,000 emails (the reported duplicates)", async () => {
  // Issue 12: the outcome of a sent group is lost; its rows were sent again under another key.
  await trial(0, 1000, {
    target: "postgrest",
    point: "after",
    nth: 2,
    backlog: 30,
    limit: 50,
  });
});

Deno.test("outbox: exactly one email per recipient under faults at any point of sending", async () => {
  const base = Number(Deno.env.get("OUTBOX_FAULT_SEED") ?? Math.floor(Math.random() * 1e9));
  console.log(`outbox fault trials: OUTBOX_FAULT_SEED=${base}`);
  for (let i = 0; i < TRIALS; i++) {
    try {
      // One trial of a thousand candidates; smaller ones keep CI short.
      await trial(base + i, i === 0 ? 1000 : 120);
    } catch (err) {
      console.error(`failing trial: seed ${base + i} (OUTBOX_FAULT_SEED=${base + i})`);
      throw err;
    }
  }
  await inbox.clear();
});

Deno.test({
  name: "close the database connection (outbox faults)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
