-- Sending invitation emails exactly once. Due outbox rows are formed into send groups
-- (`email_send_batch`, at most 100 emails: one provider call); each group gets its provider
-- Idempotency-Key when it is formed, and the exact payload it sends (the link's token left as a
-- placeholder, signed again at send time from the stored claims: Ed25519 is deterministic) is
-- stored before its first call. Every retry of a group, by any sender, after any crash, sends
-- that payload under that key; a row belongs to one group until the group is settled. Only a
-- group that certainly reached no one (never called, or every call refused) is dissolved and its
-- rows formed anew. Claiming takes groups and rows with `for update skip locked`, so two senders
-- never hold the same one. Service role only.

create type public.email_batch_state as enum ('sending', 'waiting', 'done');

create table public.email_send_batch (
  id uuid primary key default gen_random_uuid(),
  idempotency_key text not null unique,
  state public.email_batch_state not null default 'sending',
  -- Calls handed out so far; a sender's outcome counts only for the attempt it was given.
  attempts smallint not null default 1 check (attempts >= 0),
  -- [{outbox_id, email: {from, to, subject, html, text, reply_to}, claims}], frozen before the
  -- first call and dropped once the group is settled. Never a token or a link: the link's token
  -- is a placeholder here.
  payload jsonb,
  -- A call's outcome was unknown, so the provider may hold these emails: from then on only this
  -- payload under this key may go out.
  maybe_sent boolean not null default false,
  next_attempt_at timestamptz not null default now(),
  -- A leased group belongs to its sender until then; after that another sender may take it.
  locked_until timestamptz,
  outcome text check (outcome in ('sent', 'failed', 'released', 'expired')),
  last_error text check (length(last_error) <= 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  settled_at timestamptz
);
create index email_send_batch_due_idx on public.email_send_batch (next_attempt_at)
  where state <> 'done';

create trigger email_send_batch_touch before update on public.email_send_batch
  for each row execute function public.touch_updated_at();

-- Frozen payloads hold candidates' names and addresses: no API role reads them; only the
-- dispatch functions below touch this table.
alter table public.email_send_batch enable row level security;

-- Rows point to the group that carries them; the per-row lease and key give way to the group's.
alter table public.email_outbox
  drop column batch_key,
  drop column locked_until,
  add column batch_id uuid references public.email_send_batch (id) on delete set null,
  -- Why a row was not sent (status `skipped`), decided when it was about to be.
  add column skip_reason text check (skip_reason in ('token_revoked', 'token_used',
    'token_expired', 'enrolment_deleted', 'interview_unavailable', 'emails_disabled'));
create index email_outbox_batch_idx on public.email_outbox (batch_id) where batch_id is not null;

-- Claims work for one sender: first groups whose retry is due or whose sender's lease ran out
-- (whole, with their stored payload), then new groups formed from due rows (at most p_limit rows
-- in all, or only the rows p_ids names). A row whose email must no longer go out is marked
-- `skipped` with its reason instead. Returns {batches: [{id, key, attempt, payload, rows}],
-- skipped: [{id, reason}]}; `rows` carries what a group without a payload needs to be rendered.
create function public.claim_invitation_emails(
  p_limit integer,
  p_ids uuid[] default null,
  p_lease_seconds integer default 120,
  p_max_attempts integer default 8,
  -- Resend keeps a key 24 hours from its first call; a group formed longer ago than this is
  -- never sent again under its key.
  p_window_seconds integer default 82800
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_lease timestamptz := now() + make_interval(secs => p_lease_seconds);
  v_due uuid[];
  v_again uuid[];
  v_new uuid[];
  v_rows integer;
  v_skipped jsonb;
begin
  -- 1. Groups already formed, taken whole. The new emails of a registration (p_ids) never wait
  --    for them.
  if p_ids is null then
    select coalesce(array_agg(b.id), '{}') into v_due
    from (
      select b.id
      from public.email_send_batch b
      where (b.state = 'waiting' and b.next_attempt_at <= now())
         or (b.state = 'sending' and b.locked_until < now())
      order by b.next_attempt_at
      limit ceil(p_limit / 100.0)
      for update skip locked
    ) b;

    -- A sender died before it stored a payload: nothing was sent, so its rows are free again.
    with released as (
      update public.email_send_batch b
      set state = 'done', outcome = 'released', locked_until = null, settled_at = now()
      where b.id = any (v_due) and b.payload is null
      returning b.id
    )
    update public.email_outbox o
    set status = 'pending', batch_id = null
    from released r
    where o.batch_id = r.id and o.status = 'sending';

    -- Past the provider's key window, or out of attempts, with the outcome unknown: sending
    -- again could deliver twice, so the rows fail with the reason.
    with expired as (
      update public.email_send_batch b
      set state = 'done', locked_until = null, settled_at = now(), payload = null,
        outcome = case when b.created_at < now() - make_interval(secs => p_window_seconds)
          then 'expired' else 'failed' end,
        last_error = case when b.created_at < now() - make_interval(secs => p_window_seconds)
          then 'not sent again: the provider''s 24-hour idempotency window passed while the '
            || 'outcome of an earlier call was unknown'
          else format('gave up after %s attempts; the outcome of the last call is unknown',
            b.attempts) end
      where b.id = any (v_due) and b.payload is not null
        and (b.created_at < now() - make_interval(secs => p_window_seconds)
          or b.attempts >= p_max_attempts)
      returning b.id, b.last_error
    )
    update public.email_outbox o
    set status = 'failed', last_error = x.last_error
    from expired x
    where o.batch_id = x.id and o.status = 'sending';

    -- The rest go out again as they are: same rows, same payload, same key.
    with again as (
      update public.email_send_batch b
      set state = 'sending', attempts = b.attempts + 1, locked_until = v_lease,
        -- A lease that ran out may have been a sender dying during its call.
        maybe_sent = b.maybe_sent or b.state = 'sending'
      where b.id = any (v_due) and b.state <> 'done'
      returning b.id
    ),
    counted as (
      update public.email_outbox o
      set attempts = o.attempts + 1
      from again a
      where o.batch_id = a.id and o.status = 'sending'
    )
    select coalesce(array_agg(a.id), '{}') into v_again from again a;
  else
    v_again := '{}';
  end if;

  select count(*) into v_rows from public.email_outbox o where o.batch_id = any (v_again);

  -- 2. New groups from due rows, checked at the moment of sending.
  with due as (
    select o.id, o.next_attempt_at
    from public.email_outbox o
    where o.status = 'pending' and o.batch_id is null and o.next_attempt_at <= now()
      and (p_ids is null or o.id = any (p_ids))
    order by o.next_attempt_at, o.id
    limit greatest(p_limit - v_rows, 0)
    for update skip locked
  ),
  checked as (
    select d.id, d.next_attempt_at, case
        when t.revoked_at is not null then 'token_revoked'
        when t.used_at is not null then 'token_used'
        when t.expires_at <= now() then 'token_expired'
        when e.status = 'deleted' then 'enrolment_deleted'
        -- A test registration's email may go for an interview not yet published.
        when i.status in ('archived', 'deleted', 'completed')
          or (i.status in ('draft', 'preparing') and not o.is_test)
          or i.interview_available_till <= now()
          or p.status in ('archived', 'deleted', 'completed')
          or (p.status in ('draft', 'preparing') and not o.is_test)
          then 'interview_unavailable'
        when not m.candidate_emails_enabled then 'emails_disabled'
        -- The address bounced or complained: nothing more goes to it from this merchant.
        when exists (select 1 from public.email_suppression s
          where s.merchant_id = o.merchant_id and lower(s.email) = lower(e.email))
          then 'suppressed'
        -- A reminder is for candidates who have not started.
        when o.kind = 'reminder' and exists (select 1 from public.interview_result a
          where a.profile_interview_id = o.profile_interview_id)
          then 'attempt_started'
      end as reason
    from due d
    join public.email_outbox o on o.id = d.id
    join public.interview_token t on t.jti = o.token_jti
    join public.profile_interview e on e.id = o.profile_interview_id
    join public.interview_def_set i on i.id = e.interview_def_set_id
    left join public.position_def_set p on p.id = t.position_def_set_id
    join public.merchant m on m.id = o.merchant_id
  ),
  skipped as (
    update public.email_outbox o
    set status = 'skipped', skip_reason = c.reason, last_error = null
    from checked c
    where o.id = c.id and c.reason is not null
    returning o.id, o.skip_reason
  ),
  live as (
    select c.id, (row_number() over (order by c.next_attempt_at, c.id) - 1) / 100 as g
    from checked c
    where c.reason is null
  ),
  groups as materialized (
    select l.g, gen_random_uuid() as id from live l group by l.g
  ),
  formed as (
    insert into public.email_send_batch (id, idempotency_key, locked_until)
    select g.id, 'invitations-' || g.id, v_lease from groups g
    returning id
  ),
  assigned as (
    update public.email_outbox o
    set status = 'sending', batch_id = g.id, attempts = o.attempts + 1, last_error = null
    from live l join groups g on g.g = l.g
    where o.id = l.id
    returning o.id
  )
  select
    (select coalesce(array_agg(f.id), '{}') from formed f),
    (select coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'reason', s.skip_reason)),
      '[]'::jsonb) from skipped s)
  into v_new, v_skipped;

  -- 3. What the sender needs: stored payloads, or the data to render a new group's.
  return jsonb_build_object(
    'skipped', v_skipped,
    'batches', coalesce((
      select jsonb_agg(jsonb_build_object(
        'id', b.id,
        'key', b.idempotency_key,
        'attempt', b.attempts,
        'payload', b.payload,
        'rows', case when b.payload is not null then '[]'::jsonb else (
          select jsonb_agg(jsonb_build_object(
            'id', o.id,
            'kind', o.kind,
            'is_test', o.is_test,
            'link_interview_id', o.link_interview_id,
            'view_hm', o.view_hm,
            'view_hi', o.view_hi,
            'candidate', jsonb_build_object('name', e.name, 'email', e.email),
            'interview', jsonb_build_object('name', i.name, 'language', i.mojito_language_code),
            'merchant', jsonb_build_object(
              'name', m.name,
              'sender_name', m.email_sender_name,
              'reply_to', m.email_reply_to,
              'brand_color', m.brand_color,
              'logo_url', m.logo_url,
              'frontend_domain', m.interview_frontend_domain
            ),
            'token', jsonb_build_object(
              'jti', t.jti,
              'sub', t.profile_interview_id,
              'merchant_id', t.merchant_id,
              'interview_id', t.interview_def_set_id,
              'position_id', t.position_def_set_id,
              'is_test', t.is_test,
              'iat', floor(extract(epoch from t.issued_at))::bigint,
              'exp', floor(extract(epoch from t.expires_at))::bigint
            )
          ) order by o.next_attempt_at, o.id)
          from public.email_outbox o
          join public.profile_interview e on e.id = o.profile_interview_id
          join public.interview_def_set i on i.id = e.interview_def_set_id
          join public.merchant m on m.id = o.merchant_id
          join public.interview_token t on t.jti = o.token_jti
          where o.batch_id = b.id and o.status = 'sending'
        ) end
      ) order by b.created_at, b.id)
      from public.email_send_batch b
      where b.id = any (v_again || v_new)
    ), '[]'::jsonb)
  );
end
$$;

-- Stores each new group's payload before its first call: [{id, attempt, payload}]. A payload
-- already stored stays. Returns the payload to send for every group this sender still holds.
create function public.freeze_invitation_batches(p_batches jsonb)
returns jsonb
language sql
security definer
set search_path = ''
as $$
  with input as (
    select * from jsonb_to_recordset(p_batches) as x (id uuid, attempt integer, payload jsonb)
  ),
  frozen as (
    update public.email_send_batch b
    set payload = coalesce(b.payload, x.payload)
    from input x
    where b.id = x.id and b.attempts = x.attempt and b.state = 'sending'
      and b.locked_until > now()
    returning b.id, b.payload
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', f.id, 'payload', f.payload)), '[]'::jsonb)
  from frozen f
$$;

-- Records what the provider answered for one call of a group (only for the attempt the sender
-- was given). p_result: {kind, results: [{id, provider_id, error}], error, retry_at}, kind one of
--   accepted  the provider took the call: each row sent (its id) or rejected (its reason);
--   refused   the provider certainly took nothing (e.g. 429): retry; a group no call of which may
--             have reached anyone is dissolved, so its rows are checked and grouped again;
--   unknown   no answer (time-out, 5xx, connection lost): the same payload goes again, same key;
--   rejected  the call can never succeed (e.g. the key is held for another payload): rows fail.
-- Returns [{id, status, error}] for the group's rows.
create function public.record_invitation_batch(
  p_batch_id uuid,
  p_attempt integer,
  p_result jsonb,
  p_max_attempts integer
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_batch public.email_send_batch;
  v_kind text := p_result ->> 'kind';
  v_error text := left(p_result ->> 'error', 1000);
  v_retry_at timestamptz := coalesce((p_result ->> 'retry_at')::timestamptz, now());
  v_out jsonb;
begin
  select b.* into v_batch from public.email_send_batch b
  where b.id = p_batch_id and b.attempts = p_attempt and b.state = 'sending'
  for update;
  if not found then
    return '[]'::jsonb;
  end if;

  if v_kind = 'accepted' then
    with result as (
      select * from jsonb_to_recordset(p_result -> 'results') as x (
        id uuid, provider_id text, error text)
    ),
    updated as (
      update public.email_outbox o
      set status = case when x.provider_id is not null then 'sent'::public.email_status
          else 'failed'::public.email_status end,
        provider_id = x.provider_id,
        last_error = left(x.error, 1000),
        sent_at = case when x.provider_id is not null then now() end
      from result x
      where o.id = x.id and o.batch_id = p_batch_id and o.status = 'sending'
      returning o.id, o.status, o.profile_interview_id, o.last_error, o.kind, o.merchant_id,
        o.token_jti, o.link_interview_id, o.view_hm, o.view_hi, o.is_test
    ),
    -- A sent invitation schedules its reminders (the interview's, the merchant's or the
    -- platform's delays, counted from now), sent by these same groups when due.
    reminders as (
      insert into public.email_outbox (merchant_id, profile_interview_id, token_jti,
        link_interview_id, view_hm, view_hi, is_test, kind, invitation_id, reminder_no,
        next_attempt_at)
      select u.merchant_id, u.profile_interview_id, u.token_jti, u.link_interview_id, u.view_hm,
        u.view_hi, u.is_test, 'reminder', u.id, d.n, now() + d.delay
      from updated u
      join public.profile_interview e on e.id = u.profile_interview_id
      cross join lateral unnest(private.reminder_delays_of(e.interview_def_set_id))
        with ordinality as d (delay, n)
      where u.status = 'sent' and u.kind = 'invitation'
      on conflict (invitation_id, reminder_no) where invitation_id is not null do nothing
    ),
    -- Marking enrolments invited never waits: a registration may hold an enrolment while it
    -- waits for this transaction's outbox rows, and waiting back would deadlock. A skipped
    -- enrolment only keeps the status "active".
    invited as (
      update public.profile_interview p
      set status = 'invited'
      where p.id in (
        select e.id
        from public.profile_interview e
        join updated u on u.profile_interview_id = e.id
        where u.status = 'sent' and e.status = 'active'
        for update of e skip locked
      )
    )
    select coalesce(jsonb_agg(jsonb_build_object('id', u.id, 'status', u.status,
      'error', u.last_error)), '[]'::jsonb) into v_out
    from updated u;
    update public.email_send_batch b
    set state = 'done', outcome = 'sent', locked_until = null, settled_at = now(), payload = null,
      last_error = null
    where b.id = p_batch_id;
    return v_out;
  end if;

  if v_kind = 'rejected'
     or (v_kind in ('refused', 'unknown') and v_batch.attempts >= p_max_attempts) then
    v_error := case when v_kind = 'rejected' then v_error
      else format('gave up after %s attempts: %s', v_batch.attempts, v_error) end;
    update public.email_send_batch b
    set state = 'done', outcome = 'failed', locked_until = null, settled_at = now(), payload = null,
      last_error = v_error
    where b.id = p_batch_id;
    with failed as (
      update public.email_outbox o
      set status = 'failed', last_error = v_error
      where o.batch_id = p_batch_id and o.status = 'sending'
      returning o.id
    )
    select coalesce(jsonb_agg(jsonb_build_object('id', f.id, 'status', 'failed',
      'error', v_error)), '[]'::jsonb) into v_out
    from failed f;
    return v_out;
  end if;

  if v_kind = 'refused' and not v_batch.maybe_sent then
    update public.email_send_batch b
    set state = 'done', outcome = 'released', locked_until = null, settled_at = now(),
      payload = null, last_error = v_error
    where b.id = p_batch_id;
    with released as (
      update public.email_outbox o
      set status = 'pending', batch_id = null, next_attempt_at = v_retry_at, last_error = v_error
      where o.batch_id = p_batch_id and o.status = 'sending'
      returning o.id
    )
    select coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'status', 'pending',
      'error', v_error)), '[]'::jsonb) into v_out
    from released r;
    return v_out;
  end if;

  -- Unknown (or refused after an unknown call): the group waits for its retry, whole.
  update public.email_send_batch b
  set state = 'waiting', next_attempt_at = v_retry_at, locked_until = null,
    last_error = v_error, maybe_sent = b.maybe_sent or v_kind <> 'refused'
  where b.id = p_batch_id;
  with waiting as (
    update public.email_outbox o
    set last_error = v_error
    where o.batch_id = p_batch_id and o.status = 'sending'
    returning o.id
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', w.id, 'status', 'sending',
    'error', v_error)), '[]'::jsonb) into v_out
  from waiting w;
  return v_out;
end
$$;

-- On Supabase, where pg_cron, pg_net and Vault exist, drain the outbox every minute by calling the
-- dispatch function with the project URL and a service key kept in Vault (secrets `project_url`
-- and `email_dispatch_key`; see README). Without both secrets (as under `supabase start`) nothing
-- is scheduled: a job would post to a null URL every minute. Once they are stored, running
-- `select public.schedule_email_dispatch();` schedules it (again, idempotently). The local stack
-- runs the same dispatch on a timer instead.
create function public.schedule_email_dispatch() returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_missing text[];
begin
  if to_regnamespace('cron') is null or to_regnamespace('net') is null
     or to_regclass('vault.decrypted_secrets') is null then
    raise notice 'email dispatch not scheduled: pg_cron, pg_net or Vault is missing';
    return 'skipped: pg_cron, pg_net or Vault is missing';
  end if;
  execute $q$
    select array_agg(n) from unnest(array['project_url', 'email_dispatch_key']) as n
    where not exists (select 1 from vault.decrypted_secrets s
      where s.name = n and coalesce(s.decrypted_secret, '') <> '')
  $q$ into v_missing;
  if v_missing is not null then
    raise notice 'email dispatch not scheduled: Vault has no % secret. Store it with '
      'vault.create_secret(<value>, <name>), then run select public.schedule_email_dispatch();',
      array_to_string(v_missing, ' or ');
    return 'skipped: Vault has no ' || array_to_string(v_missing, ', ');
  end if;
  -- The job reads both secrets on every run and posts nothing when one has been removed since.
  execute $q$
    select cron.schedule('job-interview-email-dispatch', '* * * * *', $job$
      select net.http_post(
        url := u.decrypted_secret || '/functions/v1/job-interview-email-dispatch',
        headers := jsonb_build_object(
          'content-type', 'application/json',
          -- Both headers: the hosted gateway passes an sb_ key in Authorization on to the
          -- function, the CLI's gateway only one named by apikey.
          'apikey', k.decrypted_secret,
          'authorization', 'Bearer ' || k.decrypted_secret
        ),
        body := '{}'::jsonb,
        timeout_milliseconds := 55000
      )
      from vault.decrypted_secrets u, vault.decrypted_secrets k
      where u.name = 'project_url' and k.name = 'email_dispatch_key'
    $job$)
  $q$;
  return 'scheduled';
end
$$;

do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_cron')
     and exists (select 1 from pg_available_extensions where name = 'pg_net')
     and exists (select 1 from pg_namespace where nspname = 'vault') then
    create extension if not exists pg_cron;
    create extension if not exists pg_net with schema extensions;
    perform public.schedule_email_dispatch();
  else
    raise notice 'email dispatch not scheduled: pg_cron, pg_net or Vault is missing '
      '(the local stack runs the dispatch on a timer)';
  end if;
end
$$;
