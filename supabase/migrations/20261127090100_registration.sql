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

-- Invitations drawn by registrations, counted per database session (its backend pid): a
-- session runs one transaction at a time and writes only its own row, so registrations of a
-- merchant without an invitation limit never wait for one another to count, and nobody writes
-- the merchant's row for each registration. A merchant's total is `merchant.invitations_sent`
-- plus its rows here (private.invitations_sent); private.fold_invitation_draws adds the rows to
-- the merchant's column and removes them, every minute.
create table public.invitation_draw (
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  slot integer not null,
  draws integer not null check (draws >= 0),
  primary key (merchant_id, slot)
);
alter table public.invitation_draw enable row level security;
-- Touched only by the SQL functions: no policies, and no privileges for any API role.

-- Every invitation a merchant has drawn: folded into its row, and not yet folded. (PL/pgSQL: an
-- SQL function with a `set` clause would be planned again in every registration's transaction.)
create function private.invitations_sent(p_merchant_id uuid) returns bigint
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  return (select m.invitations_sent + coalesce((select sum(d.draws) from public.invitation_draw d
      where d.merchant_id = m.id), 0)
    from public.merchant m where m.id = p_merchant_id);
end
$$;

-- Adds the per-session counts to the merchants' rows. It never waits: a merchant whose row a
-- registration holds (it has a limit), and a count a running registration holds, are left for
-- the next call; merchant rows are taken before count rows, in the order registrations take them.
create function private.fold_invitation_draws() returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_folded integer;
begin
  with merchants as (
    select m.id from public.merchant m
    where m.id in (select d.merchant_id from public.invitation_draw d)
    for no key update skip locked
  ),
  taken as (
    delete from public.invitation_draw d
    where d.ctid = any (array(
      select x.ctid from public.invitation_draw x
      where x.merchant_id in (select id from merchants)
      for update skip locked
    ))
    returning d.merchant_id, d.draws
  ),
  by_merchant as (
    select t.merchant_id, sum(t.draws) as draws from taken t group by t.merchant_id
  )
  update public.merchant m set invitations_sent = m.invitations_sent + b.draws
  from by_merchant b where m.id = b.merchant_id;
  get diagnostics v_folded = row_count;
  return v_folded;
end
$$;

-- A change of an invitation limit waits for the registrations under way (each holds this lock
-- shared until it commits) and holds off new ones until it commits: a registration never draws
-- on a limit it did not read. Per statement, before any row is locked, so that it never holds a
-- merchant's row while it waits.
create function private.await_registrations() returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(20261128, 1);
  return null;
end
$$;
create trigger merchant_limit_change_waits before update of invitations_limit on public.merchant
  for each statement execute function private.await_registrations();

-- A test enrolment turning real draws an invitation, counted where it happens: the registration's
-- statement sees the enrolment as it was when the statement began, and another registration may
-- have turned it real since.
create function private.count_turned_real() returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into public.invitation_draw as d (merchant_id, slot, draws)
  values (new.merchant_id, pg_backend_pid(), 1)
  on conflict (merchant_id, slot) do update set draws = d.draws + 1;
  return null;
end
$$;
create trigger profile_interview_turned_real after update of is_test on public.profile_interview
  for each row when (old.is_test and not new.is_test)
  execute function private.count_turned_real();

-- Every minute on Supabase, where pg_cron exists; the local stack folds on its purge timer.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_cron') then
    create extension if not exists pg_cron;
    perform cron.schedule('fold-invitation-draws', '* * * * *',
      'select private.fold_invitation_draws()');
  end if;
end
$$;

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

-- register_interview_users: admits the request (its key, its rate limit), resolves the merchant
-- and the interview (or position), and upserts every candidate of the batch with a token record,
-- all in one transaction and one round trip; with an Idempotency-Key, the answer's record commits
-- in the same transaction. Called only by the endpoint with the service role: `p_caller_id` is
-- the verified user id, or null for a service-key or API-key caller. Problems with the request as
-- a whole come back as {"error": {"status", "message", "name"}}; per-candidate outcomes as `rows`,
-- in input order; every answer carries the request's `rate`.
--
-- Waiting: the request is counted before anything is locked, and a registration that finds a lock
-- it needs taken (the row of a merchant with an invitation limit, its Idempotency-Key, a
-- candidate's enrolment that another registration is writing) does not wait with its count
-- uncommitted: it answers {"busy": true, "merchant_id", "rate"}, which
-- commits the count, and the endpoint calls again with `p_admitted` (counted, and the merchant
-- settled) to wait for the lock. A flood over the limit is refused at once; it never queues.
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
  p_idempotency jsonb default null,
  -- The merchant's requests a minute when its row sets none.
  p_rate_limit integer default 600,
  -- SHA-256 (hex) of the merchant API key the request carried (20261128120000_api_keys.sql).
  p_api_key_hash text default null,
  -- A second call after {"busy": true}: already admitted, `p_merchant_id` the settled merchant.
  p_admitted boolean default false
) returns jsonb
language plpgsql
security definer
set search_path = ''
-- Restores the planner setting the batch statement turns off for itself.
set enable_nestloop = on
-- Plans are made once per session and kept: planning the batch statement anew for every call
-- costs more than running it for a few candidates, and its plan does not depend on the values
-- (the batch's size is unknown to the planner either way). A plan is made again whenever ANALYZE
-- changes the tables' statistics (docs/BENCHMARKS.md, "Kept plans": an empty table's cost).
set plan_cache_mode = force_generic_plan
set statement_timeout = '5s'
set lock_timeout = '3s'
as $$
declare
  v_who jsonb;
  v_busy jsonb;
  v_rate jsonb;
  v_merchant public.merchant;
  v_merchant_id uuid;
  v_interview public.interview_def_set;
  v_position public.position_def_set;
  v_headroom integer;
  v_expires_at timestamptz;
  v_send_email boolean;
  v_email_skipped text;
  v_enrolled uuid[];
  v_minted uuid[];
  v_kept uuid[] := '{}';
  v_replay jsonb;
  v_rows jsonb;
  v_draws integer;
  v_outcome jsonb;
  v_key_lock bigint;
  v_existing integer;
  v_free integer;
begin
  if p_token_ttl_seconds is null or p_token_ttl_seconds < 60 then
    raise exception 'p_token_ttl_seconds must be at least 60' using errcode = '22023';
  end if;

  if p_admitted then
    v_who := public.resolve_registration_merchant(p_caller_id, p_merchant_id);
  else
    v_who := public.admit_registration(p_caller_id, p_merchant_id,
      p_idempotency - 'ttl_seconds', p_rate_limit, p_api_key_hash, p_is_test);
    if v_who ? 'replay' then
      return v_who;
    end if;
    v_rate := v_who -> 'rate';
  end if;
  if v_who ? 'error' then
    return jsonb_build_object('error', v_who -> 'error', 'rate', v_rate);
  end if;
  v_merchant_id := (v_who ->> 'merchant_id')::uuid;
  -- The answer when a lock is taken: the count commits, and the endpoint calls again to wait.
  v_busy := jsonb_build_object('busy', true, 'merchant_id', v_merchant_id, 'rate', v_rate);

  -- One request per Idempotency-Key at a time: the second one waits for the first one's answer.
  if p_idempotency is not null then
    v_key_lock := hashtextextended(v_merchant_id::text || '/' || (p_idempotency ->> 'key'), 0);
    if p_admitted then
      perform pg_advisory_xact_lock(v_key_lock);
    elsif not pg_try_advisory_xact_lock(v_key_lock) then
      return v_busy;
    end if;
  end if;

  -- Changes of any merchant's invitation limit wait for the registrations under way
  -- (merchant_limit_change_waits), so the limit read below holds until this one commits.
  if p_admitted then
    perform pg_advisory_xact_lock_shared(20261128, 1);
  elsif not pg_try_advisory_xact_lock_shared(20261128, 1) then
    return v_busy;
  end if;

  -- A merchant with an invitation limit: its registrations take turns on its row, so that the
  -- headroom can never be overdrawn. Without a limit they do not wait for one another.
  select m.* into v_merchant from public.merchant m where m.id = v_merchant_id;
  if v_merchant.invitations_limit is not null then
    if p_admitted then
      select m.* into v_merchant from public.merchant m where m.id = v_merchant_id
      for no key update;
    else
      select m.* into v_merchant from public.merchant m where m.id = v_merchant_id
      for no key update skip locked;
      if not found then
        return v_busy;
      end if;
    end if;
  end if;
  if v_merchant.id is null then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'message', 'merchant not found', 'name', 'merchant_id'), 'rate', v_rate);
  end if;

  -- The key again, now that no other request with it runs: one that committed since the
  -- admission is answered from its record.
  if p_idempotency is not null then
    delete from public.idempotency_request r
    where r.merchant_id = v_merchant_id and r.key = p_idempotency ->> 'key'
      and r.expires_at <= now();
    v_replay := public.replay_idempotent_request(v_merchant_id, p_idempotency ->> 'key',
      p_idempotency ->> 'hash');
    if v_replay is not null then
      return v_replay || jsonb_build_object('merchant_id', v_merchant_id, 'rate', v_rate);
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
        'status', 422, 'message', 'interview not found', 'name', 'interview_id'), 'rate', v_rate);
    end if;
  end if;

  if v_interview.status in ('archived', 'deleted', 'completed')
     or v_position.status in ('archived', 'deleted', 'completed') then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'message', 'interview is ' || coalesce(
        case when v_position.status in ('archived', 'deleted', 'completed')
          then v_position.status::text end, v_interview.status::text)
        || ' and takes no candidates', 'name', 'interview_id'), 'rate', v_rate);
  end if;
  if (v_interview.status in ('draft', 'preparing') or v_position.status in ('draft', 'preparing'))
     and not p_is_test then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'message', 'interview is not published yet: only is_test registrations are allowed',
      'name', 'interview_id'), 'rate', v_rate);
  end if;
  if v_interview.interview_available_till is not null
     and v_interview.interview_available_till <= now() + interval '1 minute' then
    return jsonb_build_object('error', jsonb_build_object(
      'status', 422, 'message', 'interview is no longer available', 'name', 'interview_id'), 'rate', v_rate);
  end if;

  -- A candidate whose enrolment another registration is writing: busy, as above, so that this
  -- request does not wait for it with its count uncommitted. The enrolments are only probed:
  -- the block is rolled back, which releases what it locked (the batch statement takes the rows
  -- in email order, and nothing may hold any of them before it).
  if not p_admitted then
    -- (One index look-up per candidate, lateral so that the planner cannot turn it into a scan
    -- of the interview's enrolments; a constant array of a thousand emails cost more to plan.)
    select count(*) into v_existing
    from jsonb_to_recordset(p_users) as u (email text)
    cross join lateral (
      select 1 from public.profile_interview e
      where e.interview_def_set_id = v_interview.id and lower(e.email) = lower(btrim(u.email))
      limit 1
    ) known;
    if v_existing > 0 then
      begin
        select count(*) into v_free
        from jsonb_to_recordset(p_users) as u (email text)
        cross join lateral (
          select 1 from public.profile_interview e
          where e.interview_def_set_id = v_interview.id and lower(e.email) = lower(btrim(u.email))
          for share skip locked
        ) probed;
        raise exception using errcode = 'JM001';
      exception when sqlstate 'JM001' then
        null;
      end;
      if v_free < v_existing then
        return v_busy;
      end if;
    end if;
  end if;

  v_headroom := case when v_merchant.invitations_limit is null then null
    else greatest(v_merchant.invitations_limit - private.invitations_sent(v_merchant_id), 0) end;
  v_expires_at := least(
    now() + make_interval(secs => p_token_ttl_seconds),
    coalesce(v_interview.interview_available_till, 'infinity'::timestamptz)
  );

  -- Merchants with candidate emails off send none; a test registration's email goes out marked
  -- as a test (and, like its enrolment, draws nothing from the headroom).
  v_send_email := coalesce(p_send_email, false) and v_merchant.candidate_emails_enabled;
  v_email_skipped := case when not coalesce(p_send_email, false) then 'not_requested'
    when not v_merchant.candidate_emails_enabled then 'emails_disabled' end;

  -- The batch, set-wise: first row of an email wins; new real enrolments draw on the headroom in
  -- input order; accepted rows are upserted and each gets a token record. Emails and
  -- revoke_previous are statements of their own, below, run only when asked for: a request
  -- executes and locks only what it uses.
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
  known as (
    -- The candidate's enrolment in this interview as this statement sees it: whether it is a
    -- test one, or null when there is none. The scalar subquery stays an index lookup per row,
    -- whatever the size of the interview.
    select r.i, r.name, r.email, r.external_id, (
        select e.is_test from public.profile_interview e
        where e.interview_def_set_id = v_interview.id and lower(e.email) = lower(r.email)
      ) as was_test
    from ranked r
    where r.seen = 1
  ),
  firsts as (
    -- A new enrolment, or a test one turning real, draws an invitation.
    select k.*, not p_is_test and coalesce(k.was_test, true) as draws
    from known k
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
    -- Every registration takes the rows of its candidates in the same order: two batches with
    -- candidates in common wait for each other instead of deadlocking.
    order by lower(a.email)
    on conflict (interview_def_set_id, lower(email)) do update set
      name = coalesce(excluded.name, e.name),
      external_id = coalesce(excluded.external_id, e.external_id),
      position_def_set_id = coalesce(excluded.position_def_set_id, e.position_def_set_id),
      profile_id = coalesce(e.profile_id, excluded.profile_id),
      is_test = e.is_test and excluded.is_test,
      status = case when e.status = 'deleted' then 'active'::public.enrolment_status
        else e.status end
    -- xmax is 0 only on a row this statement inserted (an updated one carries its lock).
    returning e.id, lower(e.email) as email_key, e.xmax = 0 as inserted
  ),
  tokens as (
    insert into public.interview_token (
      profile_interview_id, merchant_id, interview_def_set_id, position_def_set_id, is_test,
      expires_at
    )
    select u.id, v_merchant_id, v_interview.id, v_position.id, p_is_test, v_expires_at
    from upserted u
    returning jti, profile_interview_id
  )
  -- What was drawn: the new real enrolments this statement inserted (a registration of the same
  -- new candidate that committed first drew its invitation, and this one draws none); a test
  -- enrolment turning real is counted by profile_interview_turned_real as it happens.
  select (select count(*) from upserted u where u.inserted and not p_is_test),
    array(select u.id from upserted u), array(select t.jti from tokens t),
    jsonb_agg(
      case
        when r.seen > 1 then
          jsonb_build_object('i', r.i, 'error', 'duplicate email in this request')
        when u.id is null then jsonb_build_object('i', r.i, 'error', 'invitation limit reached')
        else jsonb_build_object('i', r.i, 'profile_interview_id', u.id, 'jti', t.jti,
          'email', 'skipped', 'email_skipped_reason', v_email_skipped, 'email_outbox_id', null)
      end
      order by r.i
    )
  into v_draws, v_enrolled, v_minted, v_rows
  from ranked r
  left join upserted u on u.email_key = lower(r.email) and r.seen = 1
  left join tokens t on t.profile_interview_id = u.id;

  if v_send_email then
    -- Each enrolment's invitation: a link of its own, carried by an outbox row, unless one is
    -- still waiting to go (then that one is the invitation) or the address is suppressed.
    with enrolled as (
      select e.id,
        -- An address that bounced or complained gets nothing more from this merchant.
        exists (select 1 from public.email_suppression s
          where s.merchant_id = v_merchant_id and lower(s.email) = lower(e.email)) as suppressed
      from public.profile_interview e
      where e.id = any (v_enrolled)
    ),
    email_tokens as (
      insert into public.interview_token (
        profile_interview_id, merchant_id, interview_def_set_id, position_def_set_id, is_test,
        expires_at
      )
      select x.id, v_merchant_id, v_interview.id, v_position.id, p_is_test, v_expires_at
      from enrolled x
      where not x.suppressed
      returning jti, profile_interview_id
    ),
    queued as (
      insert into public.email_outbox (
        merchant_id, profile_interview_id, token_jti, link_interview_id, view_hm, view_hi,
        is_test
      )
      select v_merchant_id, et.profile_interview_id, et.jti, p_interview_id,
        coalesce((p_view ->> 'hide_menu')::boolean, false),
        coalesce((p_view ->> 'hide_iframe')::boolean, false), p_is_test
      from email_tokens et
      on conflict (profile_interview_id) where status in ('pending', 'sending')
        and kind = 'invitation' do nothing
      returning id, profile_interview_id
    ),
    -- A new invitation restarts the chain: the previous link's reminders that have not gone
    -- out are cancelled (one already in a send group goes as it is).
    -- (An index lookup by enrolment, whatever the join settings of this statement.)
    superseded as (
      update public.email_outbox r
      set status = 'skipped', skip_reason = 'superseded'
      where r.profile_interview_id = any (array(select q.profile_interview_id from queued q))
        and r.kind = 'reminder' and r.status = 'pending' and r.batch_id is null
    )
    select v_minted || array(select et.jti from email_tokens et),
      -- For revoke_previous: the links of the invitations still to go as this statement saw
      -- them. One it found waiting (and so queued none) is the candidate's invitation, and its
      -- link keeps working even if it goes out before the revocation below looks.
      case when p_revoke_previous then array(
        select w.token_jti from public.email_outbox w
        where w.profile_interview_id = any (v_enrolled) and w.kind = 'invitation'
          and w.status in ('pending', 'sending')
      ) else '{}' end,
      jsonb_agg(
      case when x.id is null then o.r
        else o.r || jsonb_build_object(
          'email', case when q.id is null and x.suppressed then 'skipped' else 'queued' end,
          'email_skipped_reason', case when q.id is null and x.suppressed then 'suppressed' end,
          'email_outbox_id', q.id)
      end
      order by o.n
    )
    into v_minted, v_kept, v_rows
    from jsonb_array_elements(v_rows) with ordinality as o (r, n)
    left join enrolled x on x.id = (o.r ->> 'profile_interview_id')::uuid
    left join queued q on q.profile_interview_id = x.id;
  end if;

  -- revoke_previous: earlier unused links of these enrolments stop working, except those an
  -- unsent invitation still carries (or carried when the email statement looked), and those
  -- this registration made. (Nested loops again: each link's outbox rows are an index look-up.)
  if p_revoke_previous then
    perform set_config('enable_nestloop', 'on', true);
    update public.interview_token old
    set revoked_at = now()
    where old.profile_interview_id = any (v_enrolled)
      and old.used_at is null
      and old.revoked_at is null
      and old.jti <> all (v_minted)
      and old.jti <> all (v_kept)
      and not exists (
        select 1 from public.email_outbox o
        where o.token_jti = old.jti and o.status in ('pending', 'sending')
      );
  end if;

  -- The invitations drawn, in this session's own row: it waits for nobody.
  if v_draws > 0 then
    insert into public.invitation_draw as d (merchant_id, slot, draws)
    values (v_merchant_id, pg_backend_pid(), v_draws)
    on conflict (merchant_id, slot) do update set draws = d.draws + excluded.draws;
  end if;

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
  return v_outcome || jsonb_build_object('rate', v_rate);
end
$$;
