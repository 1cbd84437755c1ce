-- Greenhouse's Assessment Partner API (supabase/functions/greenhouse-assessment): the reads it
-- needs beyond the registration. A Greenhouse organisation holds one merchant API key; each call
-- resolves that key by its digest (resolve_api_key, so a revoked key fails on its next request)
-- and counts against the key's and the merchant's per-minute limits, like a registration.
-- send_test is a registration (admit_registration + register_interview_users) and needs nothing
-- here.

-- The key and the merchant's rate limit, as admit_registration settles them for a registration.
-- Returns {"merchant_id", "is_test", "rate"}, or {"error", "rate"}. Also the whole admission of
-- response_error, which reads nothing. Definer for the same reason as admit_registration: the
-- key table and the counters are the owner's alone.
create function public.greenhouse_admit(p_api_key_hash text, p_rate_limit integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
set statement_timeout = '2s'
as $$
declare
  v_key jsonb;
  v_merchant_id uuid;
  v_limit integer;
  v_rate jsonb;
begin
  -- A test key may read; whether it may register is the registration's own check.
  v_key := public.resolve_api_key(p_api_key_hash, null, true, 'registrations:write');
  if v_key is null or v_key ? 'error' then
    return jsonb_build_object('error', coalesce(v_key -> 'error', jsonb_build_object(
      'status', 401, 'code', 'api_key_invalid', 'message', 'Invalid API key')),
      'rate', v_key -> 'rate');
  end if;
  v_merchant_id := (v_key ->> 'merchant_id')::uuid;
  select coalesce(m.api_requests_per_minute, p_rate_limit) into v_limit
  from public.merchant m where m.id = v_merchant_id;
  v_rate := public.api_key_rate(public.count_request(v_merchant_id, v_limit), v_key);
  if v_rate ? 'error' then
    return v_rate;
  end if;
  return v_rate || jsonb_build_object(
    'merchant_id', v_merchant_id,
    'is_test', (select k.is_test from public.api_key k where k.id = (v_key ->> 'api_key_id')::uuid)
  );
end
$$;

-- list_tests: the interviews and positions of the key's merchant that take candidates (active;
-- drafts too for a test key, which registers test enrolments), by name. Returns {"tests":
-- [{"partner_test_id", "partner_test_name"}], "rate"} or {"error", "rate"}.
create function public.greenhouse_list_tests(p_api_key_hash text, p_rate_limit integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
set statement_timeout = '2s'
as $$
declare
  v_admit jsonb := public.greenhouse_admit(p_api_key_hash, p_rate_limit);
  v_merchant_id uuid;
  v_statuses public.interview_status[];
begin
  if v_admit ? 'error' then
    return v_admit;
  end if;
  v_merchant_id := (v_admit ->> 'merchant_id')::uuid;
  v_statuses := case when (v_admit ->> 'is_test')::boolean
    then array['active', 'draft', 'preparing']::public.interview_status[]
    else array['active']::public.interview_status[] end;
  return jsonb_build_object('rate', v_admit -> 'rate', 'tests', coalesce((
    select jsonb_agg(jsonb_build_object('partner_test_id', t.id::text,
      'partner_test_name', t.name) order by t.name, t.id)
    from (
      select i.id, i.name from public.interview_def_set i
      where i.merchant_id = v_merchant_id and i.status = any (v_statuses)
        and (i.interview_available_till is null
          or i.interview_available_till > now() + interval '1 minute')
      union all
      -- A position enrols in its first stage, so it takes candidates when that stage does.
      select p.id, p.name from public.position_def_set p
      where p.merchant_id = v_merchant_id and p.status = any (v_statuses)
        and exists (
          select 1 from public.position_interview pi
          join public.interview_def_set i
            on i.id = pi.interview_def_set_id and i.merchant_id = pi.merchant_id
          where pi.position_def_set_id = p.id and pi.stage = (
              select min(s.stage) from public.position_interview s
              where s.position_def_set_id = p.id)
            and i.status = any (v_statuses)
            and (i.interview_available_till is null
              or i.interview_available_till > now() + interval '1 minute'))
    ) t), '[]'::jsonb));
end
$$;

-- test_status: one enrolment of the key's merchant and its latest attempt. Any other id (unknown,
-- another merchant's, deleted) is the same 404, so nothing is revealed about it. Returns
-- {"enrolment": {...}, "rate"} or {"error", "rate"}.
create function public.greenhouse_test_status(
  p_api_key_hash text,
  p_rate_limit integer,
  p_enrolment_id uuid
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
set statement_timeout = '2s'
as $$
declare
  v_admit jsonb := public.greenhouse_admit(p_api_key_hash, p_rate_limit);
  v_enrolment jsonb;
begin
  if v_admit ? 'error' then
    return v_admit;
  end if;
  select jsonb_build_object(
      'id', e.id,
      'interview_name', i.name,
      'frontend_domain', m.interview_frontend_domain,
      'attempt_status', r.status,
      'started_at', r.started_at,
      'finished_at', case when r.status <> 'started' then r.updated_at end)
    into v_enrolment
  from public.profile_interview e
  join public.interview_def_set i on i.id = e.interview_def_set_id
  join public.merchant m on m.id = e.merchant_id
  left join lateral (
    select x.status, x.started_at, x.updated_at from public.interview_result x
    where x.profile_interview_id = e.id
    order by x.started_at desc, x.id desc limit 1
  ) r on true
  where e.id = p_enrolment_id
    and e.merchant_id = (v_admit ->> 'merchant_id')::uuid
    and e.status <> 'deleted'
    -- A test key (a partner's staging system) sees test enrolments only.
    and (e.is_test or not coalesce((v_admit ->> 'is_test')::boolean, false));
  if v_enrolment is null then
    return jsonb_build_object('rate', v_admit -> 'rate', 'error', jsonb_build_object(
      'status', 404, 'code', 'not_found', 'name', 'partner_interview_id',
      'message', 'No test was sent with this partner_interview_id'));
  end if;
  return jsonb_build_object('rate', v_admit -> 'rate', 'enrolment', v_enrolment);
end
$$;

-- Greenhouse's "PATCH Mark Test as Completed": when a candidate submits, Greenhouse is told at
-- the URL its send_test gave, authenticated with the organisation's API key (as Greenhouse's
-- page shows it). An outbox like the invitation emails': one row per enrolment, written when the
-- send is answered, due when an attempt is submitted, claimed with a lease by the scheduled
-- dispatch and retried with backoff. The key is kept encrypted by the functions (AES-GCM,
-- GREENHOUSE_CALLBACK_KEY): the database never holds it readable.
create type public.greenhouse_callback_status as enum (
  'waiting', 'pending', 'sending', 'sent', 'failed'
);

create table public.greenhouse_callback (
  profile_interview_id uuid primary key
    references public.profile_interview (id) on delete cascade,
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  url text not null check (length(url) <= 2048 and url ~ '^https?://'),
  -- The API key, encrypted: base64 of a 12-byte nonce and the AES-GCM ciphertext.
  credential text not null check (length(credential) between 16 and 1000),
  status public.greenhouse_callback_status not null default 'waiting',
  attempts smallint not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz,
  -- A claimed row belongs to its sender until then; after that another sender may take it.
  locked_until timestamptz,
  last_error text check (length(last_error) <= 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index greenhouse_callback_due_idx on public.greenhouse_callback (next_attempt_at)
  where status in ('pending', 'sending');
create index greenhouse_callback_merchant_idx on public.greenhouse_callback (merchant_id);
create trigger greenhouse_callback_touch before update on public.greenhouse_callback
  for each row execute function public.touch_updated_at();
-- Touched only by the SQL functions below: no policies, and no privileges for any API role.
alter table public.greenhouse_callback enable row level security;

-- A submitted attempt makes its enrolment's callback due (again, for a later attempt). Definer:
-- whoever writes the attempt may not touch the outbox.
create function public.greenhouse_callback_due() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.greenhouse_callback c
  set status = 'pending', next_attempt_at = now(), attempts = 0, locked_until = null
  where c.profile_interview_id = new.profile_interview_id
    and c.status in ('waiting', 'sent', 'failed');
  return null;
end
$$;
create trigger interview_result_greenhouse_callback
  after insert or update of status on public.interview_result
  for each row when (new.status = 'submitted')
  execute function public.greenhouse_callback_due();

-- After a send_test (first or replayed): where to tell Greenhouse, with what. The enrolment must
-- be of the merchant; a row of another merchant is never changed.
create function public.greenhouse_record_callback(
  p_merchant_id uuid,
  p_enrolment_id uuid,
  p_url text,
  p_credential text
) returns boolean
language plpgsql
security definer
set search_path = ''
set statement_timeout = '2s'
as $$
declare
  v_done boolean;
begin
  if not exists (select 1 from public.profile_interview e
      where e.id = p_enrolment_id and e.merchant_id = p_merchant_id) then
    return false;
  end if;
  v_done := exists (select 1 from public.interview_result r
    where r.profile_interview_id = p_enrolment_id and r.status = 'submitted');
  insert into public.greenhouse_callback as c (profile_interview_id, merchant_id, url, credential,
    status, next_attempt_at)
  values (p_enrolment_id, p_merchant_id, p_url, p_credential,
    case when v_done then 'pending' else 'waiting' end::public.greenhouse_callback_status,
    case when v_done then now() end)
  on conflict (profile_interview_id) do update
    set url = excluded.url, credential = excluded.credential
    where c.merchant_id = excluded.merchant_id;
  return true;
end
$$;

-- Claims up to p_limit due callbacks (new, to retry, or left behind by a sender that died) for
-- p_lease_ms, counting the attempt. Returns [{"id", "url", "credential", "attempts"}].
create function public.claim_greenhouse_callbacks(p_limit integer, p_lease_ms integer)
returns jsonb
language sql
volatile
security definer
set search_path = ''
set statement_timeout = '2s'
as $$
  with due as (
    select c.profile_interview_id from public.greenhouse_callback c
    where (c.status = 'pending' and c.next_attempt_at <= now())
      or (c.status = 'sending' and c.locked_until <= now())
    order by c.next_attempt_at
    limit greatest(p_limit, 0)
    for update skip locked
  ), claimed as (
    update public.greenhouse_callback c
    set status = 'sending', attempts = c.attempts + 1,
      locked_until = now() + make_interval(secs => p_lease_ms / 1000.0)
    from due where c.profile_interview_id = due.profile_interview_id
    returning c.profile_interview_id, c.url, c.credential, c.attempts
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', profile_interview_id, 'url', url,
    'credential', credential, 'attempts', attempts)), '[]'::jsonb)
  from claimed
$$;

-- The outcome of one claimed attempt; an outcome that comes after its lease was taken over (the
-- attempt count moved on) changes nothing. Returns the row's status.
create function public.record_greenhouse_callback(
  p_id uuid,
  p_attempts integer,
  p_ok boolean,
  p_error text,
  p_retry_base_ms integer,
  p_max_attempts integer
) returns text
language sql
volatile
security definer
set search_path = ''
set statement_timeout = '2s'
as $$
  update public.greenhouse_callback c
  set status = case when p_ok then 'sent'
      when c.attempts >= p_max_attempts then 'failed'
      else 'pending' end::public.greenhouse_callback_status,
    next_attempt_at = case when p_ok or c.attempts >= p_max_attempts then null
      else now() + make_interval(secs => p_retry_base_ms / 1000.0 * 2 ^ (c.attempts - 1)) end,
    locked_until = null,
    last_error = case when p_ok then null else left(p_error, 1000) end
  where c.profile_interview_id = p_id and c.status = 'sending' and c.attempts = p_attempts
  returning c.status::text
$$;

-- Data API grants (the matrix of 20261127095000_data_api_grants.sql): the endpoint's functions
-- are the service role's alone.
revoke all on public.greenhouse_callback from public, anon, authenticated, service_role;
revoke all on function public.greenhouse_admit, public.greenhouse_list_tests,
  public.greenhouse_test_status, public.greenhouse_callback_due,
  public.greenhouse_record_callback, public.claim_greenhouse_callbacks,
  public.record_greenhouse_callback from public, anon, authenticated, service_role;
grant execute on function public.greenhouse_admit, public.greenhouse_list_tests,
  public.greenhouse_test_status, public.greenhouse_record_callback,
  public.claim_greenhouse_callbacks, public.record_greenhouse_callback to service_role;
-- greenhouse_callback and the trigger greenhouse_callback_due: no API role.
