// Row fields validated as the types they are: a bad value fails its own row, is never echoed as a
// structure, and never fails the batch; the answer and the database agree on every row.
import assert from "node:assert/strict";
import { asService, database, postRegister, seed, uniqueEmail } from "../support/stack.ts";

const sql = database();

/** Registers `users` (with a key, so the answer is also stored) and checks answer against rows. */
async function registerAndCompare(users: unknown[]) {
  const res = await postRegister({
    users,
    interview_id: seed.activeInterview,
    merchant_id: seed.demoMerchant,
    send_email: true,
  }, { ...asService, "idempotency-key": crypto.randomUUID() });
  assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 500));
  assert.equal(res.body.length, users.length);
  const emails = res.body.flatMap((row: { email: unknown }) =>
    typeof row.email === "string" ? [row.email] : []
  );
  const written = await sql`select email, name, external_id from public.profile_interview
    where email = any (${emails})`;
  for (const row of res.body) {
    const stored = written.find((w) => w.email === row.email);
    if (row.result === "ok") assert.ok(stored, `${row.email} answered ok but is not stored`);
    else assert.equal(stored, undefined, `${row.email} answered ${row.result} but is stored`);
  }
  return res.body;
}

Deno.test("a non-string email fails its row, echoed as null", async () => {
  const good = uniqueEmail("typed");
  const rows = await registerAndCompare([
    { name: "Number", email: 12345 },
    { name: "Object", email: { address: uniqueEmail() } },
    { name: "Array", email: [uniqueEmail()] },
    { name: "Boolean", email: true },
    { name: "Fine", email: good },
  ]);
  for (const row of rows.slice(0, 4)) {
    assert.equal(row.result, "Error: email must be a string");
    assert.equal(row.email, null);
  }
  assert.equal(rows[4].result, "ok");
  assert.equal(rows[4].email, good);
});

Deno.test("a deeply nested email cannot turn the committed 200 into a 500", async () => {
  const good = uniqueEmail("deep");
  const depth = 200_000;
  const body = `{"users": [{"name": "Deep", "email": ${"[".repeat(depth)}${"]".repeat(depth)}}, ` +
    `{"name": "Fine", "email": "${good}"}], "interview_id": "${seed.activeInterview}", ` +
    `"merchant_id": "${seed.demoMerchant}", "send_email": true}`;
  const res = await postRegister(body, { ...asService, "idempotency-key": crypto.randomUUID() });
  assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
  assert.equal(res.body[0].result, "Error: email must be a string");
  assert.equal(res.body[0].email, null);
  assert.equal(res.body[1].result, "ok");
  const [{ count }] = await sql`select count(*)::int from public.profile_interview
    where email = ${good}`;
  assert.equal(count, 1);
});

Deno.test("control characters in name or external_id fail their row, not the batch", async () => {
  const emails = Array.from({ length: 7 }, () => uniqueEmail("ctl"));
  const rows = await registerAndCompare([
    { name: "Nul\u0000Name", email: emails[0] },
    { name: "Fine", email: emails[1], external_id: "nul\u0000id" },
    { name: "Bell\u0007", email: emails[2] },
    { name: "Escape\u001b[31m", email: emails[3], external_id: "x" },
    { name: "C1\u0085", email: emails[4] },
    { name: "Tab\tand\nnewline", email: emails[5], external_id: "a\tb" },
    { name: "Lone \ud800 surrogate", email: emails[6] },
  ]);
  assert.equal(rows[0].result, "Error: name must not contain control characters");
  assert.equal(rows[1].result, "Error: external_id must not contain control characters");
  assert.equal(rows[2].result, "Error: name must not contain control characters");
  assert.equal(rows[3].result, "Error: name must not contain control characters");
  assert.equal(rows[4].result, "Error: name must not contain control characters");
  assert.equal(rows[5].result, "ok", "tab and newline are allowed");
  assert.equal(rows[6].result, "Error: name must be valid Unicode text");
  const [stored] = await sql`select name, external_id from public.profile_interview
    where email = ${emails[5]}`;
  assert.deepEqual(stored, { name: "Tab\tand\nnewline", external_id: "a\tb" });
});

Deno.test("a front-end domain the URL parser refuses cannot fail the committed answer", async () => {
  const [merchant] = await sql`insert into public.merchant (name, interview_frontend_domain)
    values ('Odd domain', 'http://odd:port') returning id`;
  const [interview] = await sql`insert into public.interview_def_set (merchant_id, name, status)
    values (${merchant.id}, 'Odd', 'active') returning id`;
  const res = await postRegister({
    users: [{ email: uniqueEmail("odd") }],
    interview_id: interview.id,
    merchant_id: merchant.id,
  }, asService);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body[0].result, "ok");
  assert.match(new URL(res.body[0].interview_url).search, /interview_token=/);
});

Deno.test({
  name: "close the database connection (rows)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
