// The Data API access matrix as the design states it (the same as
// supabase/migrations/20261127095000_data_api_grants.sql), and a walk over pg_catalog that lists
// every difference from it, naming the object: a table in `public` without RLS, a privilege an
// API role has and the matrix does not name (or lacks and the matrix grants), a function
// executable by PUBLIC, a privilege to `anon` anywhere outside the short list below.
import type postgres from "postgres";

export const API_ROLES = ["anon", "authenticated", "service_role"] as const;
type Role = typeof API_ROLES[number];

interface TableGrants {
  /** Table-level privileges. */
  table?: string[];
  /** Column-level privileges: privilege -> columns. */
  columns?: Record<string, string[]>;
}

/** Per table in `public`, per role: what the Data API may do. A table absent here: nothing. */
export const TABLES: Record<string, Partial<Record<Role, TableGrants>>> = {
  merchant: {
    authenticated: {
      table: ["SELECT"],
      columns: {
        UPDATE: [
          "name",
          "interview_frontend_domain",
          "email_sender_name",
          "email_reply_to",
          "candidate_emails_enabled",
          "brand_color",
          "logo_url",
          "reminder_delays",
        ],
      },
    },
  },
  profile: { authenticated: { table: ["SELECT"], columns: { UPDATE: ["name"] } } },
  interview_def_set: {
    authenticated: {
      table: ["SELECT", "DELETE"],
      columns: {
        INSERT: [
          "merchant_id",
          "name",
          "status",
          "mojito_language_code",
          "interview_available_till",
          "attempts_allowed",
          "reminder_delays",
        ],
        UPDATE: [
          "name",
          "status",
          "mojito_language_code",
          "interview_available_till",
          "attempts_allowed",
          "reminder_delays",
        ],
      },
    },
  },
  position_def_set: {
    authenticated: {
      table: ["SELECT", "DELETE"],
      columns: { INSERT: ["merchant_id", "name", "status"], UPDATE: ["name", "status"] },
    },
  },
  position_interview: {
    authenticated: {
      table: ["SELECT", "DELETE"],
      columns: { INSERT: ["position_def_set_id", "interview_def_set_id", "merchant_id", "stage"] },
    },
  },
  profile_interview: {
    authenticated: {
      table: ["SELECT"],
      columns: { UPDATE: ["name", "external_id", "status"] },
    },
  },
  interview_token: { authenticated: { table: ["SELECT"] } },
  email_outbox: { authenticated: { table: ["SELECT"] } },
  interview_result: { authenticated: { table: ["SELECT"] } },
  email_suppression: { authenticated: { table: ["SELECT", "DELETE"] } },
  // Touched only by the SQL functions.
  idempotency_request: {},
  merchant_request_counter: {},
  invitation_draw: {},
  email_send_batch: {},
  // Merchant API keys: owners and admins read them (never the digest) and revoke them.
  api_key: {
    authenticated: {
      columns: {
        SELECT: [
          "id",
          "merchant_id",
          "name",
          "prefix",
          "is_test",
          "scopes",
          "sub_merchants",
          "requests_per_minute",
          "expires_at",
          "created_by",
          "created_at",
          "last_used_at",
          "revoked_at",
        ],
        UPDATE: ["revoked_at"],
      },
    },
  },
  email_event: {},
  greenhouse_callback: {},
};

/**
 * Per function in `public` (by name: the migration grants by name too, so that a changed
 * signature keeps its grant), the API roles that may execute it.
 */
export const FUNCTIONS: Record<string, Role[]> = {
  // The endpoints' SQL functions.
  register_interview_users: ["service_role"],
  finish_idempotent_request: ["service_role"],
  claim_invitation_emails: ["service_role"],
  freeze_invitation_batches: ["service_role"],
  record_invitation_batch: ["service_role"],
  start_interview: ["service_role"],
  revoke_interview_tokens: ["service_role"],
  record_email_event: ["service_role"],
  // Staff read their enrolments' email status (security invoker: under their policies).
  enrolment_email_status: ["authenticated"],
  // The owner's alone: a trigger, helpers called inside definer functions, scheduled jobs.
  touch_updated_at: [],
  admit_registration: [],
  count_request: [],
  resolve_registration_merchant: [],
  replay_idempotent_request: [],
  purge_request_admission: [],
  schedule_email_dispatch: [],
  // Merchant API keys: managed by owners and admins through the Data API; resolved inside
  // register_interview_users.
  create_api_key: ["authenticated"],
  list_api_keys: ["authenticated"],
  revoke_api_key: ["authenticated"],
  resolve_api_key: [],
  api_key_rate: [],
  api_key_revoke_once: [],
  // Greenhouse's Assessment Partner API: its endpoint's key check and reads.
  greenhouse_admit: ["service_role"],
  greenhouse_list_tests: ["service_role"],
  greenhouse_test_status: ["service_role"],
  greenhouse_record_callback: ["service_role"],
  claim_greenhouse_callbacks: ["service_role"],
  record_greenhouse_callback: ["service_role"],
  greenhouse_callback_due: [],
};

/** Everything `anon` holds, as the platform gives it: schema usage and the auth helpers. */
export const ANON_PRIVILEGES = [
  "USAGE on schema auth",
  "USAGE on schema extensions",
  "USAGE on schema public",
  "EXECUTE on function auth.email()",
  "EXECUTE on function auth.jwt()",
  "EXECUTE on function auth.role()",
  "EXECUTE on function auth.uid()",
];

/** Schemas of the server and its extensions, outside the project's reach. */
const SYSTEM_SCHEMAS = ["pg_catalog", "information_schema", "pg_toast"];

function expectedTablePrivileges(): Set<string> {
  const out = new Set<string>();
  for (const [table, roles] of Object.entries(TABLES)) {
    for (const [role, grants] of Object.entries(roles)) {
      for (const privilege of grants.table ?? []) {
        out.add(`${role} ${privilege} on public.${table}`);
      }
      for (const [privilege, columns] of Object.entries(grants.columns ?? {})) {
        for (const column of columns) {
          out.add(`${role} ${privilege} (${column}) on public.${table}`);
        }
      }
    }
  }
  return out;
}

/** Every difference between the database and the design, one readable line each. */
export async function catalogProblems(sql: postgres.Sql): Promise<string[]> {
  const problems: string[] = [];

  // Row level security on every table in `public`.
  const withoutRls = await sql<{ name: string }[]>`
    select c.relname as name from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
      and not c.relrowsecurity
    order by 1`;
  for (const { name } of withoutRls) {
    problems.push(`table public.${name} has row level security disabled`);
  }

  // Tables, views and sequences in `public`, and their columns: what the API roles hold.
  const relations = await sql<{ name: string; kind: string }[]>`
    select c.relname as name, c.relkind::text as kind from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
    order by 1`;
  for (const { name, kind } of relations) {
    if (kind !== "S" && !(name in TABLES)) {
      problems.push(`public.${name} is not in the access matrix (tests/support/catalog.ts)`);
    }
  }
  const held = await sql<{ grant: string }[]>`
    select format('%s %s on public.%s', r.rolname, a.privilege_type, c.relname) as grant
    from pg_class c, aclexplode(c.relacl) a, pg_roles r
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
      and r.oid = a.grantee and r.rolname = any (${API_ROLES as unknown as string[]})
    union all
    select format('%s %s (%s) on public.%s', r.rolname, a.privilege_type, att.attname, c.relname)
    from pg_class c
    join pg_attribute att on att.attrelid = c.oid and att.attnum > 0 and not att.attisdropped,
      aclexplode(att.attacl) a, pg_roles r
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
      and r.oid = a.grantee and r.rolname = any (${API_ROLES as unknown as string[]})
    union all
    select format('PUBLIC %s on public.%s', a.privilege_type, c.relname)
    from pg_class c, aclexplode(c.relacl) a
    where c.relnamespace = 'public'::regnamespace and a.grantee = 0`;
  const expected = expectedTablePrivileges();
  const actual = new Set(held.map((row) => row.grant));
  for (const grant of [...actual].sort()) {
    if (!expected.has(grant)) {
      problems.push(`${grant}: granted, but the access matrix does not name it`);
    }
  }
  for (const grant of [...expected].sort()) {
    if (!actual.has(grant)) problems.push(`${grant}: in the access matrix, but not granted`);
  }

  // Functions in `public`: never PUBLIC; the API roles exactly as the matrix says.
  const functions = await sql<{ signature: string; name: string; grantees: string[] }[]>`
    select format('%s(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
      as signature,
      p.proname as name,
      coalesce(array_agg(case when a.grantee = 0 then 'PUBLIC' else r.rolname end)
        filter (where a.privilege_type = 'EXECUTE' and a.grantee <> p.proowner), '{}') as grantees
    from pg_proc p
    cross join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
    left join pg_roles r on r.oid = a.grantee
    where p.pronamespace = 'public'::regnamespace
    group by p.oid
    order by 1`;
  const seen = new Set<string>();
  for (const { signature, name, grantees } of functions) {
    seen.add(name);
    if (grantees.includes("PUBLIC")) {
      problems.push(`function public.${signature} is executable by PUBLIC (so by anon)`);
    }
    const allowed = FUNCTIONS[name];
    if (!allowed) {
      problems.push(`function public.${signature} is not in the access matrix`);
      continue;
    }
    for (const role of API_ROLES) {
      const has = grantees.includes(role);
      if (has && !allowed.includes(role)) {
        problems.push(`function public.${name}: ${role} may execute it, the matrix says not`);
      }
      if (!has && allowed.includes(role)) {
        problems.push(
          `function public.${name}: ${role} may not execute it, but the matrix grants it`,
        );
      }
    }
  }
  for (const name of Object.keys(FUNCTIONS)) {
    if (!seen.has(name)) {
      problems.push(`function public.${name} is in the matrix but missing`);
    }
  }

  // anon, everywhere: only what the platform gives it.
  const anon = await sql<{ grant: string }[]>`
    select format('%s on schema %s', a.privilege_type, n.nspname) as grant
    from pg_namespace n, aclexplode(n.nspacl) a
    where a.grantee = 'anon'::regrole and n.nspname <> all (${SYSTEM_SCHEMAS})
    union all
    select format('%s on %s.%s', a.privilege_type, n.nspname, c.relname)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace, aclexplode(c.relacl) a
    where a.grantee = 'anon'::regrole and n.nspname <> all (${SYSTEM_SCHEMAS})
    union all
    select format('%s (%s) on %s.%s', a.privilege_type, att.attname, n.nspname, c.relname)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute att on att.attrelid = c.oid and att.attnum > 0, aclexplode(att.attacl) a
    where a.grantee = 'anon'::regrole and n.nspname <> all (${SYSTEM_SCHEMAS})
    union all
    select format('%s on function %s.%s(%s)', a.privilege_type, n.nspname, p.proname,
      pg_get_function_identity_arguments(p.oid))
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace, aclexplode(p.proacl) a
    where a.grantee = 'anon'::regrole and n.nspname <> all (${SYSTEM_SCHEMAS})
    union all
    select format('member of %s', m.roleid::regrole::text)
    from pg_auth_members m where m.member = 'anon'::regrole`;
  for (const { grant } of anon) {
    if (!ANON_PRIVILEGES.includes(grant)) {
      problems.push(`anon holds ${grant}, which the design does not name`);
    }
  }

  return problems;
}
