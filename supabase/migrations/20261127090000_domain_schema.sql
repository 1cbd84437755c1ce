-- The interview platform's domain: merchants (with sub-merchants), staff and candidate profiles,
-- interview definitions, positions and candidate enrolments, with row level security on every
-- table. Which merchants a caller may see or manage is defined once, in `private` (a schema the
-- Data API does not expose), by set-returning functions that every policy and the registration
-- use. Every relation between two merchant-owned rows is a composite foreign key that includes
-- `merchant_id`, so the database itself proves both ends belong to the same merchant.

create type public.app_role as enum (
  'admin', 'merchant_owner', 'merchant', 'merchant_selection', 'candidate', 'user', 'mentor'
);
create type public.interview_status as enum (
  'draft', 'active', 'archived', 'deleted', 'preparing', 'completed'
);
create type public.enrolment_status as enum ('active', 'invited', 'deleted');

-- Helpers of policies and SQL functions, in a schema the Data API does not expose.
create schema if not exists private;
-- authenticated: the policies call the caller-bound functions below; service_role: the
-- registration calls the ones that take a user id, and inserts rows with time-ordered ids.

-- A version 7 UUID: 48 bits of Unix milliseconds, then random bits. Ids of tables that grow by
-- thousands of rows a request: new keys land at the right edge of their indexes instead of on a
-- random page of a large index (which, at a million rows, also cost a full-page image in the WAL
-- per page touched after each checkpoint). No `set` clause: a SQL function with one is never
-- inlined, and this one runs once per inserted row; every name in it is schema-qualified.
create function private.uuid_v7() returns uuid
language sql volatile
as $$
  select pg_catalog.encode(
    pg_catalog.set_bit(pg_catalog.set_bit(
      pg_catalog.overlay(pg_catalog.uuid_send(pg_catalog.gen_random_uuid()),
        pg_catalog.substr(pg_catalog.int8send(pg_catalog.int8(
          pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
            operator(pg_catalog.*) 1000)), 3),
        1, 6),
      52, 1), 53, 1),
    'hex')::pg_catalog.uuid
$$;

create table public.merchant (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  parent_merchant_id uuid references public.merchant (id) on delete restrict,
  interview_frontend_domain text
    check (interview_frontend_domain ~ '^https?://[^/?#\s]+$'),
  invitations_limit integer check (invitations_limit >= 0),
  invitations_sent integer not null default 0 check (invitations_sent >= 0),
  -- Registration requests a minute; null: the platform default (RATE_LIMIT_PER_MINUTE).
  api_requests_per_minute integer check (api_requests_per_minute > 0),
  email_sender_name text check (length(email_sender_name) <= 100),
  email_reply_to text check (email_reply_to ~ '^[^@\s]+@[^@\s]+$'),
  candidate_emails_enabled boolean not null default true,
  brand_color text check (brand_color ~ '^#[0-9a-fA-F]{6}$'),
  logo_url text check (logo_url ~ '^https://'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint merchant_not_own_parent check (parent_merchant_id <> id)
);
create index merchant_parent_merchant_id_idx on public.merchant (parent_merchant_id);

create table public.profile (
  id uuid primary key references auth.users (id) on delete cascade,
  merchant_id uuid references public.merchant (id) on delete set null,
  role public.app_role not null default 'user',
  name text check (length(name) <= 200),
  email text check (length(email) <= 320),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index profile_merchant_id_idx on public.profile (merchant_id);
create index profile_email_idx on public.profile (lower(email));

create table public.interview_def_set (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  name text not null check (length(name) between 1 and 300),
  status public.interview_status not null default 'draft',
  mojito_language_code text not null default 'en'
    check (mojito_language_code ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$'),
  interview_available_till timestamptz,
  attempts_allowed smallint not null default 1 check (attempts_allowed between 1 and 20),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Target of enrolments' composite key: an enrolment's merchant is its interview's merchant.
  constraint interview_def_set_id_merchant_key unique (id, merchant_id)
);
create index interview_def_set_merchant_id_idx on public.interview_def_set (merchant_id);

create table public.position_def_set (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  name text not null check (length(name) between 1 and 300),
  status public.interview_status not null default 'draft',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Target of composite keys: whatever names a position is of the position's merchant.
  constraint position_def_set_id_merchant_key unique (id, merchant_id)
);
create index position_def_set_merchant_id_idx on public.position_def_set (merchant_id);

-- The interview definitions a position runs, in stage order; registering through a position
-- enrols the candidate in its first stage. A position and its interviews are of one merchant.
create table public.position_interview (
  position_def_set_id uuid not null,
  interview_def_set_id uuid not null,
  merchant_id uuid not null,
  stage smallint not null check (stage >= 1),
  primary key (position_def_set_id, stage),
  unique (position_def_set_id, interview_def_set_id),
  constraint position_interview_position_fkey foreign key (position_def_set_id, merchant_id)
    references public.position_def_set (id, merchant_id) on delete cascade,
  constraint position_interview_interview_fkey foreign key (interview_def_set_id, merchant_id)
    references public.interview_def_set (id, merchant_id) on delete restrict
);
create index position_interview_interview_idx
  on public.position_interview (interview_def_set_id, merchant_id);
create index position_interview_merchant_id_idx on public.position_interview (merchant_id);

create table public.profile_interview (
  id uuid primary key default private.uuid_v7(),
  merchant_id uuid not null,
  interview_def_set_id uuid not null,
  position_def_set_id uuid,
  profile_id uuid references public.profile (id) on delete set null,
  name text check (length(name) <= 200),
  email text not null check (length(email) between 3 and 320 and email ~ '^[^@\s]+@[^@\s]+$'),
  external_id text check (length(external_id) <= 255),
  status public.enrolment_status not null default 'active',
  is_test boolean not null default false,
  mojito_language_code text not null default 'en',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- One check covers both the interview and its merchant, and keeps them consistent.
  constraint profile_interview_interview_fkey foreign key (interview_def_set_id, merchant_id)
    references public.interview_def_set (id, merchant_id) on delete cascade,
  -- The position registered through is of the same merchant; deleting it keeps the enrolment.
  constraint profile_interview_position_fkey foreign key (position_def_set_id, merchant_id)
    references public.position_def_set (id, merchant_id) on delete set null (position_def_set_id),
  -- Target of token records' composite key.
  constraint profile_interview_id_merchant_interview_key
    unique (id, merchant_id, interview_def_set_id)
);
-- One enrolment per candidate and interview: registering again updates it (the upsert's key).
create unique index profile_interview_interview_email_key
  on public.profile_interview (interview_def_set_id, lower(email));
-- A merchant's enrolments, newest first: the policies' filter, its first page and its count
-- (with profile_id, the other policy's column, the count is an index-only scan).
create index profile_interview_merchant_created_idx
  on public.profile_interview (merchant_id, created_at desc) include (profile_id);
create index profile_interview_profile_id_idx on public.profile_interview (profile_id);
create index profile_interview_position_idx on public.profile_interview (position_def_set_id);

-- Keeps updated_at honest without trusting callers to set it.
create function public.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create trigger merchant_touch before update on public.merchant
  for each row execute function public.touch_updated_at();
create trigger profile_touch before update on public.profile
  for each row execute function public.touch_updated_at();
create trigger interview_def_set_touch before update on public.interview_def_set
  for each row execute function public.touch_updated_at();
create trigger position_def_set_touch before update on public.position_def_set
  for each row execute function public.touch_updated_at();
create trigger profile_interview_touch before update on public.profile_interview
  for each row execute function public.touch_updated_at();

-- Who may act for which merchant, defined once. Security definer: they read `profile` and
-- `merchant` without going through those tables' own policies (which call them). Policies use
-- them as `merchant_id in (select private.visible_merchant_ids())`: an uncorrelated sub-select,
-- evaluated once per statement, never a function call per row.

-- The merchants `p_user` may act for with one of `p_roles`: all of them for an admin; for staff
-- their own merchant and every merchant below it (`union` stops on a cycle).
create function private.merchant_ids_for(p_user uuid, p_roles public.app_role[])
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  with recursive caller as (
    select p.role, p.merchant_id from public.profile p where p.id = p_user
  ),
  tree (id) as (
    select c.merchant_id from caller c
    where c.role <> 'admin' and c.role = any (p_roles) and c.merchant_id is not null
    union
    select m.id from public.merchant m join tree t on m.parent_merchant_id = t.id
  )
  select m.id from public.merchant m where exists (select 1 from caller c where c.role = 'admin')
  union all
  select t.id from tree t
$$;

-- See: every staff role. Manage (write interviews, positions, enrolments; register candidates):
-- owners and recruiters; merchant_selection only reviews. Own: merchant settings.
create function private.visible_merchant_ids_of(p_user uuid) returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select private.merchant_ids_for(p_user, '{merchant_owner,merchant,merchant_selection}')
$$;

create function private.manageable_merchant_ids_of(p_user uuid) returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select private.merchant_ids_for(p_user, '{merchant_owner,merchant}')
$$;

create function private.owned_merchant_ids_of(p_user uuid) returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select private.merchant_ids_for(p_user, '{merchant_owner}')
$$;

-- The same for the caller of the current statement (the JWT's subject), for policies.
create function private.visible_merchant_ids() returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select private.visible_merchant_ids_of((select auth.uid()))
$$;

create function private.manageable_merchant_ids() returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select private.manageable_merchant_ids_of((select auth.uid()))
$$;

create function private.owned_merchant_ids() returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select private.owned_merchant_ids_of((select auth.uid()))
$$;

alter table public.merchant enable row level security;
alter table public.profile enable row level security;
alter table public.interview_def_set enable row level security;
alter table public.position_def_set enable row level security;
alter table public.position_interview enable row level security;
alter table public.profile_interview enable row level security;

-- Who may use which table and function through the Data API (and which `private` helpers):
-- 20261127095000_data_api_grants.sql.

-- The data API exposes no table to anonymous callers.
-- Nothing through the API bypasses policies or creates dependencies on these tables.

-- merchant: staff read their own and sub-merchants; owners edit presentation and email settings,
-- never the invitation headroom or the hierarchy.

create policy merchant_select_staff on public.merchant for select to authenticated
  using (id in (select private.visible_merchant_ids()));
create policy merchant_update_owner on public.merchant for update to authenticated
  using (id in (select private.owned_merchant_ids()))
  with check (id in (select private.owned_merchant_ids()));

-- profile: everyone reads their own; staff read profiles of their merchants; a user may rename
-- themselves, never change their role or merchant.

create policy profile_select_self on public.profile for select to authenticated
  using (id = (select auth.uid()));
create policy profile_select_staff on public.profile for select to authenticated
  using (merchant_id in (select private.visible_merchant_ids()));
create policy profile_update_self on public.profile for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));

-- interview definitions and positions: staff read; owners and recruiters write. Ids and
-- timestamps are the database's: a client that could choose an id would learn from a conflict
-- that another merchant's row has it. A row never moves to another merchant.

create policy interview_def_set_select_staff on public.interview_def_set for select to authenticated
  using (merchant_id in (select private.visible_merchant_ids()));
create policy interview_def_set_insert_staff on public.interview_def_set for insert to authenticated
  with check (merchant_id in (select private.manageable_merchant_ids()));
create policy interview_def_set_update_staff on public.interview_def_set for update to authenticated
  using (merchant_id in (select private.manageable_merchant_ids()))
  with check (merchant_id in (select private.manageable_merchant_ids()));
create policy interview_def_set_delete_staff on public.interview_def_set for delete to authenticated
  using (merchant_id in (select private.manageable_merchant_ids()));

create policy position_def_set_select_staff on public.position_def_set for select to authenticated
  using (merchant_id in (select private.visible_merchant_ids()));
create policy position_def_set_insert_staff on public.position_def_set for insert to authenticated
  with check (merchant_id in (select private.manageable_merchant_ids()));
create policy position_def_set_update_staff on public.position_def_set for update to authenticated
  using (merchant_id in (select private.manageable_merchant_ids()))
  with check (merchant_id in (select private.manageable_merchant_ids()));
create policy position_def_set_delete_staff on public.position_def_set for delete to authenticated
  using (merchant_id in (select private.manageable_merchant_ids()));

-- Stages: both ends must be the caller's merchant's, checked here (so that a foreign or unknown
-- interview gets the same refusal) and proven by the composite keys. Stages are replaced, not
-- edited.

create policy position_interview_select_staff on public.position_interview for select
  to authenticated
  using (merchant_id in (select private.visible_merchant_ids()));
create policy position_interview_insert_staff on public.position_interview for insert
  to authenticated
  with check (
    merchant_id in (select private.manageable_merchant_ids())
    and position_def_set_id in (
      select p.id from public.position_def_set p
      where p.merchant_id in (select private.manageable_merchant_ids())
    )
    and interview_def_set_id in (
      select i.id from public.interview_def_set i
      where i.merchant_id in (select private.manageable_merchant_ids())
    )
  );
create policy position_interview_delete_staff on public.position_interview for delete
  to authenticated
  using (merchant_id in (select private.manageable_merchant_ids()));

-- enrolments: created only by the registration endpoint (service role); staff read theirs and may
-- change a candidate's name, external id and status; a candidate reads only their own.

create policy profile_interview_select_staff on public.profile_interview for select
  to authenticated
  using (merchant_id in (select private.visible_merchant_ids()));
create policy profile_interview_select_candidate on public.profile_interview for select
  to authenticated
  using (profile_id = (select auth.uid()));
create policy profile_interview_update_staff on public.profile_interview for update
  to authenticated
  using (merchant_id in (select private.manageable_merchant_ids()))
  with check (merchant_id in (select private.manageable_merchant_ids()));
