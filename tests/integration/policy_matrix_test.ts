// The access matrix, read from the database itself: every table in `public`, every API role. A new
// table, a grant nobody decided on, a table without the policies its grants need, a policy that
// calls a function per row, or a policy filter without an index fails here. Then every table is
// read over the data API as every seeded caller, and no row of another merchant may come back.
import assert from "node:assert/strict";
import { database, info, keys, seed, type SeedUser, tokenFor } from "../support/stack.ts";

const sql = database();
const ROLES = ["anon", "authenticated", "service_role"] as const;
const ALL = "select,insert,update,delete,truncate,references,trigger";

/**
 * Table privileges, then column-level insert and update privileges where the table-level one is
 * withheld. service_role has none (it reaches data only through the endpoints' definer
 * functions, 20261127095000_data_api_grants.sql); anon has none.
 */
const MATRIX: Record<string, { authenticated: string; columns?: string }> = {
  // Selected column by column (never the digest), which this table does not list.
  api_key: { authenticated: "", columns: "update(revoked_at)" },
  email_outbox: { authenticated: "select" },
  email_send_batch: { authenticated: "" },
  email_event: { authenticated: "" },
  email_suppression: { authenticated: "select,delete" },
  greenhouse_callback: { authenticated: "" },
  idempotency_request: { authenticated: "" },
  interview_def_set: {
    authenticated: "select,delete",
    columns: "insert(merchant_id,name,status,mojito_language_code,interview_available_till," +
      "attempts_allowed,reminder_delays) update(name,status,mojito_language_code," +
      "interview_available_till,attempts_allowed,reminder_delays)",
  },
  interview_result: { authenticated: "select" },
  invitation_draw: { authenticated: "" },
  interview_token: { authenticated: "select" },
  merchant: {
    authenticated: "select",
    columns: "update(name,interview_frontend_domain,email_sender_name,email_reply_to," +
      "candidate_emails_enabled,brand_color,logo_url,reminder_delays)",
  },
  merchant_request_counter: { authenticated: "" },
  position_def_set: {
    authenticated: "select,delete",
    columns: "insert(merchant_id,name,status) update(name,status)",
  },
  position_interview: {
    authenticated: "select,delete",
    columns: "insert(position_def_set_id,interview_def_set_id,merchant_id,stage)",
  },
  profile: { authenticated: "select", columns: "update(name)" },
  profile_interview: { authenticated: "select", columns: "update(name,external_id,status)" },
};

/** Functions a policy may call, each only as an uncorrelated `(select f())`: once a statement. */
const POLICY_FUNCTIONS = [
  "auth.uid()",
  "private.visible_merchant_ids()",
  "private.manageable_merchant_ids()",
  "private.owned_merchant_ids()",
];

interface TableRow {
  name: string;
  rls: boolean;
}

const tables = async () =>
  await sql<TableRow[]>`
    select c.relname as name, c.relrowsecurity as rls
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
    order by 1`;

async function privileges(table: string, role: string) {
  const [row] = await sql<{ tbl: string; cols: string }[]>`
    select
      array_to_string(array(
        select p from unnest(string_to_array(${ALL}, ',')) p
        where has_table_privilege(${role}, c.oid, p)), ',') as tbl,
      array_to_string(array(
        select p || '(' || array_to_string(array(
            select a.attname from pg_attribute a
            where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
              and has_column_privilege(${role}, c.oid, a.attnum, p)
            order by a.attnum), ',') || ')'
        from unnest(array['insert', 'update']) p
        where not has_table_privilege(${role}, c.oid, p)
          and has_any_column_privilege(${role}, c.oid, p)), ' ') as cols
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relname = ${table}`;
  return row;
}

Deno.test("every table in public: RLS on, and the privileges of each API role as decided", async () => {
  const found = await tables();
  assert.deepEqual(found.map((t) => t.name), Object.keys(MATRIX).sort(), "tables in public");
  for (const table of found) {
    assert.ok(table.rls, `${table.name}: row level security is off`);
    for (const role of ROLES) {
      const actual = await privileges(table.name, role);
      const expected = role === "authenticated"
        ? { tbl: MATRIX[table.name].authenticated, cols: MATRIX[table.name].columns ?? "" }
        : { tbl: "", cols: "" };
      assert.deepEqual(actual, expected, `${table.name}, ${role}`);
    }
  }
});

Deno.test("every privilege of an API role has a policy; tables without policies are service-only", async () => {
  const policies = await sql<{ table: string; cmd: string; roles: string[] }[]>`
    select tablename as table, cmd, roles::text[] as roles
    from pg_policies where schemaname = 'public'`;
  for (const table of await tables()) {
    for (const role of ["anon", "authenticated"]) {
      const { tbl, cols } = await privileges(table.name, role);
      const commands = new Set([...tbl.split(","), ...cols.split(" ").map((c) => c.split("(")[0])]
        .filter((c) => ["select", "insert", "update", "delete"].includes(c)));
      for (const command of commands) {
        const covered = policies.some((p) =>
          p.table === table.name && (p.cmd === "ALL" || p.cmd.toLowerCase() === command) &&
          (p.roles.includes(role) || p.roles.includes("public"))
        );
        assert.ok(covered, `${table.name}: ${role} may ${command} but no policy says which rows`);
      }
    }
  }
});

Deno.test("policies are set-based: functions only as (select f()), filters indexed", async () => {
  const policies = await sql<{ table: string; name: string; expr: string }[]>`
    select tablename as table, policyname as name,
      concat_ws(' and ', qual, with_check) as expr
    from pg_policies where schemaname = 'public'`;
  assert.ok(policies.length > 0);
  const calls = await sql<{ fn: string }[]>`
    select distinct p.oid::regprocedure::text as fn
    from pg_policy pol
    join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = pol.oid
      and d.refclassid = 'pg_proc'::regclass
    join pg_proc p on p.oid = d.refobjid`;
  for (const { fn } of calls) {
    assert.ok(POLICY_FUNCTIONS.includes(fn), `a policy calls ${fn}`);
  }
  const indexed = await sql<{ table: string; column: string }[]>`
    select c.relname as table, a.attname as column
    from pg_index i
    join pg_class c on c.oid = i.indrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
    where n.nspname = 'public'`;
  const isIndexed = (table: string, column: string) =>
    indexed.some((i) => i.table === table && i.column === column);

  for (const policy of policies) {
    const where = `${policy.table}.${policy.name}`;
    // Every function call (lower-case name followed by a parenthesis; SQL keywords are upper
    // case in the deparsed text) must be the whole of a sub-select with no arguments.
    for (const call of policy.expr.matchAll(/(?:[a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*\(/g)) {
      const before = policy.expr.slice(0, call.index);
      const after = policy.expr.slice(call.index! + call[0].length);
      assert.match(before, /\(\s*SELECT\s+$/, `${where}: ${call[0]} is called per row`);
      assert.match(after, /^\)\s+AS\s+\w+\)/, `${where}: ${call[0]} takes arguments`);
    }
    // Every column compared with a sub-select leads an index of its table.
    const aliases = new Map<string, string>();
    for (const m of policy.expr.matchAll(/FROM\s+(\w+)\s+(\w+)/g)) aliases.set(m[2], m[1]);
    for (const m of policy.expr.matchAll(/(?:(\w+)\.)?(\w+)\s+(?:IN|=)\s+\(/g)) {
      const table = m[1] ? aliases.get(m[1]) ?? m[1] : policy.table;
      assert.ok(isIndexed(table, m[2]), `${where}: ${table}.${m[2]} has no index`);
    }
  }
});

Deno.test("the data API, every table as every caller: another merchant's rows never come back", async (t) => {
  const visible: Record<SeedUser, string[] | "all"> = {
    admin: "all",
    owner: [seed.demoMerchant, seed.subMerchant],
    recruiter: [seed.demoMerchant, seed.subMerchant],
    selection: [seed.demoMerchant, seed.subMerchant],
    subOwner: [seed.subMerchant],
    otherOwner: [seed.otherMerchant],
    candidate: [],
  };
  const names = (await tables()).map((table) => table.name);
  await t.step("anon reads nothing", async () => {
    for (const table of names) {
      const res = await fetch(`${info.REST_URL}/${table}?select=*&limit=5`, {
        headers: { apikey: keys.anonKey, authorization: `Bearer ${keys.anonKey}` },
      });
      await res.body?.cancel();
      assert.ok([401, 403].includes(res.status), `anon reads ${table}: ${res.status}`);
    }
  });
  for (const user of Object.keys(visible) as SeedUser[]) {
    await t.step(user, async () => {
      const token = await tokenFor(user);
      const me = seed.users[user].id;
      const own = (await sql`select id from public.profile_interview where profile_id = ${me}`)
        .map((row) => row.id);
      for (const table of names) {
        const res = await fetch(`${info.REST_URL}/${table}?select=*&limit=1000`, {
          headers: { apikey: keys.anonKey, authorization: `Bearer ${token}` },
        });
        const body = await res.json();
        if (res.status !== 200) {
          assert.ok([401, 403].includes(res.status), `${user} reads ${table}: ${res.status}`);
          continue;
        }
        const allowed = visible[user];
        if (allowed === "all") continue;
        for (const row of body as Record<string, string>[]) {
          const merchant = table === "merchant" ? row.id : row.merchant_id;
          const mine = (table === "profile" && row.id === me) ||
            (table === "profile_interview" && row.profile_id === me) ||
            (table === "interview_result" && own.includes(row.profile_interview_id));
          assert.ok(
            mine || allowed.includes(merchant),
            `${user} reads a row of ${table} of merchant ${merchant}`,
          );
        }
      }
    });
  }
});

Deno.test({
  name: "close the database connection (policy matrix)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
