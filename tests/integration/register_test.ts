// What a registration does, over HTTP against the real stack.
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { importJWK, jwtVerify } from "jose";
import { publicJwk } from "../../stack/keys.ts";
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

const register = (extra: Record<string, unknown>, headers = asService) =>
  postRegister(
    { merchant_id: seed.demoMerchant, interview_id: seed.activeInterview, ...extra },
    headers,
  );

Deno.test("the reference page's example answers as published", async () => {
  const a = uniqueEmail("peter");
  const b = uniqueEmail("beast");
  const res = await postRegister({
    users: [{ name: "Peter Parker", email: a, external_id: "abcd" }, {
      name: "mr beast",
      email: b,
    }],
    interview_id: seed.activeInterview,
    merchant_id: seed.demoMerchant,
    send_email: true,
    hide_menu: true,
    hide_iframe: true,
    is_test: true,
  }, asService);
  assert.equal(res.status, 200);
  assert.ok(res.headers.get("content-type")?.startsWith("application/json"));
  assert.deepEqual(Object.keys(res.body[0]).slice(0, 5), [
    "name",
    "email",
    "external_id",
    "result",
    "interview_url",
  ]);
  assert.equal(res.body[0].name, "Peter Parker");
  assert.equal(res.body[0].external_id, "abcd");
  assert.equal(res.body[1].external_id, null);
  for (const row of res.body) {
    assert.equal(row.result, "ok");
    const url = new URL(row.interview_url);
    assert.equal(url.origin, "https://interview.demo-merchant.test");
    assert.equal(url.pathname, `/interview/take/${seed.activeInterview}/`);
    assert.equal(url.searchParams.get("view_hm"), "true");
    assert.equal(url.searchParams.get("view_hi"), "true");
    assert.ok(url.searchParams.get("interview_token"));
    assert.match(row.profile_interview_id, /^[0-9a-f-]{36}$/);
    assert.ok(Date.parse(row.expires_at) > Date.now());
  }
});

Deno.test("tokens verify with the signing key's public key and carry the right claims", async () => {
  const email = uniqueEmail("claims");
  const res = await register({ users: [{ email }], is_test: "true" });
  const row = res.body[0];
  const token = new URL(row.interview_url).searchParams.get("interview_token")!;
  const key = await importJWK(publicJwk(keys.interviewSigningKey), "EdDSA");
  const { payload, protectedHeader } = await jwtVerify(token, key, {
    algorithms: ["EdDSA"],
    issuer: `${info.API_URL}/functions/v1`,
    audience: "job-interview",
  });
  assert.equal(protectedHeader.kid, keys.interviewSigningKey.kid);
  assert.equal(payload.sub, row.profile_interview_id);
  assert.equal(payload.merchant_id, seed.demoMerchant);
  assert.equal(payload.interview_id, seed.activeInterview);
  assert.equal(payload.is_test, true);
  assert.equal(payload.exp, Math.floor(Date.parse(row.expires_at) / 1000));
  const days = (payload.exp! - payload.iat!) / 86400;
  assert.ok(days > 29.9 && days <= 30, `lifetime ${days} days`);
  const [record] = await sql`select * from public.interview_token where jti = ${payload.jti!}`;
  assert.equal(record.profile_interview_id, row.profile_interview_id);
  assert.equal(record.is_test, true);
  assert.equal(record.used_at, null);
  assert.equal(Math.floor(record.expires_at.getTime() / 1000), payload.exp);
});

Deno.test("token expiry never passes the interview's availability", async () => {
  const till = new Date(Date.now() + 3 * 86400_000);
  await sql`update public.interview_def_set set interview_available_till = ${till}
    where id = ${seed.subInterview}`;
  try {
    const res = await postRegister({
      users: [{ email: uniqueEmail("till") }],
      interview_id: seed.subInterview,
      merchant_id: seed.subMerchant,
    }, asService);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(Date.parse(res.body[0].expires_at), till.getTime());
    await sql`update public.interview_def_set set interview_available_till = now() - interval '1 day'
      where id = ${seed.subInterview}`;
    const late = await postRegister({
      users: [{ email: uniqueEmail("late") }],
      interview_id: seed.subInterview,
      merchant_id: seed.subMerchant,
    }, asService);
    assert.equal(late.status, 422);
    assert.equal(late.body.name, "interview_id");
  } finally {
    await sql`update public.interview_def_set set interview_available_till = null
      where id = ${seed.subInterview}`;
  }
});

Deno.test("interview ids: definition, position, another merchant's, unknown", async (t) => {
  await t.step("position registers into its first stage", async () => {
    const res = await register({
      interview_id: seed.position,
      users: [{ email: uniqueEmail("pos") }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const url = new URL(res.body[0].interview_url);
    assert.equal(url.pathname, `/interview/take/${seed.position}/`);
    const [row] = await sql`select interview_def_set_id, position_def_set_id
      from public.profile_interview where id = ${res.body[0].profile_interview_id}`;
    assert.equal(row.interview_def_set_id, seed.activeInterview);
    assert.equal(row.position_def_set_id, seed.position);
  });
  await t.step("another merchant's interview and an unknown id answer the same", async () => {
    const other = await register({
      interview_id: seed.otherInterview,
      users: [{ email: uniqueEmail() }],
    });
    const unknown = await register({
      interview_id: crypto.randomUUID(),
      users: [{ email: uniqueEmail() }],
    });
    assert.equal(other.status, 422);
    assert.deepEqual(other.body, unknown.body);
    assert.deepEqual(other.body, { error: "interview not found", name: "interview_id" });
  });
});

Deno.test("drafts take only test registrations, which are flagged", async () => {
  const email = uniqueEmail("draft");
  const refused = await register({ interview_id: seed.draftInterview, users: [{ email }] });
  assert.equal(refused.status, 422);
  assert.equal(refused.body.name, "interview_id");
  assert.match(refused.body.error, /is_test/);
  const accepted = await register({
    interview_id: seed.draftInterview,
    users: [{ email }],
    is_test: true,
  });
  assert.equal(accepted.status, 200);
  const [row] = await sql`select is_test from public.profile_interview
    where id = ${accepted.body[0].profile_interview_id}`;
  assert.equal(row.is_test, true);
});

Deno.test("closed interviews take nobody", async () => {
  for (const status of ["archived", "deleted", "completed"]) {
    await sql`update public.interview_def_set set status = ${status}::public.interview_status
      where id = ${seed.otherInterview}`;
    const res = await postRegister({
      users: [{ email: uniqueEmail() }],
      interview_id: seed.otherInterview,
      merchant_id: seed.otherMerchant,
      is_test: true,
    }, asService);
    assert.equal(res.status, 422, status);
    assert.equal(res.body.name, "interview_id");
  }
  await sql`update public.interview_def_set set status = 'active' where id = ${seed.otherInterview}`;
});

Deno.test('flag forms: true and "true" switch on, others off, anything else is a 422', async () => {
  const on = await register({
    users: [{ email: uniqueEmail() }],
    hide_menu: "true",
    hide_iframe: true,
  });
  const url = new URL(on.body[0].interview_url);
  assert.equal(url.searchParams.get("view_hm"), "true");
  assert.equal(url.searchParams.get("view_hi"), "true");
  const off = await register({
    users: [{ email: uniqueEmail() }],
    hide_menu: "false",
    hide_iframe: null,
  });
  const offUrl = new URL(off.body[0].interview_url);
  assert.equal(offUrl.searchParams.has("view_hm"), false);
  assert.equal(offUrl.searchParams.has("view_hi"), false);
  for (const [field, value] of [["hide_menu", 1], ["hide_iframe", "yes"], ["is_test", "TRUE"]]) {
    const res = await register({ users: [{ email: uniqueEmail() }], [field as string]: value });
    assert.equal(res.status, 422);
    assert.equal(res.body.name, field);
  }
});

Deno.test("per-row errors stand next to successes, in input order", async () => {
  const good = uniqueEmail("good");
  const res = await register({
    users: [
      { name: "Good", email: good },
      { name: "No email" },
      { name: "Bad email", email: "not-an-email" },
      { name: "Dup", email: good.toUpperCase() },
      { name: "Number", email: 42 },
      { name: "Also good", email: ` ${uniqueEmail("pad")} ` },
    ],
  });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.map((row: { result: string }) => row.result), [
    "ok",
    "Error: email is required",
    "Error: invalid email address",
    "Error: duplicate email in this request",
    "Error: email must be a string",
    "ok",
  ]);
  assert.equal(res.body[1].email, null);
  assert.equal(res.body[2].interview_url, undefined);
  assert.equal(res.body[3].email, good.toUpperCase());
});

Deno.test("registering again is an upsert: same enrolment, fresh link, updated details", async () => {
  const email = uniqueEmail("again");
  const first = await register({ users: [{ name: "First", email, external_id: "x1" }] });
  const second = await register({ users: [{ name: "Second", email: email.toUpperCase() }] });
  assert.equal(second.body[0].profile_interview_id, first.body[0].profile_interview_id);
  assert.notEqual(second.body[0].interview_url, first.body[0].interview_url);
  const rows = await sql`select name, external_id from public.profile_interview
    where interview_def_set_id = ${seed.activeInterview} and lower(email) = ${email}`;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].name, "Second");
  assert.equal(rows[0].external_id, "x1");
});

Deno.test("concurrent registrations of one email make one enrolment", async () => {
  const email = uniqueEmail("race");
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) => register({ users: [{ name: `Racer ${i}`, email }] })),
  );
  const ids = new Set(answers.map((res) => res.body[0].profile_interview_id));
  assert.equal(ids.size, 1);
  const [{ count }] = await sql`select count(*)::int from public.profile_interview
    where lower(email) = ${email}`;
  assert.equal(count, 1);
});

Deno.test("the invitation limit holds under concurrency; re-registrations and tests use none", async () => {
  const { send, sent } = await merchantWithInterview("Limited", 5);
  const answers = await Promise.all(
    Array.from({ length: 8 }, () => send([uniqueEmail("lim"), uniqueEmail("lim")])),
  );
  const results = answers.flatMap((res) => res.body.map((row: { result: string }) => row.result));
  assert.equal(results.filter((r) => r === "ok").length, 5);
  assert.equal(results.filter((r) => r === "Error: invitation limit reached").length, 11);
  assert.equal(await sent(), 5);

  const registered = answers.flatMap((res) => res.body).find((row) => row.result === "ok");
  const again = await send([registered.email]);
  assert.equal(again.body[0].result, "ok");
  const test = await send([uniqueEmail("lim-test")], true);
  assert.equal(test.body[0].result, "ok");
  assert.equal(await sent(), 5);
});

Deno.test("without an invitation limit, registrations of a merchant do not wait for its row", async () => {
  const { merchantId, send, sent: total } = await merchantWithInterview("Unlimited");
  const holder = database();
  try {
    await holder.begin(async (tx) => {
      // Somebody holds the merchant's row as a registration of a limited merchant would.
      await tx`select id from public.merchant where id = ${merchantId} for no key update`;
      const results = await Promise.all([1, 2, 3].map(() => send([uniqueEmail("free")])));
      for (const res of results) assert.equal(res.status, 200, JSON.stringify(res.body));
    });
  } finally {
    await holder.end();
  }
  assert.equal(await total(), 3, "each draw counted");
  // The per-session counts folded into the merchant's row keep the total.
  await sql`select private.fold_invitation_draws()`;
  const folded = async () =>
    (await sql`select invitations_sent from public.merchant where id = ${merchantId}`)[0]
      .invitations_sent as number;
  assert.equal(await folded(), 3);
  assert.equal(await total(), 3);
  // A second fold adds to what the first one folded: two more draws, in one session's row.
  const more = await send([uniqueEmail("free"), uniqueEmail("free")]);
  assert.equal(more.status, 200, JSON.stringify(more.body));
  assert.equal(await total(), 5, "the new draws counted");
  await sql`select private.fold_invitation_draws()`;
  assert.equal(await folded(), 5);
  assert.equal(await total(), 5);
});

Deno.test("a registration waits for one of the same merchant, then sees its draw on the limit", async () => {
  const [merchant] = await sql`insert into public.merchant (name, invitations_limit)
    values ('One left', 1) returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${merchant.id}, 'One left', 'active') returning id`;
  const holder = database();
  try {
    let waiting: ReturnType<typeof postRegister> | undefined;
    await holder.begin(async (tx) => {
      // The first registration draws the last invitation and is not committed yet.
      await tx`set local role service_role`;
      const [{ outcome }] = await tx`select public.register_interview_users(null,
        ${merchant.id}::uuid, ${interview.id}::uuid, false,
        ${tx.json([{ i: 0, email: uniqueEmail("first") }])}, 3600) as outcome`;
      assert.equal(outcome.rows[0].error, undefined, JSON.stringify(outcome));
      const [{ pid }] = await tx`select pg_backend_pid() as pid`;
      waiting = postRegister({
        users: [{ email: uniqueEmail("second") }],
        interview_id: interview.id,
        merchant_id: merchant.id,
      }, asService);
      let settled = false;
      waiting.catch(() => {}).finally(() => settled = true);
      // Commit only once the second registration waits on this one's locks (or has finished
      // without waiting, which the assertions below then judge).
      while (!settled) {
        const [{ blocked }] = await sql`select count(*)::int as blocked from pg_stat_activity
          where ${pid}::int = any (pg_blocking_pids(pid))`;
        if (blocked > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    const second = await waiting!;
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body[0].result, "Error: invitation limit reached");
    const [after] =
      await sql`select private.invitations_sent(${merchant.id})::int as invitations_sent`;
    assert.equal(after.invitations_sent, 1);
  } finally {
    await holder.end();
  }
});

/** Waits until `count` sessions wait on session `pid`, or on a session that waits on it. */
async function untilBlockedBy(pid: number, count: number) {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const [{ blocked }] = await sql`select count(*)::int as blocked from pg_stat_activity a
      where pg_blocking_pids(a.pid) && (array[${pid}::int] || array(
        select b.pid from pg_stat_activity b where ${pid}::int = any (pg_blocking_pids(b.pid))))`;
    if (blocked >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${count} sessions did not come to wait on session ${pid}`);
}

/**
 * Runs `during` while a transaction of its own holds every enrolment of the interview, as a
 * registration writing them does; `during` gets that transaction's backend pid.
 */
async function whileEnrolmentsHeld(interviewId: string, during: (pid: number) => Promise<void>) {
  const holder = database();
  try {
    await holder.begin(async (tx) => {
      await tx`select id from public.profile_interview
        where interview_def_set_id = ${interviewId} for update`;
      const [{ pid }] = await tx`select pg_backend_pid() as pid`;
      await during(pid);
    });
  } finally {
    await holder.end();
  }
}

/** A merchant (with an invitation limit, or none) and an active interview of its own. */
async function merchantWithInterview(name: string, limit: number | null = null) {
  const [merchant] = await sql`insert into public.merchant (name, invitations_limit)
    values (${name}, ${limit}) returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${merchant.id}, ${name}, 'active') returning id`;
  const send = (emails: string[], isTest = false) =>
    postRegister({
      users: emails.map((email) => ({ email })),
      interview_id: interview.id,
      merchant_id: merchant.id,
      is_test: isTest,
    }, asService);
  const sent = async () =>
    (await sql`select private.invitations_sent(${merchant.id})::int as n`)[0].n as number;
  return { merchantId: merchant.id as string, interviewId: interview.id as string, send, sent };
}

Deno.test("batches with candidates in common, in other orders, wait for each other: no deadlock", async () => {
  const { send } = await merchantWithInterview("Orders");
  // Emails that sort a < m < z. Writing the middle one takes half a second (a trigger of this
  // test's own), so that the other batch starts while the first holds `first`.
  const [first, slow, last] = ["a-first", "m-slow", "z-last"].map((tag) => uniqueEmail(tag));
  await sql`create function public.test_only_slow_insert() returns trigger
    language plpgsql as $$ begin perform pg_sleep(0.5); return new; end $$`;
  await sql`create trigger test_only_slow_insert before insert on public.profile_interview
    for each row when (new.email like 'm-slow-%')
    execute function public.test_only_slow_insert()`;
  try {
    // In input order, one batch would hold `first` and then wait for `last`, which the other
    // holds while it waits for `first`.
    const one = send([first, slow, last]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const other = send([last, first]);
    for (const answer of await Promise.all([one, other])) {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
  } finally {
    await sql`drop trigger test_only_slow_insert on public.profile_interview`;
    await sql`drop function public.test_only_slow_insert()`;
  }
});

Deno.test("a test enrolment turned real by concurrent registrations draws one invitation", async () => {
  const { interviewId, send, sent } = await merchantWithInterview("Turning real");
  const email = uniqueEmail("turn");
  assert.equal((await send([email], true)).status, 200);
  assert.equal(await sent(), 0);
  let both: ReturnType<typeof send>[] = [];
  await whileEnrolmentsHeld(interviewId, async (pid) => {
    // Two registrations that make it real both find the enrolment a test one, then wait for
    // its row.
    both = [send([email]), send([email])];
    both.forEach((answer) => answer.catch(() => {}));
    await untilBlockedBy(pid, 2);
  });
  for (const answer of await Promise.all(both)) {
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body[0].result, "ok");
  }
  const [row] = await sql`select is_test from public.profile_interview
    where interview_def_set_id = ${interviewId}`;
  assert.equal(row.is_test, false);
  assert.equal(await sent(), 1, "one enrolment turned real draws one invitation");
});

Deno.test("revoke_previous revokes a link another registration committed while it waited", async () => {
  const { merchantId, interviewId } = await merchantWithInterview("Revoke after waiting");
  const email = uniqueEmail("revoke-wait");
  const holder = database();
  let answer!: ReturnType<typeof postRegister>;
  let heldJti = "";
  try {
    await holder.begin(async (tx) => {
      // Another registration of the candidate, not committed yet: it holds the enrolment.
      const [{ reply }] = await tx`select public.register_interview_users(null,
        ${merchantId}::uuid, ${interviewId}::uuid, false,
        ${tx.json([{ i: 0, email }])}::jsonb, 86400) as reply`;
      heldJti = reply.rows[0].jti;
      const [{ pid }] = await tx`select pg_backend_pid() as pid`;
      answer = postRegister({
        users: [{ email }],
        interview_id: interviewId,
        merchant_id: merchantId,
        revoke_previous: true,
      }, asService);
      answer.catch(() => {});
      await untilBlockedBy(pid, 1);
    });
  } finally {
    await holder.end();
  }
  const res = await answer;
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body[0].result, "ok");
  const links = await sql`select t.jti, t.revoked_at is not null as revoked
    from public.interview_token t join public.profile_interview e on e.id = t.profile_interview_id
    where e.interview_def_set_id = ${interviewId} order by t.issued_at`;
  assert.deepEqual(
    links.map((link) => [link.jti === heldJti, link.revoked]),
    [[true, true], [false, false]],
    "the link committed first is revoked; the new one works",
  );
});

Deno.test("a limit set while a registration of the merchant runs is never overdrawn", async () => {
  const { merchantId, interviewId, send, sent } = await merchantWithInterview("Limited later");
  const known = uniqueEmail("known");
  assert.equal((await send([known])).status, 200);
  let first: ReturnType<typeof send> | undefined;
  let second: ReturnType<typeof send> | undefined;
  let changed: Promise<void> | undefined;
  await whileEnrolmentsHeld(interviewId, async (pid) => {
    // A registration without a limit is under way: it waits for a candidate's row.
    first = send([known, uniqueEmail("first")]);
    first.catch(() => {});
    await untilBlockedBy(pid, 1);
    // Meanwhile the merchant gets a limit: one more invitation, which another registration
    // would draw. The change waits for the registration under way; so does the next one.
    changed = sql`update public.merchant set invitations_limit = ${(await sent()) + 1}
      where id = ${merchantId}`.then(() => {});
    changed.catch(() => {});
    second = send([uniqueEmail("second")]);
    second.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
  });
  await changed;
  const answers = [await first!, await second!];
  for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const [{ invitations_limit }] = await sql`select invitations_limit from public.merchant
    where id = ${merchantId}`;
  assert.ok(
    (await sent()) <= invitations_limit,
    `${await sent()} invitations drawn on a limit of ${invitations_limit}: ` +
      JSON.stringify(
        answers.flatMap((answer) => answer.body.map((row: { result: string }) => row.result)),
      ),
  );
});

Deno.test("folding the draws while a limited merchant registers: no deadlock, no 503", async () => {
  const { merchantId, interviewId, send, sent } = await merchantWithInterview("Folded", 1000);
  const known = uniqueEmail("known");
  assert.equal((await send([known])).status, 200);
  // Every database session has counted a draw of this merchant, as the sessions of PostgREST's
  // pool have after a minute of its registrations.
  await sql`insert into public.invitation_draw (merchant_id, slot, draws)
    select ${merchantId}, a.pid, 0 from pg_stat_activity a
    where a.datname = current_database() and a.backend_type = 'client backend'
    on conflict (merchant_id, slot) do nothing`;
  const folder = database();
  let registering: ReturnType<typeof send> | undefined;
  try {
    // The registration holds the merchant's row and is slowed by a candidate's row, as a large
    // batch takes its time.
    await whileEnrolmentsHeld(interviewId, async (pid) => {
      registering = send([known, uniqueEmail("folded")]);
      registering.catch(() => {});
      await untilBlockedBy(pid, 1);
      // The minute's fold runs meanwhile: it leaves the merchant whose row the registration
      // holds for later, and waits for nobody.
      await folder`select private.fold_invitation_draws()`;
    });
    const answer = await registering!;
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  } finally {
    await folder.end();
  }
  assert.equal(await sent(), 2);
});

Deno.test("1,000 users come back in input order, each with its own enrolment", async () => {
  const users = Array.from({ length: 1000 }, (_, i) => ({
    name: `Bulk ${i}`,
    email: uniqueEmail(`bulk${i}`),
    external_id: `ext-${i}`,
  }));
  const res = await register({ users });
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 1000);
  res.body.forEach((row: { email: string; external_id: string; result: string }, i: number) => {
    assert.equal(row.email, users[i].email);
    assert.equal(row.external_id, `ext-${i}`);
    assert.equal(row.result, "ok");
  });
  assert.equal(
    new Set(res.body.map((row: { profile_interview_id: string }) => row.profile_interview_id)).size,
    1000,
  );
});

Deno.test("the batch cap and body size are enforced before any work", async () => {
  const tooMany = await register({
    users: Array.from({ length: 1001 }, () => ({ email: uniqueEmail() })),
  });
  assert.equal(tooMany.status, 422);
  assert.equal(tooMany.body.name, "users");
  const huge = await register({ users: [{ email: uniqueEmail(), name: "x".repeat(1024 * 1024) }] });
  assert.equal(huge.status, 413);
});

Deno.test("supabase-js functions.invoke works unchanged", async () => {
  const client = createClient(info.API_URL, keys.secretKey, { auth: { persistSession: false } });
  const { data, error } = await client.functions.invoke("job-interview-register-users", {
    body: {
      users: [{ name: "Via supabase-js", email: uniqueEmail("sbjs") }],
      interview_id: seed.activeInterview,
      merchant_id: seed.demoMerchant,
    },
  });
  assert.equal(error, null);
  assert.equal(data[0].result, "ok");
});

Deno.test("a user's session through supabase-js", async () => {
  const headers = await asUser("recruiter");
  const client = createClient(info.API_URL, keys.anonKey, {
    auth: { persistSession: false },
    global: { headers: { authorization: headers.authorization } },
  });
  const { data, error } = await client.functions.invoke("job-interview-register-users", {
    body: { users: [{ email: uniqueEmail("session") }], interview_id: seed.activeInterview },
  });
  assert.equal(error, null);
  assert.equal(data[0].result, "ok");
});

Deno.test("HTTP details: preflight, methods, JSON, request ids", async (t) => {
  const url = `${info.FUNCTIONS_URL}/job-interview-register-users`;
  await t.step("OPTIONS answers before auth", async () => {
    const res = await fetch(url, { method: "OPTIONS" });
    await res.body?.cancel();
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("access-control-allow-headers")!, /authorization/);
  });
  await t.step("GET is 405", async () => {
    const res = await fetch(url, { headers: asService });
    assert.equal(res.status, 405);
    assert.equal((await res.json()).error.includes("POST"), true);
  });
  await t.step("invalid JSON is 400, saying where", async () => {
    const res = await postRegister("{not json", asService);
    assert.equal(res.status, 400);
    assert.equal(
      res.body.error,
      'Request body is not valid JSON: unexpected "n" at line 1, column 2',
    );
    const later = await postRegister('{\n  "users": [],\n  "is_test": tru\n}', asService);
    assert.match(later.body.error, /at line 3, column 17$/);
  });
  await t.step("a present value of the wrong type says so", async () => {
    const res = await postRegister({ users: {}, interview_id: "x" }, asService);
    assert.equal(res.status, 422);
    assert.deepEqual(res.body, { error: "users must be an array of candidates", name: "users" });
  });
  await t.step("a JSON array is 400", async () => {
    const res = await postRegister([], asService);
    assert.equal(res.status, 400);
  });
  await t.step("missing fields are 422 naming them", async () => {
    const noUsers = await postRegister({ interview_id: seed.activeInterview }, asService);
    assert.deepEqual([noUsers.status, noUsers.body.name], [422, "users"]);
    const noInterview = await postRegister({ users: [{ email: uniqueEmail() }] }, asService);
    assert.deepEqual([noInterview.status, noInterview.body.name], [422, "interview_id"]);
    const empty = await postRegister({ users: [], interview_id: seed.activeInterview }, asService);
    assert.deepEqual([empty.status, empty.body.name], [422, "users"]);
  });
  await t.step("a caller's x-request-id is echoed", async () => {
    const res = await postRegister("{", { ...asService, "x-request-id": "req-12345678" });
    assert.equal(res.headers.get("x-request-id"), "req-12345678");
  });
});

Deno.test("ids in capitals are the same ids: the link's path, its token and a retry agree", async () => {
  const email = uniqueEmail("caps");
  const key = `caps-${crypto.randomUUID()}`;
  const body = (interview: string, merchant: string) => ({
    users: [{ email }],
    interview_id: interview,
    merchant_id: merchant,
    is_test: true,
  });
  const upper = await postRegister(
    body(seed.activeInterview.toUpperCase(), seed.demoMerchant.toUpperCase()),
    { ...asService, "idempotency-key": key },
  );
  assert.equal(upper.status, 200, JSON.stringify(upper.body));
  const url = new URL(upper.body[0].interview_url);
  assert.equal(url.pathname, `/interview/take/${seed.activeInterview}/`);
  const token = url.searchParams.get("interview_token")!;
  const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  assert.equal(claims.interview_id, seed.activeInterview);
  // The retry a client sends with the ids as it stores them is the same request.
  const lower = await postRegister(body(seed.activeInterview, seed.demoMerchant), {
    ...asService,
    "idempotency-key": key,
  });
  assert.equal(lower.status, 200, JSON.stringify(lower.body));
  assert.equal(lower.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(lower.body, upper.body);
});

Deno.test("type: invitation is accepted as the older shape", async () => {
  const res = await register({ users: [{ email: uniqueEmail("type") }], type: "invitation" });
  assert.equal(res.status, 200);
  const bad = await register({ users: [{ email: uniqueEmail("type") }], type: "sms" });
  assert.deepEqual([bad.status, bad.body.name], [422, "type"]);
});

Deno.test({
  name: "close the database connection",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
