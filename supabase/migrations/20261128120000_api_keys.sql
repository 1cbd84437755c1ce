-- Merchant API keys: long-lived, revocable credentials a partner backend can hold. A key is
-- `jm_live_` or `jm_test_` and 47 base62 characters (the first 4 shown in lists, the other 43 a
-- secret of 256 bits). Only its SHA-256 is stored; the raw key is returned once, by
-- create_api_key. Owners (of the merchant or a merchant above it) and admins create, list and
-- revoke keys through the Data API; the registration's admission resolves a key's hash
-- (resolve_api_key), so a revoked key fails on its very next request.

create table public.api_key (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 100),
  -- SHA-256 of the whole key. A 256-bit random key needs no salt or slow hash: nothing about the
  -- key can be guessed from its digest.
  key_hash bytea not null unique check (length(key_hash) = 32),
  -- Shown in lists, never secret: "jm_live_a1B2".
  prefix text not null check (prefix ~ '^jm_(live|test)_[0-9A-Za-z]{4}$'),
  is_test boolean not null,
  -- What the key may do. Only registrations:write exists today; a new scope is a new value in
  -- this check.
  scopes text[] not null default '{registrations:write}'
    check (scopes <@ array['registrations:write']::text[]),
  -- Also usable for the merchant's sub-merchants (at any depth).
  sub_merchants boolean not null default false,
  -- Requests a minute through this key; null: only the merchant's limit applies.
  requests_per_minute integer check (requests_per_minute > 0),
  expires_at timestamptz,
  created_by uuid references public.profile (id) on delete set null,
  created_at timestamptz not null default now(),
  -- Written at most once a minute per key, never once per request.
  last_used_at timestamptz,
  revoked_at timestamptz,
  constraint api_key_prefix_matches check (is_test = (prefix like 'jm\_test\_%'))
);
create index api_key_merchant_idx on public.api_key (merchant_id);
create index api_key_created_by_idx on public.api_key (created_by);

-- Whose keys the caller manages: the merchants they own (an admin: all), by the one definition
-- every policy uses (private.owned_merchant_ids).
alter table public.api_key enable row level security;

create policy api_key_select_manager on public.api_key for select to authenticated
  using (merchant_id in (select private.owned_merchant_ids()));
-- Revocation is the one change (column grant on revoked_at; api_key_revoke_once keeps it final).
create policy api_key_update_manager on public.api_key for update to authenticated
  using (merchant_id in (select private.owned_merchant_ids()))
  with check (merchant_id in (select private.owned_merchant_ids()));

-- A revocation happens now and is final: it cannot be post-dated, back-dated or undone.
create function public.api_key_revoke_once() returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if old.revoked_at is not null then
    new.revoked_at := old.revoked_at;
  elsif new.revoked_at is not null then
    new.revoked_at := now();
  end if;
  return new;
end
$$;
create trigger api_key_revoke_once before update of revoked_at on public.api_key
  for each row execute function public.api_key_revoke_once();

-- create_api_key: a new key for `merchant_id` (default: the caller's merchant), returned with
-- the raw key, which is never shown again. Security definer because the key must come from the
-- database's own randomness: no API role may insert a key (and so choose a weak one); the
-- caller's right to manage the merchant is checked against the same set as the policies.
create function public.create_api_key(
  name text,
  merchant_id uuid default null,
  scopes text[] default array['registrations:write'],
  expires_at timestamptz default null,
  sub_merchants boolean default false,
  test boolean default false,
  requests_per_minute integer default null
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_merchant_id uuid := create_api_key.merchant_id;
  v_alphabet constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  v_random text := '';
  v_key text;
  v_row public.api_key;
begin
  if (select auth.uid()) is null then
    raise exception 'API keys are created by a signed-in merchant owner or admin'
      using errcode = '42501';
  end if;
  if v_merchant_id is null then
    select p.merchant_id into v_merchant_id from public.profile p where p.id = (select auth.uid());
  end if;
  if v_merchant_id is null
     or v_merchant_id not in (select private.owned_merchant_ids()) then
    raise exception 'You may not manage API keys of this merchant' using errcode = '42501';
  end if;
  if create_api_key.expires_at is not null and create_api_key.expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = '22023';
  end if;
  -- Each argument checked here, so that a mistake is named (not a check constraint's failing row).
  if create_api_key.name is null or length(btrim(create_api_key.name)) not between 1 and 100 then
    raise exception 'name must be 1 to 100 characters' using errcode = '22023';
  end if;
  if create_api_key.scopes is not null and (cardinality(create_api_key.scopes) = 0
     or not create_api_key.scopes <@ array['registrations:write']) then
    raise exception 'scopes must name at least one of: registrations:write'
      using errcode = '22023';
  end if;
  if create_api_key.requests_per_minute is not null and create_api_key.requests_per_minute < 1 then
    raise exception 'requests_per_minute must be a positive number of requests'
      using errcode = '22023';
  end if;

  -- 47 characters drawn uniformly from 62: bytes of 248 and above are dropped (248 = 4 * 62).
  while length(v_random) < 47 loop
    select v_random || coalesce(string_agg(substr(v_alphabet, get_byte(r.b, i) % 62 + 1, 1), ''
        order by i), '')
    into v_random
    from (select extensions.gen_random_bytes(64) as b) r, generate_series(0, 63) i
    where get_byte(r.b, i) < 248;
  end loop;
  v_key := case when test then 'jm_test_' else 'jm_live_' end || left(v_random, 47);

  insert into public.api_key (merchant_id, name, key_hash, prefix, is_test, scopes,
    sub_merchants, requests_per_minute, expires_at, created_by)
  values (v_merchant_id, btrim(create_api_key.name), sha256(convert_to(v_key, 'UTF8')),
    left(v_key, 12), test, coalesce(create_api_key.scopes, array['registrations:write']),
    coalesce(create_api_key.sub_merchants, false), create_api_key.requests_per_minute,
    create_api_key.expires_at, (select auth.uid()))
  returning * into v_row;

  return (select to_jsonb(l) from public.list_api_keys() l where l.id = v_row.id)
    || jsonb_build_object('key', v_key);
end
$$;

-- list_api_keys: the keys the caller manages (of one merchant, or all), newest first, without
-- any secret. Runs as the caller, under the policies above.
create function public.list_api_keys(merchant uuid default null)
returns table (
  id uuid, merchant_id uuid, name text, prefix text, is_test boolean, scopes text[],
  sub_merchants boolean, requests_per_minute integer, expires_at timestamptz, created_by uuid,
  created_at timestamptz, last_used_at timestamptz, revoked_at timestamptz, status text
)
language sql
stable
security invoker
set search_path = ''
as $$
  select k.id, k.merchant_id, k.name, k.prefix, k.is_test, k.scopes, k.sub_merchants,
    k.requests_per_minute, k.expires_at, k.created_by, k.created_at, k.last_used_at,
    k.revoked_at,
    case when k.revoked_at is not null then 'revoked'
      when k.expires_at <= now() then 'expired' else 'active' end
  from public.api_key k
  where list_api_keys.merchant is null or k.merchant_id = list_api_keys.merchant
  order by k.created_at desc, k.id
$$;

-- revoke_api_key: revokes a key the caller manages, from the next request on; revoking again
-- changes nothing. Runs as the caller: a key the caller may not see, or no key at all, is "not
-- found" with 404 (PostgREST answers the PL/pgSQL code P0002 with 500; its own PGRST code sets
-- the status).
create function public.revoke_api_key(id uuid) returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  v_id uuid;
begin
  update public.api_key k set revoked_at = now()
  where k.id = revoke_api_key.id
  returning k.id into v_id;
  if v_id is null then
    raise sqlstate 'PGRST' using
      message = '{"code":"P0002","message":"API key not found"}',
      detail = '{"status":404,"headers":{}}';
  end if;
  return (select to_jsonb(l) from public.list_api_keys() l where l.id = v_id);
end
$$;

-- resolve_api_key: called by admit_registration (as its owner) with the SHA-256 of the key
-- the request carried (hex). Returns null without a key; {"error": ...} when the key may not do
-- this (401 unknown, revoked or expired; 403 scope, test key, merchant; 429 its own rate limit);
-- else {"merchant_id": the merchant to act for, "api_key_id", "rate"}. The lookup is by the
-- digest's unique index: the digest of a 256-bit random key tells an attacker nothing, so
-- timing the index lookup cannot lead to a key.
create function public.resolve_api_key(
  p_key_hash text,
  p_merchant_id uuid,
  p_is_test boolean,
  p_scope text
) returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  v_key public.api_key;
  v_count jsonb;
  v_rate jsonb;
  v_error jsonb;
begin
  if p_key_hash is null then
    return null;
  end if;
  if p_key_hash ~ '^[0-9a-f]{64}$' then
    select k.* into v_key from public.api_key k where k.key_hash = decode(p_key_hash, 'hex');
  end if;
  -- Unknown, revoked and expired keys say which, and nothing about any other key or merchant.
  v_error := case
    when v_key.id is null then jsonb_build_object(
      'status', 401, 'code', 'api_key_invalid', 'message', 'Invalid API key')
    when v_key.revoked_at is not null then jsonb_build_object(
      'status', 401, 'code', 'api_key_revoked', 'message', 'API key revoked')
    when v_key.expires_at <= now() then jsonb_build_object(
      'status', 401, 'code', 'api_key_expired', 'message', 'API key expired')
    when not p_scope = any (v_key.scopes) then jsonb_build_object(
      'status', 403, 'code', 'api_key_scope',
      'message', format('This API key lacks the %s scope', p_scope))
    when v_key.is_test and not coalesce(p_is_test, false) then jsonb_build_object(
      'status', 403, 'code', 'api_key_test_only', 'name', 'is_test',
      'message', 'A test API key (jm_test_) registers only is_test enrolments')
    when p_merchant_id is not null and p_merchant_id <> v_key.merchant_id and not (
      v_key.sub_merchants and exists (
        with recursive chain (id, parent_merchant_id, depth) as (
          select m.id, m.parent_merchant_id, 1 from public.merchant m where m.id = p_merchant_id
          union all
          select m.id, m.parent_merchant_id, c.depth + 1
          from public.merchant m join chain c on m.id = c.parent_merchant_id
          where c.depth < 32
        )
        select 1 from chain c where c.id = v_key.merchant_id and c.depth > 1
      )) then jsonb_build_object(
      'status', 403, 'code', 'api_key_merchant', 'name', 'merchant_id',
      'message', 'This API key may not register candidates for this merchant')
  end;
  if v_error is not null then
    return jsonb_build_object('error', v_error);
  end if;

  -- The key's own limit, counted before the merchant's: a key over its limit costs its merchant
  -- nothing, so one integration cannot starve the merchant's others.
  if v_key.requests_per_minute is not null then
    v_count := public.count_request(v_key.id, v_key.requests_per_minute);
    v_rate := v_count -> 'rate';
    if v_count ? 'error' then
      return jsonb_build_object('rate', v_rate, 'error', jsonb_build_object(
        'status', 429, 'code', 'rate_limited',
        'message', format('Too many requests: at most %s a minute for this API key',
          v_key.requests_per_minute)));
    end if;
  end if;

  -- last_used_at at most once a minute: a key used within the minute is not written, and of
  -- concurrent requests only the one that gets the row lock writes (the others skip, unblocked).
  update public.api_key k set last_used_at = now()
  where k.id = (
    select l.id from public.api_key l
    where l.id = v_key.id and (l.last_used_at is null or l.last_used_at < now() - interval '1 minute')
    for no key update skip locked
  );

  return jsonb_build_object(
    'merchant_id', coalesce(p_merchant_id, v_key.merchant_id),
    'api_key_id', v_key.id,
    'rate', v_rate
  );
end
$$;

-- The rate-limit answer of a request through a key: the merchant's, or the key's when fewer
-- requests remain under it (the IETF draft's rule for several limits). A merchant's 429 stands.
-- PL/pgSQL, not SQL: called from PL/pgSQL, an SQL function that cannot be inlined (it has a `set`
-- clause) is planned again in every transaction, which cost more than the rest of the admission.
create function public.api_key_rate(p_merchant_rate jsonb, p_key jsonb) returns jsonb
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  if p_key -> 'rate' is null or jsonb_typeof(p_key -> 'rate') <> 'object'
     or p_merchant_rate ? 'error'
     or (p_key -> 'rate' ->> 'remaining')::integer
       >= (p_merchant_rate -> 'rate' ->> 'remaining')::integer then
    return p_merchant_rate;
  end if;
  return p_merchant_rate || jsonb_build_object('rate', p_key -> 'rate');
end
$$;

-- Data API grants for the objects above. They belong to the matrix in
-- 20261127095000_data_api_grants.sql (which names them), but are applied here because that file
-- runs before these objects exist; as there, everything is revoked first, then granted.
revoke all on public.api_key from public, anon, authenticated, service_role;
revoke all on function public.api_key_revoke_once,
  public.create_api_key, public.list_api_keys, public.revoke_api_key, public.resolve_api_key,
  public.api_key_rate from public, anon, authenticated, service_role;

-- Owners and admins read their keys (never the digest) and revoke them (RLS decides whose);
-- keys are created only by create_api_key.
grant select (id, merchant_id, name, prefix, is_test, scopes, sub_merchants, requests_per_minute,
  expires_at, created_by, created_at, last_used_at, revoked_at) on public.api_key to authenticated;
grant update (revoked_at) on public.api_key to authenticated;
grant execute on function public.create_api_key,
  public.list_api_keys, public.revoke_api_key to authenticated;
-- resolve_api_key, api_key_rate (called inside admit_registration, as its owner) and the trigger
-- api_key_revoke_once: no API role.
