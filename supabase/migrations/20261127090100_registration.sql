-- Registration of candidates: the record of every minted interview token (never the token
-- itself), the outbox of invitation emails, and the one SQL function that registers a whole
-- batch, with its emails, in one transaction.

create table public.interview_token (
  jti uuid primary key default private.uuid_v7(),
  profile_interview_id uuid not null,
  merchant_id uuid not null,
  interview_def_set_id uuid not null,
  position_def_set_id uuid,
  is_test boolean not null default false,
  issued_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz,
  constraint interview_token_expires_after_issue check (expires_at > issued_at),
  -- One foreign-key check per token (a thousand per batch) that also proves its merchant and
  -- interview are its enrolment's.
  constraint interview_token_enrolment_fkey
    foreign key (profile_interview_id, merchant_id, interview_def_set_id)
    references public.profile_interview (id, merchant_id, interview_def_set_id) on delete cascade,
  constraint interview_token_position_fkey foreign key (position_def_set_id, merchant_id)
    references public.position_def_set (id, merchant_id) on delete set null (position_def_set_id)
);
create index interview_token_position_idx on public.interview_token (position_def_set_id)
  where position_def_set_id is not null;
create index interview_token_enrolment_idx on public.interview_token (profile_interview_id);
create index interview_token_merchant_idx on public.interview_token (merchant_id);

alter table public.interview_token enable row level security;
-- Token records are written only by the SQL functions; staff may read their merchants' records.
create policy interview_token_select_staff on public.interview_token for select to authenticated
  using (merchant_id in (select private.visible_merchant_ids()));

-- One row per invitation email to send. Written in the registration's transaction, so an
-- accepted registration always has its email recorded; sent by the dispatcher, which claims rows
-- with `for update skip locked`. The email's link has its own token record (`token_jti`), signed
-- when the email is sent: Ed25519 signatures are deterministic, so a retry renders the same bytes.
create type public.email_status as enum ('pending', 'sending', 'sent', 'failed');

create table public.email_outbox (
  id uuid primary key default private.uuid_v7(),
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  profile_interview_id uuid not null references public.profile_interview (id) on delete cascade,
  token_jti uuid not null references public.interview_token (jti) on delete cascade,
  -- The id the caller registered with (an interview or a position), for the link.
  link_interview_id uuid not null,
  view_hm boolean not null default false,
  view_hi boolean not null default false,
  status public.email_status not null default 'pending',
  attempts smallint not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  -- A claimed row belongs to its sender until then; after that another sender may take it.
  locked_until timestamptz,
  -- Idempotency key of the provider call that carried the row, kept while its outcome is unknown.
  batch_key text,
  provider_id text,
  last_error text check (length(last_error) <= 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz
);
-- At most one unsent invitation per enrolment: asking again while one waits sends one email.
create unique index email_outbox_one_unsent_idx on public.email_outbox (profile_interview_id)
  where status in ('pending', 'sending');
create index email_outbox_due_idx on public.email_outbox (next_attempt_at)
  where status in ('pending', 'sending');
create index email_outbox_merchant_idx on public.email_outbox (merchant_id);
create index email_outbox_token_idx on public.email_outbox (token_jti);

create trigger email_outbox_touch before update on public.email_outbox
  for each row execute function public.touch_updated_at();

alter table public.email_outbox enable row level security;
create policy email_outbox_select_staff on public.email_outbox for select to authenticated
  using (merchant_id in (select private.visible_merchant_ids()));

-- register_interview_users: authorises the caller, resolves the merchant and the interview (or
-- position), and upserts every candidate of the batch with a token record, all in one
-- transaction and one round trip; with an Idempotency-Key, the answer's record commits in the
-- same transaction. Called only by the endpoint with the service role, after admit_registration
-- (which counted the request and replayed a stored answer): `p_caller_id` is the verified user
-- id, or null for a service-key caller. Problems with the request as a whole come back as
-- {"error": {"status", "message", "name"}}; per-candidate outcomes as `rows`, in input order.
--
-- Time: the statement ends within `statement_timeout` (PostgREST applies a function's own
-- setting to the request's transaction), well inside the platform's 8 s and below the time the
-- endpoint waits (DB_TIMEOUT_MS), so a time-out is always PostgreSQL's, and rolls everything
-- back. Waiting for another registration of the merchant takes at most `lock_timeout` of it.
create function public.register_interview_users(
  p_caller_id uuid,
  p_merchant_id uuid,
  p_interview_id uuid,
  p_is_test boolean,
  p_users jsonb,
  p_token_ttl_seconds integer,
  p_send_email boolean default false,
  p_view jsonb default '{}'::jsonb,
  p_revoke_previous boolean default false,
  -- {"key", "hash", "ttl_seconds"} when the request carries an Idempotency-Key.
  p_idempotency jsonb default null
) returns jsonb
language plpgsql
security definer
set search_path = ''
-- Restores the planner setting the batch statement turns off for itself.
set enable_nestloop = on
set statement_timeout = '5s'
set lock_timeout = '3s'
as $$
declare
  v_who jsonb;
  v_merchant public.merchant;
  v_merchant_id uuid;
  v_interview public.interview_def_set;
  v_position public.position_def_set;
  v_headroom integer;
  v_expires_at timestamptz;
  v_send_email boolean;
  v_replay jsonb;
  v_rows jsonb;
  v_outcome jsonb;
begin
  if p_token_ttl_seconds is null or p_token_ttl_seconds < 60 then
    raise exception 'p_token_ttl_seconds must be at least 60' using errcode = '22023';
  end if;

  v_who := public.resolve_registration_merchant(p_caller_id, p_merchant_id);
  if v_who ? 'error' then
    return jsonb_build_object('error', v_who -> 'error');
  end if;
  v_merchant_id := (v_who ->> 'merchant_id')::uuid;

  -- Serialise registrations of one merchant: the invitation headroom can then never be
  -- overdrawn, and two requests cannot race to enrol the same email or to use the same key.
  select m.* into v_merchant from public.merchant m where m.id = v_merchant_id for no key update;
  if not found then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'message', 'merchant not found', 'name', 'merchant_id'));
  end if;

  -- The key again, now that no other registration of the merchant runs: a request with the same
  -- key that committed since the admission is answered from its record.
  if p_idempotency is not null then
    delete from public.idempotency_request r
    where r.merchant_id = v_merchant_id and r.key = p_idempotency ->> 'key'
      and r.expires_at <= now();
    v_replay := public.replay_idempotent_request(v_merchant_id, p_idempotency ->> 'key',
      p_idempotency ->> 'hash');
    if v_replay is not null then
      return v_replay || jsonb_build_object('merchant_id', v_merchant_id);
    end if;
  end if;

  -- The interview: a definition or a position of this merchant. Any other id, including another
  -- merchant's, gets the same answer, so the response never tells whether it exists elsewhere.
  select i.* into v_interview
  from public.interview_def_set i
  where i.id = p_interview_id and i.merchant_id = v_merchant_id;
  if not found then
    select p.* into v_position
    from public.position_def_set p
    where p.id = p_interview_id and p.merchant_id = v_merchant_id;
    if found then
      select i.* into v_interview
      from public.position_interview pi
      join public.interview_def_set i
        on i.id = pi.interview_def_set_id and i.merchant_id = pi.merchant_id
      where pi.position_def_set_id = v_position.id and pi.merchant_id = v_merchant_id
      order by pi.stage
      limit 1;
    end if;
    if v_interview.id is null then
      return jsonb_build_object('error', jsonb_build_object(
        'status', 422, 'message', 'interview not found', 'name', 'interview_id'));
    end if;
  end if;

  if v_interview.status in ('archived', 'deleted', 'completed')
     or v_position.status in ('archived', 'deleted', 'completed') then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'message', 'interview is ' || coalesce(
        case when v_position.status in ('archived', 'deleted', 'completed')
          then v_position.status::text end, v_interview.status::text)
        || ' and takes no candidates', 'name', 'interview_id'));
  end if;
  if (v_interview.status in ('draft', 'preparing') or v_position.status in ('draft', 'preparing'))
     and not p_is_test then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'message', 'interview is not published yet: only is_test registrations are allowed',
      'name', 'interview_id'));
  end if;
  if v_interview.interview_available_till is not null
     and v_interview.interview_available_till <= now() + interval '1 minute' then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'message', 'interview is no longer available', 'name', 'interview_id'));
  end if;

  v_headroom := case when v_merchant.invitations_limit is null then null
    else greatest(v_merchant.invitations_limit - v_merchant.invitations_sent, 0) end;
  v_expires_at := least(
    now() + make_interval(secs => p_token_ttl_seconds),
    coalesce(v_interview.interview_available_till, 'infinity'::timestamptz)
  );

  -- Merchants with candidate emails off send none; a test registration's email goes out marked
  -- as a test (and, like its enrolment, draws nothing from the headroom).
  v_send_email := coalesce(p_send_email, false) and v_merchant.candidate_emails_enabled;

  -- The batch, set-wise: first row of an email wins; new real enrolments draw on the headroom in
  -- input order; accepted rows are upserted and each gets a token record.
  -- The CTEs below join one another, and the planner cannot know their sizes: nested loops
  -- over them would grow with the square of the batch. Table lookups are scalar subqueries
  -- (index scans per row), which this does not affect.
  perform set_config('enable_nestloop', 'off', true);
  with input as (
    select u.i, nullif(btrim(u.name), '') as name, btrim(u.email) as email,
      nullif(btrim(u.external_id), '') as external_id
    from jsonb_to_recordset(p_users) as u (i integer, name text, email text, external_id text)
  ),
  ranked as (
    select input.*, row_number() over (partition by lower(input.email) order by input.i) as seen
    from input
  ),
  firsts as (
    -- A new enrolment, or a test one turning real, draws an invitation; the scalar subquery
    -- stays an index lookup per row, whatever the size of the interview.
    select r.i, r.name, r.email, r.external_id,
      not p_is_test and coalesce((
        select e.is_test from public.profile_interview e
        where e.interview_def_set_id = v_interview.id and lower(e.email) = lower(r.email)
      ), true) as draws
    from ranked r
    where r.seen = 1
  ),
  -- New real enrolments draw on the headroom in input order.
  numbered as (
    select f.*, row_number() over (partition by f.draws order by f.i) as n
    from firsts f
  ),
  accepted as (
    select * from numbered
    where not draws or v_headroom is null or n <= v_headroom
  ),
  upserted as (
    insert into public.profile_interview as e (
      merchant_id, interview_def_set_id, position_def_set_id, profile_id, name, email,
      external_id, is_test, mojito_language_code
    )
    select v_merchant_id, v_interview.id, v_position.id,
      (select pr.id from public.profile pr
        where lower(pr.email) = lower(a.email) and pr.role = 'candidate' limit 1),
      a.name, a.email, a.external_id, p_is_test, v_interview.mojito_language_code
    from accepted a
    on conflict (interview_def_set_id, lower(email)) do update set
      name = coalesce(excluded.name, e.name),
      external_id = coalesce(excluded.external_id, e.external_id),
      position_def_set_id = coalesce(excluded.position_def_set_id, e.position_def_set_id),
      profile_id = coalesce(e.profile_id, excluded.profile_id),
      is_test = e.is_test and excluded.is_test,
      status = case when e.status = 'deleted' then 'active'::public.enrolment_status
        else e.status end
    returning e.id, lower(e.email) as email_key
  ),
  tokens as (
    insert into public.interview_token (
      profile_interview_id, merchant_id, interview_def_set_id, position_def_set_id, is_test,
      expires_at
    )
    select u.id, v_merchant_id, v_interview.id, v_position.id, p_is_test, v_expires_at
    from upserted u
    returning jti, profile_interview_id
  ),
  email_tokens as (
    insert into public.interview_token (
      profile_interview_id, merchant_id, interview_def_set_id, position_def_set_id, is_test,
      expires_at
    )
    select u.id, v_merchant_id, v_interview.id, v_position.id, p_is_test, v_expires_at
    from upserted u
    where v_send_email
      -- An address that bounced or complained gets nothing more from this merchant.
      and not exists (select 1 from public.email_suppression s
        where s.merchant_id = v_merchant_id and lower(s.email) = u.email_key)
    returning jti, profile_interview_id
  ),
  queued as (
    insert into public.email_outbox (
      merchant_id, profile_interview_id, token_jti, link_interview_id, view_hm, view_hi, is_test
    )
    select v_merchant_id, et.profile_interview_id, et.jti, p_interview_id,
      coalesce((p_view ->> 'hide_menu')::boolean, false),
      coalesce((p_view ->> 'hide_iframe')::boolean, false), p_is_test
    from email_tokens et
    on conflict (profile_interview_id) where status in ('pending', 'sending')
      and kind = 'invitation' do nothing
    returning id, profile_interview_id
  ),
  -- A new invitation restarts the chain: the previous link's reminders that have not gone out
  -- are cancelled (one already in a send group goes as it is).
  -- (An index lookup by enrolment, whatever the join settings of this statement.)
  superseded as (
    update public.email_outbox r
    set status = 'skipped', skip_reason = 'superseded'
    where r.profile_interview_id = any (array(select q.profile_interview_id from queued q))
      and r.kind = 'reminder' and r.status = 'pending' and r.batch_id is null
  ),
  -- revoke_previous: earlier unused links of these enrolments stop working, except those an
  -- unsent invitation still carries. (This statement's own new tokens are not in its snapshot.)
  revoked as (
    update public.interview_token old
    set revoked_at = now()
    from upserted u
    where p_revoke_previous
      and old.profile_interview_id = u.id
      and old.used_at is null
      and old.revoked_at is null
      and not exists (
        select 1 from public.email_outbox o
        where o.token_jti = old.jti and o.status in ('pending', 'sending')
      )
  ),
  counted as (
    update public.merchant m
    set invitations_sent = m.invitations_sent + (select count(*) from accepted a where a.draws)
    where m.id = v_merchant_id and exists (select 1 from accepted a where a.draws)
  )
  select jsonb_agg(
    case
      when r.seen > 1 then jsonb_build_object('i', r.i, 'error', 'duplicate email in this request')
      when u.id is null then jsonb_build_object('i', r.i, 'error', 'invitation limit reached')
      else jsonb_build_object('i', r.i, 'profile_interview_id', u.id, 'jti', t.jti,
        'email', case when not v_send_email then 'skipped'
          when q.id is null and exists (select 1 from public.email_suppression s
            where s.merchant_id = v_merchant_id and lower(s.email) = u.email_key)
          then 'skipped' else 'queued' end,
        'email_skipped_reason', case
          when not coalesce(p_send_email, false) then 'not_requested'
          when not v_merchant.candidate_emails_enabled then 'emails_disabled'
          when q.id is null and exists (select 1 from public.email_suppression s
            where s.merchant_id = v_merchant_id and lower(s.email) = u.email_key)
          then 'suppressed'
        end,
        'email_outbox_id', q.id)
    end
    order by r.i
  )
  into v_rows
  from ranked r
  left join upserted u on u.email_key = lower(r.email) and r.seen = 1
  left join tokens t on t.profile_interview_id = u.id
  left join queued q on q.profile_interview_id = u.id;

  -- Everything an answer is made of, tokens excepted: they are signed from these claims, with
  -- this issue time, now and on every replay.
  v_outcome := jsonb_build_object(
    'merchant_id', v_merchant_id,
    'interview', jsonb_build_object(
      'interview_def_set_id', v_interview.id,
      'position_def_set_id', v_position.id,
      'name', v_interview.name,
      'language', v_interview.mojito_language_code
    ),
    'frontend_domain', v_merchant.interview_frontend_domain,
    'expires_at', v_expires_at,
    'issued_at', floor(extract(epoch from now()))::bigint,
    'rows', coalesce(v_rows, '[]'::jsonb)
  );
  if p_idempotency is not null then
    insert into public.idempotency_request (merchant_id, key, request_hash, outcome, expires_at)
    values (v_merchant_id, p_idempotency ->> 'key', p_idempotency ->> 'hash', v_outcome,
      now() + make_interval(secs => coalesce((p_idempotency ->> 'ttl_seconds')::integer, 86400)));
  end if;
  return v_outcome;
end
$$;
