// No bearer token at rest: after registrations with emails and Idempotency-Keys (first answers
// and replays), and the dispatch of their emails, no text in any table of the database looks like
// an interview token or an interview link.
import assert from "node:assert/strict";
import { drainOutbox, inbox } from "../support/inbox.ts";
import { asService, database, postRegister, seed, uniqueEmail } from "../support/stack.ts";

const sql = database();

// A JWT (three base64url parts, the first a JSON header) or a link's token parameter.
const TOKEN_SHAPE = String
  .raw`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|interview_token=`;

Deno.test("no interview token or link is stored in any table", async () => {
  await inbox.clear();
  const emails = [uniqueEmail("rest"), uniqueEmail("rest")];
  const body = {
    users: emails.map((email) => ({ name: "At rest", email })),
    interview_id: seed.activeInterview,
    merchant_id: seed.demoMerchant,
    send_email: true,
  };
  const headers = { ...asService, "idempotency-key": crypto.randomUUID() };
  const first = await postRegister(body, headers);
  assert.equal(first.status, 200);
  assert.match(first.body[0].interview_url, /interview_token=eyJ/);
  assert.equal((await postRegister(body, headers)).status, 200);
  await drainOutbox(sql, emails);

  const columns = await sql`
    select c.table_schema, c.table_name, c.column_name
    from information_schema.columns c
    join information_schema.tables t using (table_schema, table_name)
    where t.table_type = 'BASE TABLE'
      and c.table_schema not in ('pg_catalog', 'information_schema')
      and c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY')`;
  assert.ok(columns.length > 10, "the scan sees the tables");
  const found: string[] = [];
  for (const { table_schema, table_name, column_name } of columns) {
    const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
    const [{ count }] = await sql.unsafe(
      `select count(*)::int from ${ident(table_schema)}.${ident(table_name)}
       where ${ident(column_name)}::text ~ $1`,
      [TOKEN_SHAPE],
    );
    if (count > 0) found.push(`${table_schema}.${table_name}.${column_name} (${count} rows)`);
  }
  assert.deepEqual(found, [], "token-shaped values at rest");
  await inbox.clear();
});

Deno.test({
  name: "close the database connection (at rest)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
