// The database against the design's access matrix (tests/support/catalog.ts), and proof that the
// check catches what once broke every endpoint on a real project: a privilege the product needs
// that the migrations do not grant.
import assert from "node:assert/strict";
import postgres from "postgres";
import { migrate } from "../../stack/migrate.ts";
import { catalogProblems } from "../support/catalog.ts";
import { database, info, seed } from "../support/stack.ts";

Deno.test("the catalog matches the access matrix: RLS everywhere, nothing to PUBLIC, anon bare", async () => {
  const sql = database();
  try {
    const problems = await catalogProblems(sql);
    assert.deepEqual(problems, [], `the database differs from the design:\n${problems.join("\n")}`);
  } finally {
    await sql.end();
  }
});

Deno.test("the stack's roles are the platform's: timeouts, bypassrls, a non-superuser owner", async () => {
  const sql = database();
  try {
    const roles = await sql<
      { rolname: string; rolsuper: boolean; rolbypassrls: boolean; config: string[] }[]
    >`
      select r.rolname, r.rolsuper, r.rolbypassrls,
        coalesce(d.setconfig, '{}') || coalesce(r.rolconfig, '{}') as config
      from pg_roles r
      left join pg_db_role_setting d on d.setrole = r.oid
        and d.setdatabase = (select oid from pg_database where datname = current_database())
      where r.rolname in ('anon', 'authenticated', 'service_role', 'authenticator')
      order by 1`;
    const byName = Object.fromEntries(roles.map((role) => [role.rolname, role]));
    assert.ok(byName.anon.config.includes("statement_timeout=3s"));
    assert.ok(byName.authenticated.config.includes("statement_timeout=8s"));
    assert.ok(byName.authenticator.config.includes("statement_timeout=8s"));
    assert.ok(byName.authenticator.config.includes("lock_timeout=8s"));
    assert.equal(byName.service_role.rolbypassrls, true);
    assert.equal(byName.anon.rolbypassrls || byName.authenticated.rolbypassrls, false);

    // Everything in `public` was created by the owner, which is not a superuser.
    const owners = await sql<{ owner: string; superuser: boolean }[]>`
      select distinct r.rolname as owner, r.rolsuper as superuser
      from pg_class c join pg_roles r on r.oid = c.relowner
      where c.relnamespace = 'public'::regnamespace
      union
      select distinct r.rolname, r.rolsuper
      from pg_proc p join pg_roles r on r.oid = p.proowner
      where p.pronamespace = 'public'::regnamespace`;
    assert.deepEqual([...owners], [{ owner: "stack_postgres", superuser: false }]);
  } finally {
    await sql.end();
  }
});

Deno.test("the seeded users are as Supabase Auth writes them", async () => {
  const sql = database();
  try {
    const users = await sql`
      select u.instance_id, u.aud, u.role, u.email_confirmed_at is not null as confirmed,
        u.encrypted_password like '$2_$10$%' as bcrypt, u.created_at is not null as created,
        u.updated_at is not null as updated, u.confirmation_token, u.recovery_token,
        u.email_change_token_new, u.email_change, u.email_change_token_current, u.phone_change,
        u.phone_change_token, u.reauthentication_token, u.is_sso_user, u.is_anonymous,
        u.raw_app_meta_data ->> 'provider' as provider,
        (select count(*)::int from auth.identities i
          where i.user_id = u.id and i.provider = 'email' and i.provider_id = u.id::text
            and i.email = lower(u.email)) as identities
      from auth.users u where u.id = ${seed.users.owner.id}`;
    assert.deepEqual({ ...users[0] }, {
      instance_id: "00000000-0000-0000-0000-000000000000",
      aud: "authenticated",
      role: "authenticated",
      confirmed: true,
      bcrypt: true,
      created: true,
      updated: true,
      confirmation_token: "",
      recovery_token: "",
      email_change_token_new: "",
      email_change: "",
      email_change_token_current: "",
      phone_change: "",
      phone_change_token: "",
      reauthentication_token: "",
      is_sso_user: false,
      is_anonymous: false,
      provider: "email",
      identities: 1,
    });
  } finally {
    await sql.end();
  }
});

Deno.test("a grant the product needs, missing from the migrations, fails the check by name", async () => {
  const name = `jm_catalog_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(info.DB_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(info.DB_URL);
  url.pathname = `/${name}`;
  const scratch = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await migrate(url.toString());
    assert.deepEqual(await catalogProblems(scratch), []);

    // What the stack used to hide: the migrations forget a grant, and every call fails at run time.
    await scratch.unsafe(`
      revoke execute on function public.register_interview_users from service_role;
      revoke select on public.merchant from authenticated`);

    const problems = await catalogProblems(scratch);
    assert.deepEqual(problems, [
      "authenticated SELECT on public.merchant: in the access matrix, but not granted",
      "function public.register_interview_users: service_role may not execute it, but the " +
      "matrix grants it",
    ]);

    // The same holes as the endpoint and the Data API meet them.
    await assert.rejects(
      scratch.begin(async (tx) => {
        await tx`set local role service_role`;
        await tx`select public.register_interview_users(null, ${seed.demoMerchant}::uuid,
          ${seed.activeInterview}::uuid, false, '[]'::jsonb, 3600)`;
      }),
      /permission denied for function register_interview_users/,
    );
    await assert.rejects(
      scratch.begin(async (tx) => {
        const claims = JSON.stringify({ sub: seed.users.owner.id, role: "authenticated" });
        await tx`select set_config('request.jwt.claims', ${claims}, true)`;
        await tx`set local role authenticated`;
        await tx`select id from public.merchant`;
      }),
      /permission denied for table merchant/,
    );

    // And the other direction: a privilege the design does not name.
    await scratch.unsafe(`grant select on public.idempotency_request to anon`);
    const widened = await catalogProblems(scratch);
    assert.ok(
      widened.includes(
        "anon SELECT on public.idempotency_request: granted, but the access matrix does not name it",
      ),
      widened.join("\n"),
    );
    assert.ok(
      widened.includes(
        "anon holds SELECT on public.idempotency_request, which the design does not name",
      ),
      widened.join("\n"),
    );
  } finally {
    await scratch.end();
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
});
