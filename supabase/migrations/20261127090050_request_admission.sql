-- Admission of a registration request once its merchant is known: a per-merchant rate limit
-- counted in the database (so it holds across function instances), and idempotency keys with
-- Stripe's semantics: the first response for a (merchant, key) is kept for 24 hours and replayed
-- for the same body; another body, or the same key while the first request runs, is a 409.

-- Unlogged: a counter written by every request should not cost a WAL record each time; after a
-- crash the current minute's counts start again, which a rate limit can afford.
create unlogged table public.merchant_request_counter (
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  window_start timestamptz not null,
  requests integer not null default 0,
  primary key (merchant_id, window_start)
);

create type public.idempotency_state as enum ('in_progress', 'done');

create table public.idempotency_request (
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  key text not null check (length(key) between 1 and 255),
  request_hash text not null,
  state public.idempotency_state not null default 'in_progress',
  response_status smallint,
  -- The response exactly as first sent (text, not jsonb, so a replay is byte for byte).
  response_body text,
  created_at timestamptz not null default now(),
  -- An in-progress key whose request died is free again after this.
  locked_until timestamptz not null,
  expires_at timestamptz not null,
  primary key (merchant_id, key)
);
create index idempotency_request_expires_idx on public.idempotency_request (expires_at);

alter table public.merchant_request_counter enable row level security;
alter table public.idempotency_request enable row level security;
-- Touched only by the SQL functions below: no policies, and no privileges for any API role.

-- Counts the request against the merchant's limit for the current minute. Returns
-- {"rate": {limit, remaining, reset}}, with "error" (429) when the limit is passed.
create function public.count_merchant_request(
  p_merchant_id uuid,
  p_default_limit integer
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_limit integer;
  v_window timestamptz := date_trunc('minute', now());
  v_count integer;
  v_rate jsonb;
begin
  select coalesce(m.api_requests_per_minute, p_default_limit) into v_limit
  from public.merchant m where m.id = p_merchant_id;

  insert into public.merchant_request_counter as c (merchant_id, window_start, requests)
  values (p_merchant_id, v_window, 1)
  on conflict (merchant_id, window_start) do update set requests = c.requests + 1
  returning c.requests into v_count;

  v_rate := jsonb_build_object(
    'limit', v_limit,
    'remaining', greatest(v_limit - v_count, 0),
    'reset', greatest(ceil(extract(epoch from (v_window + interval '1 minute' - now()))), 1)
  );
  if v_count > v_limit then
    return jsonb_build_object('rate', v_rate, 'error', jsonb_build_object(
      'status', 429, 'code', 'rate_limited',
      'message', format('Too many requests: at most %s a minute for this merchant', v_limit)));
  end if;
  return jsonb_build_object('rate', v_rate);
end
$$;

-- Takes an idempotency key for a request about to run. Returns null when the request may run,
-- {"error": ...} (409) when it must not, or {"replay": {status, body}} with the first answer.
create function public.take_idempotency_key(
  p_merchant_id uuid,
  p_key text,
  p_request_hash text,
  p_ttl_seconds integer default 86400,
  p_lock_seconds integer default 60
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_existing public.idempotency_request;
begin
  insert into public.idempotency_request as r (
    merchant_id, key, request_hash, locked_until, expires_at
  )
  values (
    p_merchant_id, p_key, p_request_hash,
    now() + make_interval(secs => p_lock_seconds), now() + make_interval(secs => p_ttl_seconds)
  )
  on conflict (merchant_id, key) do update
    set request_hash = excluded.request_hash, state = 'in_progress', response_status = null,
      response_body = null, created_at = now(), locked_until = excluded.locked_until,
      expires_at = excluded.expires_at
    -- Take over a key only when it has expired, or its request died before finishing.
    where r.expires_at <= now() or (r.state = 'in_progress' and r.locked_until <= now())
  returning r.* into v_existing;
  if found then
    return null;
  end if;

  select r.* into v_existing from public.idempotency_request r
  where r.merchant_id = p_merchant_id and r.key = p_key;
  if v_existing.request_hash <> p_request_hash then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 409, 'code', 'idempotency_key_reused',
      'message', 'This Idempotency-Key was used with a different request body'));
  end if;
  if v_existing.state = 'in_progress' then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 409, 'code', 'idempotency_key_in_use',
      'message', 'A request with this Idempotency-Key is still being processed'));
  end if;
  return jsonb_build_object('replay', jsonb_build_object(
    'status', v_existing.response_status, 'body', v_existing.response_body));
end
$$;

-- Stores the response of a request that took a key, for replays.
create function public.finish_idempotent_request(
  p_merchant_id uuid,
  p_key text,
  p_status integer,
  p_body text
) returns void
language sql
security definer
set search_path = ''
as $$
  update public.idempotency_request r
  set state = 'done', response_status = p_status, response_body = p_body
  where r.merchant_id = p_merchant_id and r.key = p_key and r.state = 'in_progress';
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
