// Row level security, proven from the database side: each seeded role reads and writes what it
// may and nothing else. Every check runs as the API role PostgREST would use, with the same JWT
// claims, inside a transaction that is rolled back.
import assert from "node:assert/strict";
import type postgres from "postgres";
import {
  asService,
  database,
  info,
  keys,
  postRegister,
  seed,
  type SeedUser,
  tokenFor,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();

async function as<T>(
  user: SeedUser | "anon",
  work: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  let result: T | undefined;
  await sql.begin(async (tx) => {
    if (user === "anon") {
      await tx`select set_config('request.jwt.claims', '{"role":"anon"}', true)`;
      await tx`set local role anon`;
    } else {
      const claims = JSON.stringify({ sub: seed.users[user].id, role: "authenticated" });
      await tx`select set_config('request.jwt.claims', ${claims}, true)`;
      await tx`set local role authenticated`;
    }
    result = await work(tx);
    throw new Rollback();
  }).catch((err) => {
    if (!(err instanceof Rollback)) throw err;
  });
  return result as T;
}

class Rollback extends Error {}

async function denied(
  user: SeedUser | "anon",
  statement: (tx: postgres.TransactionSql) => Promise<unknown>,
) {
  await assert.rejects(as(user, statement), /permission denied/);
}

const ids = (rows: readonly postgres.Row[]) => rows.map((row) => String(row.id)).sort();

Deno.test("merchants: staff see their own and sub-merchants, admins all, others none", async () => {
  const visible = async (user: SeedUser) =>
    ids(await as(user, (tx) => tx`select id from public.merchant`));
  assert.deepEqual(await visible("owner"), [seed.demoMerchant, seed.subMerchant].sort());
  assert.deepEqual(await visible("selection"), [seed.demoMerchant, seed.subMerchant].sort());
  assert.deepEqual(await visible("subOwner"), [seed.subMerchant]);
  assert.deepEqual(await visible("otherOwner"), [seed.otherMerchant]);
  assert.equal((await visible("admin")).length >= 3, true);
  assert.deepEqual(await visible("candidate"), []);
  await denied("anon", (tx) => tx`select id from public.merchant`);
});

Deno.test("merchants: nobody raises the invitation limit or counter through the API", async () => {
  for (const user of ["owner", "admin", "recruiter"] as const) {
    await denied(user, (tx) => tx`update public.merchant set invitations_limit = 999999`);
    await denied(user, (tx) => tx`update public.merchant set invitations_sent = 0`);
    await denied(user, (tx) => tx`update public.merchant set parent_merchant_id = null`);
  }
  const renamed = await as(
    "owner",
    (tx) =>
      tx`update public.merchant set name = 'Renamed' where id = ${seed.demoMerchant} returning id`,
  );
  assert.equal(renamed.length, 1);
  const byRecruiter = await as(
    "recruiter",
    (tx) =>
      tx`update public.merchant set name = 'Renamed' where id = ${seed.demoMerchant} returning id`,
  );
  assert.equal(byRecruiter.length, 0);
  const otherByOwner = await as(
    "owner",
    (tx) =>
      tx`update public.merchant set name = 'Renamed' where id = ${seed.otherMerchant} returning id`,
  );
  assert.equal(otherByOwner.length, 0);
  await denied("owner", (tx) => tx`insert into public.merchant (name) values ('New')`);
});

Deno.test("profiles: own row, staff see their merchants' people, roles never change", async () => {
  const own = await as("candidate", (tx) => tx`select id from public.profile`);
  assert.deepEqual(ids(own), [seed.users.candidate.id]);
  const byOwner = ids(await as("owner", (tx) => tx`select id from public.profile`));
  assert.ok(byOwner.includes(seed.users.recruiter.id));
  assert.ok(byOwner.includes(seed.users.subOwner.id));
  assert.ok(!byOwner.includes(seed.users.otherOwner.id));
  await denied("owner", (tx) => tx`update public.profile set role = 'admin'`);
  await denied(
    "recruiter",
    (tx) => tx`update public.profile set merchant_id = ${seed.otherMerchant}`,
  );
  const renamed = await as(
    "candidate",
    (tx) => tx`update public.profile set name = 'New Name' returning id`,
  );
  assert.deepEqual(ids(renamed), [seed.users.candidate.id]);
});

Deno.test("interviews: staff read theirs; owners and recruiters write; selection only reads", async () => {
  const seen = ids(await as("otherOwner", (tx) => tx`select id from public.interview_def_set`));
  assert.deepEqual(seen, [seed.otherInterview]);
  const created = await as(
    "recruiter",
    (tx) =>
      tx`insert into public.interview_def_set (merchant_id, name) values (${seed.demoMerchant}, 'New')
      returning id`,
  );
  assert.equal(created.length, 1);
  await assert.rejects(
    as(
      "selection",
      (tx) =>
        tx`insert into public.interview_def_set (merchant_id, name) values (${seed.demoMerchant}, 'X')`,
    ),
    /row-level security/,
  );
  await assert.rejects(
    as(
      "owner",
      (tx) =>
        tx`insert into public.interview_def_set (merchant_id, name) values (${seed.otherMerchant}, 'X')`,
    ),
    /row-level security/,
  );
  const archived = await as(
    "selection",
    (tx) => tx`update public.interview_def_set set status = 'archived' returning id`,
  );
  assert.equal(archived.length, 0);
  assert.equal(
    (await as("candidate", (tx) => tx`select id from public.position_def_set`)).length,
    0,
  );
});

Deno.test("enrolments: candidates see only their own; nobody inserts through the API", async () => {
  const own = await as(
    "candidate",
    (tx) => tx`select id, profile_id from public.profile_interview`,
  );
  assert.ok(own.length >= 1);
  assert.ok(own.every((row) => row.profile_id === seed.users.candidate.id));
  const other = await as(
    "otherOwner",
    (tx) => tx`select id from public.profile_interview where merchant_id = ${seed.demoMerchant}`,
  );
  assert.equal(other.length, 0);
  for (const user of ["owner", "candidate", "admin"] as const) {
    await denied(
      user,
      (tx) =>
        tx`insert into public.profile_interview (merchant_id, interview_def_set_id, email)
        values (${seed.demoMerchant}, ${seed.activeInterview}, 'x@example.com')`,
    );
  }
  await denied(
    "owner",
    (tx) => tx`update public.profile_interview set merchant_id = ${seed.otherMerchant}`,
  );
  const bySelection = await as(
    "selection",
    (tx) => tx`update public.profile_interview set status = 'deleted' returning id`,
  );
  assert.equal(bySelection.length, 0);
  await denied("anon", (tx) => tx`select id from public.profile_interview`);
});

Deno.test("tokens, outbox, attempts: never written through the API; the SQL functions are service-only", async () => {
  await denied("owner", (tx) => tx`update public.interview_token set used_at = null`);
  await denied("admin", (tx) => tx`delete from public.interview_token`);
  for (const user of ["owner", "admin", "anon"] as const) {
    await denied(
      user,
      (tx) =>
        tx`select public.register_interview_users(null, ${seed.demoMerchant}::uuid,
        ${seed.activeInterview}::uuid, false, '[]'::jsonb, 3600)`,
    );
  }
});

Deno.test("the same rules hold over PostgREST with real tokens", async () => {
  const get = async (path: string, token: string) => {
    const res = await fetch(`${info.REST_URL}/${path}`, {
      headers: { apikey: keys.anonKey, authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: await res.json() };
  };
  const candidate = await get("profile_interview?select=email", await tokenFor("candidate"));
  assert.deepEqual(candidate.body, [{ email: seed.users.candidate.email }]);
  const anon = await get("profile_interview?select=email", keys.anonKey);
  assert.equal(anon.status, 401);
  const rpc = await fetch(`${info.REST_URL}/rpc/register_interview_users`, {
    method: "POST",
    headers: {
      apikey: keys.anonKey,
      authorization: `Bearer ${await tokenFor("owner")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({
      p_caller_id: seed.users.admin.id,
      p_merchant_id: seed.otherMerchant,
      p_interview_id: seed.otherInterview,
      p_is_test: false,
      p_users: [{ i: 0, email: "sneaky@example.com" }],
      p_token_ttl_seconds: 3600,
    }),
  });
  assert.equal(rpc.status, 403);
  await rpc.body?.cancel();
});

Deno.test("the data API, role by role: nothing beyond what RLS intends", async (t) => {
  const callers: Record<string, string> = { anon: keys.anonKey };
  for (const user of Object.keys(seed.users) as SeedUser[]) callers[user] = await tokenFor(user);
  const rest = async (token: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${info.REST_URL}/${path}`, {
      method,
      headers: {
        apikey: keys.anonKey,
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        prefer: "return=representation",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const denied = (status: number, body: unknown) =>
    status === 401 || status === 403 || status === 404 ||
    (status < 300 && Array.isArray(body) && body.length === 0);

  // Another merchant's enrolment with a link, an emailed link and an attempt: rows in every
  // table that must stay out of sight.
  const foreign = await postRegister({
    users: [{ email: uniqueEmail("foreign") }],
    interview_id: seed.otherInterview,
    merchant_id: seed.otherMerchant,
    send_email: true,
  }, asService);
  assert.equal(foreign.body[0].result, "ok", JSON.stringify(foreign.body));
  const started = await fetch(`${info.FUNCTIONS_URL}/job-interview-start`, {
    method: "POST",
    body: JSON.stringify({
      interview_token: new URL(foreign.body[0].interview_url).searchParams.get("interview_token"),
    }),
  });
  assert.equal(started.status, 200);
  await started.body?.cancel();
  const foreignTables = [
    "profile_interview",
    "interview_token",
    "email_outbox",
    "interview_result",
  ];

  for (const [who, token] of Object.entries(callers)) {
    await t.step(who, async () => {
      // Service-only tables: invisible and untouchable.
      for (
        const table of [
          "idempotency_request",
          "merchant_request_counter",
          "email_send_batch",
          "greenhouse_callback",
        ]
      ) {
        const read = await rest(token, "GET", `${table}?select=*`);
        assert.ok(denied(read.status, read.body), `${who} reads ${table}: ${read.status}`);
      }
      // Nobody raises an invitation limit or resets a counter.
      const limit = await rest(token, "PATCH", `merchant?id=eq.${seed.demoMerchant}`, {
        invitations_limit: 1_000_000,
      });
      assert.ok(denied(limit.status, limit.body), `${who} raises a limit: ${limit.status}`);
      const rate = await rest(token, "PATCH", `merchant?id=eq.${seed.demoMerchant}`, {
        api_requests_per_minute: 1_000_000,
      });
      assert.ok(denied(rate.status, rate.body), `${who} raises a rate limit: ${rate.status}`);
      // Nobody marks a token unused, or writes an outbox row or an attempt.
      const unuse = await rest(token, "PATCH", "interview_token?used_at=not.is.null", {
        used_at: null,
      });
      assert.ok(denied(unuse.status, unuse.body), `${who} unuses tokens: ${unuse.status}`);
      const outbox = await rest(token, "PATCH", "email_outbox?status=eq.sent", {
        status: "pending",
      });
      assert.ok(denied(outbox.status, outbox.body), `${who} resends emails: ${outbox.status}`);
      // Another merchant's rows stay out of sight.
      for (const table of foreignTables) {
        const read = await rest(
          token,
          "GET",
          `${table}?select=merchant_id&merchant_id=eq.${seed.otherMerchant}`,
        );
        if (who === "admin" || who === "otherOwner") {
          assert.equal(read.status, 200);
          assert.ok(read.body.length >= 1, `${who} sees its ${table}`);
        } else {assert.ok(
            denied(read.status, read.body),
            `${who} reads another merchant's ${table}`,
          );}
      }
      // The SQL functions behind the endpoints are the service role's alone.
      for (
        const [fn, args] of [
          ["register_interview_users", {
            p_caller_id: seed.users.admin.id,
            p_merchant_id: seed.demoMerchant,
            p_interview_id: seed.activeInterview,
            p_is_test: false,
            p_users: [],
            p_token_ttl_seconds: 3600,
          }],
          ["start_interview", { p_jti: crypto.randomUUID() }],
          ["claim_invitation_emails", { p_limit: 10 }],
          ["freeze_invitation_batches", { p_batches: [] }],
          ["record_invitation_batch", {
            p_batch_id: crypto.randomUUID(),
            p_attempt: 1,
            p_result: { kind: "unknown" },
            p_max_attempts: 8,
          }],
          ["count_request", { p_subject_id: seed.demoMerchant, p_limit: 1 }],
          ["admit_registration", {
            p_caller_id: seed.users.admin.id,
            p_merchant_id: seed.demoMerchant,
          }],
          ["resolve_registration_merchant", {
            p_caller_id: seed.users.admin.id,
            p_merchant_id: seed.demoMerchant,
          }],
          ["replay_idempotent_request", {
            p_merchant_id: seed.demoMerchant,
            p_key: "k",
            p_request_hash: "h",
          }],
          ["finish_idempotent_request", {
            p_merchant_id: seed.demoMerchant,
            p_key: "k",
            p_emails: {},
          }],
          ["purge_request_admission", {}],
        ] as const
      ) {
        const res = await rest(token, "POST", `rpc/${fn}`, args);
        assert.ok([401, 403, 404].includes(res.status), `${who} calls ${fn}: ${res.status}`);
      }
    });
  }

  await t.step("a candidate sees only their own enrolment", async () => {
    const res = await rest(callers.candidate, "GET", "profile_interview?select=email");
    assert.deepEqual(res.body, [{ email: seed.users.candidate.email }]);
  });
});

Deno.test({
  name: "close the database connection (rls)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
