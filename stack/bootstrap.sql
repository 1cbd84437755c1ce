-- What a Supabase project's database has before the first migration and a vanilla PostgreSQL
-- lacks: the API roles with the platform's settings, a non-superuser owner standing in for the
-- platform's `postgres` role, the `auth` schema as Supabase Auth's migrations leave it, the
-- `extensions` schema, and the platform's default privileges on `public` as they are for new
-- projects (no Data API access to new objects). Applied by the local stack, as a superuser, only
-- to a database that has no `auth` schema; the migrations and the seed then run as the owner.
-- Sources: supabase/postgres (migrations/db/init-scripts and migrations/db/migrations),
-- supabase/auth (migrations), supabase/cli (the revoke run when `auto_expose_new_tables` is off).
--
-- Roles are cluster-wide and other stacks bootstrap their own databases on the same server at
-- the same time: every role change is made only when missing, and retried when another session
-- made it concurrently. Settings that could differ between stacks are set per database.

create function pg_temp.ensure(p_done text, p_change text) returns void
language plpgsql
as $$
declare
  v_done boolean;
begin
  for attempt in 1..10 loop
    execute p_done into v_done;
    if v_done then
      return;
    end if;
    begin
      execute p_change;
      return;
    exception
      -- Another session created or altered the same role at the same time: look again.
      when unique_violation or duplicate_object or internal_error then
        perform pg_sleep(0.02 * attempt);
    end;
  end loop;
  raise exception 'bootstrap: could not apply "%" (concurrent changes kept winning)', p_change;
end
$$;

-- The API roles as the platform has them today: created noinherit, switched to inherit in 2023
-- (supabase/postgres 20230529180330_alter_api_roles_for_inherit); service_role bypasses RLS.
select pg_temp.ensure(
  $q$select exists (select 1 from pg_roles where rolname = 'anon')$q$,
  'create role anon nologin inherit');
select pg_temp.ensure(
  $q$select exists (select 1 from pg_roles where rolname = 'authenticated')$q$,
  'create role authenticated nologin inherit');
select pg_temp.ensure(
  $q$select exists (select 1 from pg_roles where rolname = 'service_role')$q$,
  'create role service_role nologin inherit bypassrls');
select pg_temp.ensure(
  $q$select exists (select 1 from pg_roles where rolname = 'authenticator')$q$,
  $q$create role authenticator login noinherit password 'postgres'$q$);
select pg_temp.ensure(
  $q$select rolinherit and not rolbypassrls and not rolcanlogin and not rolsuper
     from pg_roles where rolname = 'anon'$q$,
  'alter role anon nologin inherit nobypassrls');
select pg_temp.ensure(
  $q$select rolinherit and not rolbypassrls and not rolcanlogin and not rolsuper
     from pg_roles where rolname = 'authenticated'$q$,
  'alter role authenticated nologin inherit nobypassrls');
select pg_temp.ensure(
  $q$select rolinherit and rolbypassrls and not rolcanlogin and not rolsuper
     from pg_roles where rolname = 'service_role'$q$,
  'alter role service_role nologin inherit bypassrls');
select pg_temp.ensure(
  $q$select rolcanlogin and not rolinherit and not rolbypassrls and not rolsuper
     from pg_roles where rolname = 'authenticator'$q$,
  'alter role authenticator login noinherit nobypassrls');
select pg_temp.ensure(
  $q$select rolpassword is not null from pg_authid where rolname = 'authenticator'$q$,
  $q$alter role authenticator password 'postgres'$q$);
select pg_temp.ensure(
  format($q$select pg_has_role('authenticator', %L, 'member')$q$, r), format('grant %I to authenticator', r))
from unnest(array['anon', 'authenticated', 'service_role']) as r;

-- Statement timeouts of the API roles, as the platform sets them (initial schema: anon 3 s,
-- authenticated 8 s; 20221028101028: authenticator 8 s; 20231130133139: authenticator lock
-- timeout 8 s). anon's and authenticated's are the same everywhere, so they are set on the role;
-- authenticator's are set for this database only, so that stacks running older code on the same
-- server keep theirs (a per-database setting wins over the role's).
select pg_temp.ensure(
  $q$select coalesce('statement_timeout=3s' = any (rolconfig), false)
     from pg_roles where rolname = 'anon'$q$,
  $q$alter role anon set statement_timeout = '3s'$q$);
select pg_temp.ensure(
  $q$select coalesce('statement_timeout=8s' = any (rolconfig), false)
     from pg_roles where rolname = 'authenticated'$q$,
  $q$alter role authenticated set statement_timeout = '8s'$q$);
do $$
begin
  execute format($q$alter role authenticator in database %I set statement_timeout = '8s'$q$,
    current_database());
  execute format($q$alter role authenticator in database %I set lock_timeout = '8s'$q$,
    current_database());
end
$$;

-- The platform's `postgres` role, which applies migrations and seeds: not a superuser, but
-- createdb, createrole and bypassrls (supabase/postgres 10000000000000_demote-postgres), and a
-- member of the API roles (20230201083204_grant_auth_roles_to_postgres). The shared server's own
-- `postgres` is its superuser and serves other stacks, so the stack uses `stack_postgres`.
-- Left out on purpose: replication and the predefined pg_* roles, which reach beyond this
-- database on a shared server.
select pg_temp.ensure(
  $q$select exists (select 1 from pg_roles where rolname = 'stack_postgres')$q$,
  $q$create role stack_postgres login password 'postgres' nosuperuser createdb createrole
    bypassrls inherit$q$);
select pg_temp.ensure(
  $q$select rolcanlogin and not rolsuper and rolcreatedb and rolcreaterole and rolbypassrls
     and rolinherit from pg_roles where rolname = 'stack_postgres'$q$,
  'alter role stack_postgres login nosuperuser createdb createrole bypassrls inherit');
select pg_temp.ensure(
  format($q$select pg_has_role('stack_postgres', %L, 'member')$q$, r),
  format('grant %I to stack_postgres', r))
from unnest(array['anon', 'authenticated', 'service_role']) as r;

-- The database belongs to the owner, as the project's database belongs to `postgres`; on
-- PostgreSQL 15 and later that makes it the owner of `public` too.
do $$
begin
  execute format('alter database %I owner to stack_postgres', current_database());
end
$$;
grant usage on schema public to anon, authenticated, service_role;

create schema if not exists extensions;
grant all on schema extensions to stack_postgres;
grant usage on schema extensions to anon, authenticated, service_role;
create extension if not exists pgcrypto with schema extensions;

-- Default privileges on `public` as a new project has them: the initial schema grants everything
-- to the API roles, then the project's creation revokes the Data API privileges (the SQL the CLI
-- runs when `auto_expose_new_tables` is off, which is what the platform does since 30 October
-- 2026). What remains (truncate, references, trigger on tables; update on sequences) is what the
-- platform leaves too; the grants migration revokes it, and the catalog test checks that.
alter default privileges for role stack_postgres in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role stack_postgres in schema public
  grant all on sequences to anon, authenticated, service_role;
alter default privileges for role stack_postgres in schema public
  grant all on functions to anon, authenticated, service_role;
alter default privileges for role stack_postgres in schema public
  revoke select, insert, update, delete on tables from anon, authenticated, service_role;
alter default privileges for role stack_postgres in schema public
  revoke usage, select on sequences from anon, authenticated, service_role;
alter default privileges for role stack_postgres in schema public
  revoke execute on functions from anon, authenticated, service_role;

-- The `auth` schema, owned by Supabase Auth's role as on the platform. The owner gets what the
-- platform gives `postgres` there: usage (not create) on the schema, all privileges on the tables
-- (select with grant option, from Auth's 20240612123726_enable_rls_update_grants) and execute on
-- the helpers; the API roles get usage on the schema only.
select pg_temp.ensure(
  $q$select exists (select 1 from pg_roles where rolname = 'supabase_auth_admin')$q$,
  'create role supabase_auth_admin nologin noinherit nocreaterole');
create schema auth authorization supabase_auth_admin;
grant usage on schema auth to stack_postgres, anon, authenticated, service_role;

set local role supabase_auth_admin;

-- auth.users with every column Supabase Auth's migrations create, with their types, defaults
-- and constraints (00_init_auth_schema through 20240214120130_add_is_anonymous_column).
create table auth.users (
  instance_id uuid,
  id uuid not null unique,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz default null,
  phone_change text default '',
  phone_change_token varchar(255) default '',
  phone_change_sent_at timestamptz default null,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) default '',
  email_change_confirm_status smallint default 0
    check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
  banned_until timestamptz,
  reauthentication_token varchar(255) default '',
  reauthentication_sent_at timestamptz default null,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false,
  constraint users_pkey primary key (id)
);
create index users_instance_id_email_idx on auth.users (instance_id, lower(email));
create index users_instance_id_idx on auth.users (instance_id);
create unique index users_email_partial_key on auth.users (email) where (is_sso_user = false);
create index users_is_anonymous_idx on auth.users (is_anonymous);
create unique index confirmation_token_idx on auth.users (confirmation_token)
  where confirmation_token !~ '^[0-9 ]*$';
create unique index recovery_token_idx on auth.users (recovery_token)
  where recovery_token !~ '^[0-9 ]*$';
create unique index email_change_token_current_idx on auth.users (email_change_token_current)
  where email_change_token_current !~ '^[0-9 ]*$';
create unique index email_change_token_new_idx on auth.users (email_change_token_new)
  where email_change_token_new !~ '^[0-9 ]*$';
create unique index reauthentication_token_idx on auth.users (reauthentication_token)
  where reauthentication_token !~ '^[0-9 ]*$';
alter table auth.users enable row level security;

-- auth.identities as Auth's migrations leave it (20210909172000 through 20231117164230): an email
-- user signs in through their `email` identity.
create table auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid not null default gen_random_uuid() primary key,
  constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
create index identities_user_id_idx on auth.identities (user_id);
create index identities_email_idx on auth.identities (email text_pattern_ops);
alter table auth.identities enable row level security;

-- PostgREST publishes the verified JWT claims in `request.jwt.claims`; Supabase's helpers read them.
create function auth.jwt() returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

create function auth.uid() returns uuid
language sql stable
set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create function auth.role() returns text
language sql stable
set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create function auth.email() returns text
language sql stable
set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

reset role;

grant all on all tables in schema auth to stack_postgres;
grant select on all tables in schema auth to stack_postgres with grant option;
grant execute on all functions in schema auth to stack_postgres;
grant execute on function auth.jwt(), auth.uid(), auth.role(), auth.email()
  to anon, authenticated, service_role;
