// Merchant API keys over HTTP against the stack: created, listed and revoked with supabase-js
// through PostgREST under RLS, used on the register endpoint, and refused with the right answer
// when unknown, revoked, expired, of the wrong environment, scope or merchant.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createClient } from "@supabase/supabase-js";
import { createApiKeyAs } from "../../stack/api_keys.ts";
import { createAuthenticator } from "../../supabase/functions/_shared/auth.ts";
import {
  asService,
  database,
  info,
  keys,
  postRegister,
  seed,
  type SeedUser,
  stackConfig,
  tokenFor,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();
const KEY = /^jm_(live|test)_[0-9A-Za-z]{47}$/;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

async function as(user: SeedUser) {
  return createClient(info.API_URL, info.PUBLISHABLE_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { headers: { Authorization: `Bearer ${await tokenFor(user)}` } },
  });
}

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

async function createKey(user: SeedUser, args: Record<string, unknown> = {}): Promise<Row> {
  const { data, error } = await (await as(user)).rpc("create_api_key", {
    name: `test key ${crypto.randomUUID().slice(0, 8)}`,
    ...args,
  });
  if (error) throw new Error(`create_api_key: ${error.message}`);
  return data;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const register = (key: string, extra: Record<string, unknown> = {}) =>
  postRegister({
    users: [{ name: "Key Test", email: uniqueEmail("key") }],
    interview_id: seed.activeInterview,
    ...extra,
  }, bearer(key));

async function enrolmentMerchant(profileInterviewId: string): Promise<string> {
  const [row] = await sql`select merchant_id from public.profile_interview
    where id = ${profileInterviewId}`;
  return row.merchant_id;
}

function randomKey(prefix = "jm_live_"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(47));
  return prefix + Array.from(bytes, (b) => BASE62[b % 62]).join("");
}

async function restRequests(): Promise<number> {
  return (await (await fetch(`${info.API_URL}/_stack/stats`)).json()).restRequests;
}

Deno.test("create, use, list without the secret, revoke: the very next request is refused", async () => {
  const created = await createKey("owner");
  assert.match(created.key, KEY);
  assert.ok(created.key.startsWith("jm_live_"));
  assert.equal(created.prefix, created.key.slice(0, 12));
  assert.equal(created.merchant_id, seed.demoMerchant);
  assert.equal(created.created_by, seed.users.owner.id);
  assert.deepEqual(created.scopes, ["registrations:write"]);
  assert.equal(created.status, "active");
  assert.equal(created.last_used_at, null);

  // At rest: the SHA-256 and the prefix, never the key.
  const [stored] = await sql`select encode(key_hash, 'hex') as hash,
      position(${created.key.slice(12)} in row_to_json(k)::text) as secret_at
    from public.api_key k where id = ${created.id}`;
  assert.equal(stored.hash, createHash("sha256").update(created.key).digest("hex"));
  assert.equal(stored.secret_at, 0);

  // merchant_id is optional with a key: the key's merchant.
  const used = await register(created.key);
  assert.equal(used.status, 200, JSON.stringify(used.body));
  assert.equal(used.body[0].result, "ok");
  assert.equal(await enrolmentMerchant(used.body[0].profile_interview_id), seed.demoMerchant);
  // Named explicitly, the key's own merchant is fine too.
  assert.equal((await register(created.key, { merchant_id: seed.demoMerchant })).status, 200);

  const owner = await as("owner");
  const { data: listed, error } = await owner.rpc("list_api_keys");
  assert.equal(error, null);
  const mine = (listed as Row[]).find((row) => row.id === created.id)!;
  assert.equal(mine.prefix, created.prefix);
  assert.equal(mine.status, "active");
  assert.ok(mine.last_used_at, "last_used_at is set by the first use");
  assert.ok(!("key" in mine) && !("key_hash" in mine));
  assert.ok(!JSON.stringify(listed).includes(created.key.slice(12)));
  // The digest is not readable through the Data API either.
  const digest = await owner.from("api_key").select("key_hash").eq("id", created.id);
  assert.match(digest.error?.message ?? "", /permission denied/);

  const { data: revoked, error: revokeError } = await owner.rpc("revoke_api_key", {
    id: created.id,
  });
  assert.equal(revokeError, null);
  assert.equal(revoked.status, "revoked");
  const refused = await register(created.key);
  assert.equal(refused.status, 401);
  assert.deepEqual(refused.body, { error: "API key revoked", code: "api_key_revoked" });

  // Final: revoking again keeps the first time, and it cannot be undone or re-dated.
  const again = await owner.rpc("revoke_api_key", { id: created.id });
  assert.equal(again.data.revoked_at, revoked.revoked_at);
  await owner.from("api_key").update({ revoked_at: null }).eq("id", created.id);
  await owner.from("api_key").update({ revoked_at: "2099-01-01T00:00:00Z" }).eq("id", created.id);
  const [row] = await sql`select revoked_at from public.api_key where id = ${created.id}`;
  assert.equal(row.revoked_at.toISOString(), new Date(revoked.revoked_at).toISOString());
  assert.equal((await register(created.key)).status, 401);
});

Deno.test("an expired key: 401 'API key expired'; an expiry in the past is refused", async () => {
  const created = await createKey("owner", {
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
  });
  assert.equal((await register(created.key)).status, 200);
  await sql`update public.api_key set expires_at = now() - interval '1 second'
    where id = ${created.id}`;
  const expired = await register(created.key);
  assert.equal(expired.status, 401);
  assert.deepEqual(expired.body, { error: "API key expired", code: "api_key_expired" });
  const { data } = await (await as("owner")).rpc("list_api_keys");
  assert.equal((data as Row[]).find((row) => row.id === created.id)!.status, "expired");

  const { error } = await (await as("owner")).rpc("create_api_key", {
    name: "already expired",
    expires_at: new Date(Date.now() - 1000).toISOString(),
  });
  assert.match(error?.message ?? "", /expires_at must be in the future/);
});

Deno.test("test keys (jm_test_) register only is_test enrolments", async () => {
  const created = await createKey("owner", { test: true });
  assert.ok(created.key.startsWith("jm_test_"));
  assert.equal(created.is_test, true);
  const test = await register(created.key, { is_test: true });
  assert.equal(test.status, 200, JSON.stringify(test.body));
  const real = await register(created.key);
  assert.equal(real.status, 403);
  assert.equal(real.body.code, "api_key_test_only");
  assert.equal(real.body.name, "is_test");
  assert.match(real.body.error, /test API key/);
  // A live key registers test enrolments too.
  const live = await createKey("owner");
  assert.equal((await register(live.key, { is_test: true })).status, 200);
});

Deno.test("sub-merchants: only with a key that allows them, never upwards", async () => {
  const subBody = { merchant_id: seed.subMerchant, interview_id: seed.subInterview };
  const plain = await createKey("owner");
  const denied = await register(plain.key, subBody);
  assert.equal(denied.status, 403);
  assert.equal(denied.body.code, "api_key_merchant");
  assert.equal(denied.body.name, "merchant_id");

  const wide = await createKey("owner", { sub_merchants: true });
  const allowed = await register(wide.key, subBody);
  assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
  assert.equal(await enrolmentMerchant(allowed.body[0].profile_interview_id), seed.subMerchant);

  const subKey = await createKey("subOwner", { sub_merchants: true });
  assert.equal(subKey.merchant_id, seed.subMerchant);
  const upwards = await register(subKey.key, { merchant_id: seed.demoMerchant });
  assert.equal(upwards.status, 403);
  assert.equal(upwards.body.code, "api_key_merchant");
});

Deno.test("another merchant's key: 403 for the merchant, its interviews unknown", async () => {
  const other = await createKey("otherOwner");
  assert.equal(other.merchant_id, seed.otherMerchant);
  const named = await register(other.key, { merchant_id: seed.demoMerchant });
  assert.equal(named.status, 403);
  assert.equal(named.body.code, "api_key_merchant");
  // Without merchant_id it acts for its own merchant, where Demo Merchant's interview is as
  // unknown as any.
  const interview = await register(other.key);
  assert.equal(interview.status, 422);
  assert.deepEqual(interview.body, { error: "interview not found", name: "interview_id" });
  const unknownMerchant = await register(other.key, { merchant_id: crypto.randomUUID() });
  assert.deepEqual(unknownMerchant.body, named.body);

  // Keys are managed only by their merchant's owners (and those above) and admins.
  const demoKey = await createKey("owner");
  const otherOwner = await as("otherOwner");
  const { data: seen } = await otherOwner.rpc("list_api_keys");
  assert.ok((seen as Row[]).every((row) => row.merchant_id === seed.otherMerchant));
  const revoke = await otherOwner.rpc("revoke_api_key", { id: demoKey.id });
  assert.match(revoke.error?.message ?? "", /API key not found/);
  // Not found, as for an id no key has: no server error, and nothing to tell the two apart.
  assert.equal(revoke.status, 404);
  const unknown = await otherOwner.rpc("revoke_api_key", { id: crypto.randomUUID() });
  assert.deepEqual([unknown.status, unknown.error], [revoke.status, revoke.error]);
  assert.equal((await register(demoKey.key)).status, 200);
  const foreign = await otherOwner.rpc("create_api_key", {
    name: "not mine",
    merchant_id: seed.demoMerchant,
  });
  assert.match(foreign.error?.message ?? "", /may not manage API keys of this merchant/);
  for (const user of ["recruiter", "selection", "candidate"] as const) {
    const { error } = await (await as(user)).rpc("create_api_key", { name: "no" });
    assert.match(error?.message ?? "", /may not manage API keys/, user);
  }
  const anon = createClient(info.API_URL, info.PUBLISHABLE_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  assert.match(
    (await anon.rpc("create_api_key", { name: "anon" })).error?.message ?? "",
    /permission denied/,
  );
  // Admins manage any merchant's keys; the parent's owner its sub-merchant's.
  const byAdmin = await createKey("admin", { merchant_id: seed.otherMerchant });
  assert.equal(byAdmin.merchant_id, seed.otherMerchant);
  const forSub = await createKey("owner", { merchant_id: seed.subMerchant });
  assert.equal(forSub.merchant_id, seed.subMerchant);
});

Deno.test("a key differing by one character, or unknown, or misshapen: 'Invalid API key'", async () => {
  const created = await createKey("owner");
  const last = created.key.at(-1)!;
  const oneOff = created.key.slice(0, -1) + BASE62[(BASE62.indexOf(last) + 1) % 62];
  const firstOff = created.key.slice(0, 8) +
    BASE62[(BASE62.indexOf(created.key[8]) + 1) % 62] + created.key.slice(9);
  const invalid = { error: "Invalid API key", code: "api_key_invalid" };
  for (const key of [oneOff, firstOff, randomKey(), randomKey("jm_test_")]) {
    const res = await register(key, { is_test: true });
    assert.equal(res.status, 401, key);
    assert.deepEqual(res.body, invalid);
  }
  for (
    const key of ["jm_live_", "jm_live_short", `${created.key}x`, `${created.key.slice(0, -1)}!`]
  ) {
    const res = await register(key);
    assert.equal(res.status, 401, key);
    assert.deepEqual(res.body, invalid);
  }
  assert.equal((await register(created.key)).status, 200);
});

Deno.test("no early exit on the secret: any well-formed key is hashed whole and looked up once", async () => {
  // The function compares nothing: every well-formed key, right or wrong, becomes its digest.
  const authenticate = createAuthenticator(await stackConfig());
  const created = await createKey("owner");
  const wrong = created.key.slice(0, -1) + (created.key.endsWith("a") ? "b" : "a");
  for (const key of [created.key, wrong]) {
    const caller = await authenticate(
      new Request("http://localhost/", { headers: bearer(key) }),
    );
    assert.deepEqual(caller, {
      kind: "api_key",
      keyHash: createHash("sha256").update(key).digest("hex"),
      test: false,
    });
  }
  // And the database judges either, in the registration's one round trip.
  for (const key of [created.key, wrong]) {
    const before = await restRequests();
    await register(key);
    assert.equal(await restRequests() - before, 1);
  }
});

Deno.test("100 concurrent requests with one key: all registered, last_used_at written once", async () => {
  const created = await createKey("owner");
  const audit = `api_key_audit_${crypto.randomUUID().slice(0, 8)}`;
  // Records every write of last_used_at for this key (removed afterwards).
  await sql.unsafe(`
    create schema ${audit};
    create table ${audit}.touch (last_used_at timestamptz);
    create function ${audit}.record() returns trigger language plpgsql security definer
      set search_path = '' as $$
      begin insert into ${audit}.touch values (new.last_used_at); return new; end $$;
    create trigger ${audit} after update of last_used_at on public.api_key for each row
      when (new.id = '${created.id}') execute function ${audit}.record();`);
  try {
    const results = await Promise.all(
      Array.from({ length: 100 }, () => register(created.key)),
    );
    assert.deepEqual(
      [...new Set(results.map((res) => res.status))],
      [200],
      JSON.stringify(results.find((res) => res.status !== 200)?.body),
    );
    const touches = await sql.unsafe(`select last_used_at from ${audit}.touch`);
    assert.equal(touches.length, 1);
    const [row] = await sql`select last_used_at from public.api_key where id = ${created.id}`;
    assert.equal(row.last_used_at.toISOString(), touches[0].last_used_at.toISOString());
  } finally {
    await sql.unsafe(`drop trigger ${audit} on public.api_key; drop schema ${audit} cascade`);
  }
});

Deno.test("create_api_key: a bad argument is a 400 naming it, and creates nothing", async () => {
  const client = await as("owner");
  const count = async () =>
    (await sql`select count(*)::int as n from public.api_key`)[0].n as number;
  const before = await count();
  for (
    const [args, message] of [
      [{ name: "  " }, /name must be 1 to 100 characters/],
      [{ name: "x".repeat(101) }, /name must be 1 to 100 characters/],
      [{ name: "k", scopes: [] }, /scopes must name at least one of: registrations:write/],
      [{ name: "k", scopes: ["admin:all"] }, /scopes must name at least one of/],
      [{ name: "k", requests_per_minute: -1 }, /requests_per_minute must be a positive/],
    ] as const
  ) {
    const { error, status } = await client.rpc("create_api_key", args);
    assert.equal(status, 400, JSON.stringify(args));
    assert.match(error?.message ?? "", message);
    // Nothing about a row that was never written (a check constraint's "Failing row contains").
    assert.equal(error?.details ?? null, null, JSON.stringify(error));
  }
  assert.equal(await count(), before);
});

Deno.test("a key without the scope: 403", async () => {
  // create_api_key refuses a key without scopes; one can still lose its scope later (a scope
  // withdrawn from existing keys), and the registration checks it on every request.
  const created = await createKey("owner");
  await sql`update public.api_key set scopes = '{}' where id = ${created.id}`;
  const res = await register(created.key);
  assert.equal(res.status, 403);
  assert.equal(res.body.code, "api_key_scope");
  assert.match(res.body.error, /registrations:write/);
  const { error } = await (await as("owner")).rpc("create_api_key", {
    name: "unknown scope",
    scopes: ["everything"],
  });
  assert.ok(error, "an unknown scope is refused");
});

Deno.test("per-key rate limit beside the merchant's, with the headers of the tighter one", async () => {
  const created = await createKey("owner", { requests_per_minute: 2 });
  // Start at the beginning of a minute, so the window cannot roll over mid-test.
  const [{ seconds }] = await sql`select extract(second from now())::float as seconds`;
  if (seconds > 50) await new Promise((resolve) => setTimeout(resolve, (61 - seconds) * 1000));
  const remaining: string[] = [];
  for (let i = 0; i < 2; i++) {
    const res = await register(created.key);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("ratelimit-limit"), "2");
    remaining.push(res.headers.get("ratelimit-remaining")!);
  }
  assert.deepEqual(remaining, ["1", "0"]);
  const limited = await register(created.key);
  assert.equal(limited.status, 429);
  assert.equal(limited.body.code, "rate_limited");
  assert.match(limited.body.error, /this API key/);
  assert.equal(limited.headers.get("ratelimit-limit"), "2");
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  // The merchant and its other keys are not held back.
  const other = await createKey("owner");
  const res = await register(other.key);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("ratelimit-limit"), "100000");
  assert.equal(
    (await postRegister({
      users: [{ email: uniqueEmail() }],
      interview_id: seed.activeInterview,
      merchant_id: seed.demoMerchant,
    }, asService)).status,
    200,
  );
});

Deno.test("keys act only where a merchant acts: not on the email dispatch", async () => {
  const res = await fetch(`${info.FUNCTIONS_URL}/job-interview-email-dispatch`, {
    method: "POST",
    headers: { ...bearer(info.DEMO_API_KEY), "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(res.status, 403);
  await res.body?.cancel();
});

Deno.test("the stack's demo key and local:key's keys work as printed", async () => {
  assert.match(info.DEMO_API_KEY, KEY);
  const demo = await register(info.DEMO_API_KEY);
  assert.equal(demo.status, 200, JSON.stringify(demo.body));
  assert.equal(await enrolmentMerchant(demo.body[0].profile_interview_id), seed.demoMerchant);

  const test = await createApiKeyAs(info, keys, "owner@demo.test", { test: true });
  assert.ok(test.key.startsWith("jm_test_"));
  assert.equal((await register(test.key, { is_test: true })).status, 200);
  await assert.rejects(createApiKeyAs(info, keys, "recruiter@demo.test"), /may not manage/);
});

Deno.test({
  name: "close the database connection (api keys)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
