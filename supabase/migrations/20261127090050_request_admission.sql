-- Admission of a registration request: who acts for which merchant, a rate limit counted in the
-- database (so it holds across function instances), and idempotency keys with Stripe's semantics.
--
-- admit_registration is the first step of register_interview_users, in the registration's own
-- transaction (one round trip): a stored answer is replayed before anything that can change
-- later (interview, limits, rate limit) is looked at, and the request is counted before anything
-- is locked. Counting never waits (one row per database session, below), and a registration
-- that would have to wait for a lock (its merchant's row, its Idempotency-Key) does not wait in
-- that transaction: it commits its count and is called again to wait (see
-- register_interview_users), so a flood is shed with 429 instead of queueing behind the lock.

-- Unlogged: a counter written by every request should not cost a WAL record each time; after a
-- crash the current minute's counts start again, which a rate limit can afford.
create unlogged table public.merchant_request_counter (
  -- Who is charged: the merchant a request acts for or, for a refused request, the caller's own
  -- merchant (or the caller, without one), or a merchant API key for its own limit. No foreign
  -- key: rows live an hour, then are purged.
  subject_id uuid not null,
  window_start timestamptz not null,
  -- The database session that counted (its backend pid). A session runs one transaction at a
  -- time and writes only its own row, so a count never waits for another request's
  -- transaction; the subject's count is the sum of its minute's rows.
  slot integer not null default 0,
  requests integer not null default 0,
  primary key (subject_id, window_start, slot)
);

create table public.idempotency_request (
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  key text not null check (length(key) between 1 and 255),
  request_hash text not null,
  -- What the registration returned: enrolment and token ids, expiry, issue time. Enough to answer
  -- again with the same bytes (the links are signed again from these claims; Ed25519 signatures
  -- are deterministic), and never a token or a link.
  outcome jsonb not null,
  -- The email outcomes the first answer reported ({"<outbox id>": {"status", "error"}}), when
  -- its request recorded them before any replay.
  emails jsonb,
  -- The answer is fixed: the first request recorded its emails, or a replay answered with it as
  -- it was. Until then only the first request may add its email outcomes.
  settled boolean not null default false,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (merchant_id, key)
);
create index idempotency_request_expires_idx on public.idempotency_request (expires_at);

alter table public.merchant_request_counter enable row level security;
alter table public.idempotency_request enable row level security;
-- Touched only by the SQL functions below: no policies, and no privileges for any API role.

-- Counts a request against a subject's limit for the current minute. Returns
-- {"rate": {limit, remaining, reset}}, with "error" (429) when the limit is passed. The count is
-- this request and every committed one: requests in flight at the same moment do not see each
-- other, so a burst can pass the limit by at most the number of requests running at once (a
-- registration's transaction lasts milliseconds; PostgREST's pool bounds them).
create function public.count_request(
  p_subject_id uuid,
  p_limit integer
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_window timestamptz := date_trunc('minute', now());
  v_count integer;
  v_rate jsonb;
begin
  insert into public.merchant_request_counter as c (subject_id, window_start, slot, requests)
  values (p_subject_id, v_window, pg_backend_pid(), 1)
  on conflict (subject_id, window_start, slot) do update set requests = c.requests + 1;
  select sum(c.requests) into v_count from public.merchant_request_counter c
  where c.subject_id = p_subject_id and c.window_start = v_window;

  v_rate := jsonb_build_object(
    'limit', p_limit,
    'remaining', greatest(p_limit - v_count, 0),
    'reset', greatest(ceil(extract(epoch from (v_window + interval '1 minute' - now()))), 1)
  );
  if v_count > p_limit then
    return jsonb_build_object('rate', v_rate, 'error', jsonb_build_object(
      'status', 429, 'code', 'rate_limited',
      'message', format('Too many requests: at most %s a minute', p_limit)));
  end if;
  return jsonb_build_object('rate', v_rate);
end
$$;

-- Who acts, and for which merchant. Returns {"merchant_id"} or {"error": {status, message,
-- name}, "charge": <id>}, where `charge` is whom a refused request counts against: the caller's
-- own merchant, or the caller, never the merchant the request named. `p_caller_id` is the
-- verified user id, or null for a service-key caller.
create function public.resolve_registration_merchant(
  p_caller_id uuid,
  p_merchant_id uuid
) returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_caller public.profile;
  v_merchant_id uuid;
  v_charge uuid;
begin
  if p_caller_id is not null then
    select p.* into v_caller from public.profile p where p.id = p_caller_id;
    if not found then
      return jsonb_build_object('charge', p_caller_id, 'error', jsonb_build_object(
        'status', 401, 'message', 'No user found for this access token'));
    end if;
    v_charge := coalesce(v_caller.merchant_id, v_caller.id);
    if v_caller.role not in ('admin', 'merchant_owner', 'merchant') then
      return jsonb_build_object('charge', v_charge, 'error', jsonb_build_object(
        'status', 403, 'message', 'This account''s role may not register candidates'));
    end if;
    v_merchant_id := coalesce(p_merchant_id, v_caller.merchant_id);
    if v_merchant_id is null then
      return jsonb_build_object('charge', v_charge, 'error', jsonb_build_object(
        'status', 422, 'message', 'merchant_id is required for an account without a merchant',
        'name', 'merchant_id'));
    end if;
  else
    if p_merchant_id is null then
      return jsonb_build_object('error', jsonb_build_object(
        'status', 422, 'message', 'merchant_id is required when calling with the service key',
        'name', 'merchant_id'));
    end if;
    v_merchant_id := p_merchant_id;
  end if;

  -- Tenancy: a user is authorised before anything of the merchant is read or locked, by the one
  -- definition the policies use (admins: every merchant; owners and recruiters: their merchant
  -- and every merchant below it). Any merchant outside the caller's reach, existing or not, gets
  -- the same 403; only an admin, who may act for every merchant, learns that an id is unknown.
  if v_caller.role is not null and not exists (
    select 1 from private.manageable_merchant_ids_of(p_caller_id) as m (id)
    where m.id = v_merchant_id
  ) then
    if v_caller.role = 'admin' then
      return jsonb_build_object('charge', v_charge, 'error', jsonb_build_object(
        'status', 422, 'message', 'merchant not found', 'name', 'merchant_id'));
    end if;
    return jsonb_build_object('charge', v_charge, 'error', jsonb_build_object(
      'status', 403, 'message', 'You may not register candidates for this merchant',
      'name', 'merchant_id'));
  end if;

  -- Service callers act for any merchant that exists.
  if v_caller.role is null
     and not exists (select 1 from public.merchant m where m.id = v_merchant_id) then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'message', 'merchant not found', 'name', 'merchant_id'));
  end if;

  return jsonb_build_object('merchant_id', v_merchant_id);
end
$$;

-- The stored answer for a merchant's key: null when there is none (or it expired), the 409 when
-- the key came with another body, else {"replay": {"outcome", "emails"}}. A replay fixes the
-- answer: from then on the first request can no longer add its email outcomes, so every answer
-- to the key is the same.
create function public.replay_idempotent_request(
  p_merchant_id uuid,
  p_key text,
  p_request_hash text
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_record public.idempotency_request;
begin
  update public.idempotency_request r set settled = true
  where r.merchant_id = p_merchant_id and r.key = p_key and r.request_hash = p_request_hash
    and r.expires_at > now() and not r.settled;
  select r.* into v_record from public.idempotency_request r
  where r.merchant_id = p_merchant_id and r.key = p_key and r.expires_at > now();
  if not found then
    return null;
  end if;
  if v_record.request_hash <> p_request_hash then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 409, 'code', 'idempotency_key_reused',
      'message', 'This Idempotency-Key was used with a different request body'));
  end if;
  return jsonb_build_object('replay', jsonb_build_object(
    'outcome', v_record.outcome, 'emails', v_record.emails));
end
$$;

-- Admits a registration request: the first step of register_interview_users, in its transaction.
-- Returns {"merchant_id", "rate"}; with "error" when it must not run (401, 403, 409, 422, 429), or
-- with "replay" when its key already has an answer. `p_idempotency` is {"key", "hash"} when the
-- request carries a key.
create function public.admit_registration(
  p_caller_id uuid,
  p_merchant_id uuid,
  p_idempotency jsonb default null,
  p_rate_limit integer default 600,
  -- SHA-256 (hex) of a merchant API key the request carried (20261128120000_api_keys.sql), and
  -- whether the request registers test enrolments (a test key registers nothing else).
  p_api_key_hash text default null,
  p_is_test boolean default false
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_key jsonb;
  v_who jsonb;
  v_merchant_id uuid;
  v_subject uuid;
  v_limit integer;
  v_rate jsonb;
  v_replay jsonb;
begin
  -- A merchant API key decides the merchant itself (and counts its own limit); a refused key
  -- charges nobody's budget.
  if p_api_key_hash is not null then
    v_key := public.resolve_api_key(p_api_key_hash, p_merchant_id, p_is_test,
      'registrations:write');
    if v_key ? 'error' then
      return jsonb_build_object('error', v_key -> 'error', 'rate', v_key -> 'rate');
    end if;
    v_who := jsonb_build_object('merchant_id', v_key ->> 'merchant_id');
  else
    v_who := public.resolve_registration_merchant(p_caller_id, p_merchant_id);
  end if;
  v_merchant_id := (v_who ->> 'merchant_id')::uuid;
  -- Whom the request counts against: the merchant it acts for or, when it is refused, whoever
  -- sent it, so that a flood of refusals is shed with 429 and never spends the budget of the
  -- merchant it named.
  v_subject := coalesce(v_merchant_id, (v_who ->> 'charge')::uuid);
  if v_subject is null then
    return jsonb_build_object('error', v_who -> 'error');
  end if;
  select coalesce(m.api_requests_per_minute, p_rate_limit) into v_limit
  from (select 1) one left join public.merchant m on m.id = v_subject;
  if v_who ? 'error' then
    v_rate := public.count_request(v_subject, v_limit);
    return jsonb_build_object('error', coalesce(v_rate -> 'error', v_who -> 'error'),
      'rate', v_rate -> 'rate');
  end if;

  -- A stored answer first: it stands whatever changed since. A replay is counted, never refused.
  if p_idempotency is not null then
    v_replay := public.replay_idempotent_request(v_merchant_id, p_idempotency ->> 'key',
      p_idempotency ->> 'hash');
    if v_replay is not null then
      v_rate := public.count_request(v_merchant_id, v_limit);
      return v_replay || jsonb_build_object('merchant_id', v_merchant_id,
        'rate', v_rate -> 'rate');
    end if;
  end if;

  v_rate := public.count_request(v_merchant_id, v_limit);
  if v_key is not null then
    v_rate := public.api_key_rate(v_rate, v_key);
  end if;
  return v_rate || jsonb_build_object('merchant_id', v_merchant_id);
end
$$;

-- Records the email outcomes the first answer to a key reported, unless a replay has already
-- fixed the answer. Returns whether they were recorded: only then may the first request report
-- them, so that its answer and every replay are the same bytes.
create function public.finish_idempotent_request(
  p_merchant_id uuid,
  p_key text,
  p_emails jsonb
) returns boolean
language sql
security definer
set search_path = ''
as $$
  with recorded as (
    update public.idempotency_request r
    set emails = p_emails, settled = true
    where r.merchant_id = p_merchant_id and r.key = p_key and not r.settled
    returning 1
  )
  select exists (select 1 from recorded);
$$;

-- Run by a schedule: drops expired idempotency keys and old rate-limit windows.
create function public.purge_request_admission() returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_keys integer;
begin
  delete from public.idempotency_request where expires_at <= now();
  get diagnostics v_keys = row_count;
  delete from public.merchant_request_counter where window_start < now() - interval '1 hour';
  return v_keys;
end
$$;

-- Hourly purge on Supabase, where pg_cron exists (scheduling again under the same name replaces
-- the job); it needs no secret. Without pg_cron nothing is scheduled, and the local stack runs the
-- purge on its timer.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_cron') then
    create extension if not exists pg_cron;
    perform cron.schedule('purge-request-admission', '17 * * * *',
      'select public.purge_request_admission()');
  else
    raise notice 'purge of idempotency keys not scheduled: pg_cron is missing '
      '(the local stack runs it on a timer)';
  end if;
end
$$;
