-- The interview platform's domain: merchants (with sub-merchants), staff and candidate profiles,
-- interview definitions, positions and candidate enrolments, with row level security on every
-- table. Authorisation helpers are security definer so that policies can read `profile` and
-- `merchant` without recursing through their own policies.

create type public.app_role as enum (
  'admin', 'merchant_owner', 'merchant', 'merchant_selection', 'candidate', 'user', 'mentor'
);
create type public.interview_status as enum (
  'draft', 'active', 'archived', 'deleted', 'preparing', 'completed'
);
create type public.enrolment_status as enum ('active', 'invited', 'deleted');

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
  updated_at timestamptz not null default now()
);
create index position_def_set_merchant_id_idx on public.position_def_set (merchant_id);

-- The interview definitions a position runs, in stage order; registering through a position
-- enrols the candidate in its first stage.
create table public.position_interview (
  position_def_set_id uuid not null references public.position_def_set (id) on delete cascade,
  interview_def_set_id uuid not null references public.interview_def_set (id) on delete restrict,
  stage smallint not null check (stage >= 1),
  primary key (position_def_set_id, stage),
  unique (position_def_set_id, interview_def_set_id)
);
create index position_interview_interview_idx on public.position_interview (interview_def_set_id);

create table public.profile_interview (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null,
  interview_def_set_id uuid not null,
  position_def_set_id uuid references public.position_def_set (id) on delete set null,
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
  -- Target of token records' composite key.
  constraint profile_interview_id_merchant_interview_key
    unique (id, merchant_id, interview_def_set_id)
);
-- One enrolment per candidate and interview: registering again updates it (the upsert's key).
create unique index profile_interview_interview_email_key
  on public.profile_interview (interview_def_set_id, lower(email));
create index profile_interview_merchant_id_idx on public.profile_interview (merchant_id);
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

-- Authorisation helpers read the caller's profile with definer rights, so policies on `profile`
-- itself do not recurse.
create function public.current_app_role() returns public.app_role
language sql stable security definer
set search_path = ''
as $$
  select p.role from public.profile p where p.id = (select auth.uid())
$$;

create function public.is_admin() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select coalesce(public.current_app_role() = 'admin', false)
$$;

-- True when the caller is staff of `target` or of any merchant above it.
create function public.is_staff_of(target uuid) returns boolean
language sql stable security definer
set search_path = ''
as $$
  with recursive chain (id, parent_merchant_id, depth) as (
    select m.id, m.parent_merchant_id, 1 from public.merchant m where m.id = target
    union all
    select m.id, m.parent_merchant_id, c.depth + 1
    from public.merchant m join chain c on m.id = c.parent_merchant_id
    where c.depth < 32
  )
  select exists (
    select 1
    from public.profile p
    join chain c on c.id = p.merchant_id
    where p.id = (select auth.uid())
      and p.role in ('merchant_owner', 'merchant', 'merchant_selection')
  )
$$;

-- Staff who may change interviews and enrolments (merchant_selection only reviews).
create function public.can_manage(target uuid) returns boolean
language sql stable security definer
set search_path = ''
as $$
  select public.is_admin()
    or (public.current_app_role() in ('merchant_owner', 'merchant') and public.is_staff_of(target))
$$;

create function public.can_see(target uuid) returns boolean
language sql stable security definer
set search_path = ''
as $$
  select public.is_admin() or public.is_staff_of(target)
$$;

alter table public.merchant enable row level security;
alter table public.profile enable row level security;
alter table public.interview_def_set enable row level security;
alter table public.position_def_set enable row level security;
alter table public.position_interview enable row level security;
alter table public.profile_interview enable row level security;

-- Who may use which table and function through the Data API: 20261127095000_data_api_grants.sql.

-- merchant: staff read their own and sub-merchants; owners edit presentation and email settings,
-- never the invitation headroom or the hierarchy (column grants).

create policy merchant_select_staff on public.merchant for select to authenticated
  using (public.can_see(id));
create policy merchant_update_owner on public.merchant for update to authenticated
  using (public.is_admin() or (public.current_app_role() = 'merchant_owner' and public.is_staff_of(id)))
  with check (public.is_admin() or (public.current_app_role() = 'merchant_owner' and public.is_staff_of(id)));

-- profile: everyone reads their own; staff read profiles of their merchants; a user may rename
-- themselves, never change their role or merchant (column grants).

create policy profile_select_self on public.profile for select to authenticated
  using (id = (select auth.uid()));
create policy profile_select_staff on public.profile for select to authenticated
  using (merchant_id is not null and public.can_see(merchant_id));
create policy profile_update_self on public.profile for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));

-- interview definitions and positions: staff read; owners and recruiters write.
create policy interview_def_set_select_staff on public.interview_def_set for select to authenticated
  using (public.can_see(merchant_id));
create policy interview_def_set_insert_staff on public.interview_def_set for insert to authenticated
  with check (public.can_manage(merchant_id));
create policy interview_def_set_update_staff on public.interview_def_set for update to authenticated
  using (public.can_manage(merchant_id)) with check (public.can_manage(merchant_id));
create policy interview_def_set_delete_staff on public.interview_def_set for delete to authenticated
  using (public.can_manage(merchant_id));

create policy position_def_set_select_staff on public.position_def_set for select to authenticated
  using (public.can_see(merchant_id));
create policy position_def_set_insert_staff on public.position_def_set for insert to authenticated
  with check (public.can_manage(merchant_id));
create policy position_def_set_update_staff on public.position_def_set for update to authenticated
  using (public.can_manage(merchant_id)) with check (public.can_manage(merchant_id));
create policy position_def_set_delete_staff on public.position_def_set for delete to authenticated
  using (public.can_manage(merchant_id));

create policy position_interview_select_staff on public.position_interview for select
  to authenticated
  using (exists (
    select 1 from public.position_def_set p
    where p.id = position_def_set_id and public.can_see(p.merchant_id)
  ));
create policy position_interview_write_staff on public.position_interview for insert
  to authenticated
  with check (exists (
    select 1 from public.position_def_set p
    where p.id = position_def_set_id and public.can_manage(p.merchant_id)
  ));
create policy position_interview_delete_staff on public.position_interview for delete
  to authenticated
  using (exists (
    select 1 from public.position_def_set p
    where p.id = position_def_set_id and public.can_manage(p.merchant_id)
  ));

-- enrolments: created only by the registration endpoint (service role); staff read theirs and may
-- change a candidate's name, external id and status (column grants); a candidate reads only
-- their own.

create policy profile_interview_select_staff on public.profile_interview for select
  to authenticated
  using (public.can_see(merchant_id));
create policy profile_interview_select_candidate on public.profile_interview for select
  to authenticated
  using (profile_id = (select auth.uid()));
create policy profile_interview_update_staff on public.profile_interview for update
  to authenticated
  using (public.can_manage(merchant_id)) with check (public.can_manage(merchant_id));
