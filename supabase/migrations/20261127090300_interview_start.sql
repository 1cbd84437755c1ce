-- Redeeming an interview link: a token starts exactly one interview attempt. The token row is
-- locked, checked, marked used and the attempt created in one transaction, so of two concurrent
-- redemptions exactly one wins. Also: revoking unused links, for support and the admin console.

create type public.interview_result_status as enum ('started', 'submitted', 'abandoned');

create table public.interview_result (
  id uuid primary key default private.uuid_v7(),
  profile_interview_id uuid not null references public.profile_interview (id) on delete cascade,
  interview_def_set_id uuid not null references public.interview_def_set (id) on delete cascade,
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  -- One attempt per token, enforced by the database as well as by the redemption.
  token_jti uuid not null unique references public.interview_token (jti) on delete restrict,
  is_test boolean not null default false,
  status public.interview_result_status not null default 'started',
  started_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index interview_result_enrolment_idx on public.interview_result (profile_interview_id);
create index interview_result_merchant_idx on public.interview_result (merchant_id);

create trigger interview_result_touch before update on public.interview_result
  for each row execute function public.touch_updated_at();

alter table public.interview_result enable row level security;
create policy interview_result_select_staff on public.interview_result for select to authenticated
  using (merchant_id in (select private.visible_merchant_ids()));
create policy interview_result_select_candidate on public.interview_result for select
  to authenticated
  using (profile_interview_id in (
    select e.id from public.profile_interview e where e.profile_id = (select auth.uid())
  ));

-- start_interview: p_jti is the `jti` of a token whose signature, audience, issuer and expiry
-- the caller (the start endpoint, as service role) has verified. Returns the attempt, or
-- {"error": {"status", "code", "message"}} with a stable code.
create function public.start_interview(p_jti uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_token public.interview_token;
  v_enrolment public.profile_interview;
  v_interview public.interview_def_set;
  v_attempts integer;
  v_result_id uuid;
begin
  -- Lock the enrolment before the token: the order registration takes them in, so a start and a
  -- registration of the same candidate can never deadlock. It also serialises the attempts of
  -- one enrolment, so its allowance holds under concurrent links.
  perform 1 from public.profile_interview e
  where e.id = (select t.profile_interview_id from public.interview_token t where t.jti = p_jti)
  for update;
  select t.* into v_token from public.interview_token t where t.jti = p_jti for update;
  if not found then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 401, 'code', 'token_invalid', 'message', 'This interview link is not valid'));
  end if;
  if v_token.revoked_at is not null then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 401, 'code', 'token_revoked', 'message', 'This interview link has been revoked'));
  end if;
  if v_token.used_at is not null then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 409, 'code', 'token_used', 'message', 'This interview link has already been used'));
  end if;
  if v_token.expires_at <= now() then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 401, 'code', 'token_expired', 'message', 'This interview link has expired'));
  end if;

  select e.* into v_enrolment from public.profile_interview e where e.id = v_token.profile_interview_id;
  if v_enrolment.status = 'deleted' then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'code', 'enrolment_deleted',
      'message', 'This registration has been withdrawn'));
  end if;

  select i.* into v_interview from public.interview_def_set i where i.id = v_token.interview_def_set_id;
  if v_interview.status in ('archived', 'deleted', 'completed')
     or (v_interview.status in ('draft', 'preparing') and not v_token.is_test)
     or (v_interview.interview_available_till is not null
         and v_interview.interview_available_till <= now()) then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'code', 'interview_unavailable',
      'message', 'This interview no longer takes candidates'));
  end if;

  select count(*) into v_attempts from public.interview_result r
  where r.profile_interview_id = v_enrolment.id and r.is_test = v_token.is_test;
  if v_attempts >= v_interview.attempts_allowed then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'code', 'attempts_exhausted',
      'message', 'No attempts are left for this interview'));
  end if;

  with used as (
    update public.interview_token t
    set used_at = now()
    where t.jti = p_jti and t.used_at is null and t.revoked_at is null
    returning t.jti, t.profile_interview_id, t.interview_def_set_id, t.merchant_id, t.is_test
  )
  insert into public.interview_result (
    profile_interview_id, interview_def_set_id, merchant_id, token_jti, is_test
  )
  select u.profile_interview_id, u.interview_def_set_id, u.merchant_id, u.jti, u.is_test
  from used u
  returning id into v_result_id;

  return jsonb_build_object(
    'attempt_id', v_result_id,
    'interview', jsonb_build_object(
      'id', v_interview.id,
      'name', v_interview.name,
      'language', v_interview.mojito_language_code
    ),
    'candidate', jsonb_build_object('name', v_enrolment.name),
    'profile_interview_id', v_enrolment.id,
    'is_test', v_token.is_test,
    'attempts_left', v_interview.attempts_allowed - v_attempts - 1
  );
end
$$;

-- Revokes every unused link of one enrolment, or of a whole interview; returns how many.
create function public.revoke_interview_tokens(
  p_profile_interview_id uuid default null,
  p_interview_def_set_id uuid default null
) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  if (p_profile_interview_id is null) = (p_interview_def_set_id is null) then
    raise exception 'name exactly one of p_profile_interview_id and p_interview_def_set_id'
      using errcode = '22023';
  end if;
  update public.interview_token t
  set revoked_at = now()
  where t.used_at is null
    and t.revoked_at is null
    and (t.profile_interview_id = p_profile_interview_id
      or t.interview_def_set_id = p_interview_def_set_id);
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

