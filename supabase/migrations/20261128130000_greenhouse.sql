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
    and e.status <> 'deleted';
  if v_enrolment is null then
    return jsonb_build_object('rate', v_admit -> 'rate', 'error', jsonb_build_object(
      'status', 404, 'code', 'not_found', 'name', 'partner_interview_id',
      'message', 'No test was sent with this partner_interview_id'));
  end if;
  return jsonb_build_object('rate', v_admit -> 'rate', 'enrolment', v_enrolment);
end
$$;

-- Data API grants (the matrix of 20261127095000_data_api_grants.sql): the endpoint's functions
-- are the service role's alone.
revoke all on function public.greenhouse_admit, public.greenhouse_list_tests,
  public.greenhouse_test_status from public, anon, authenticated, service_role;
grant execute on function public.greenhouse_admit, public.greenhouse_list_tests,
  public.greenhouse_test_status to service_role;
