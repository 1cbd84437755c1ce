-- Sending invitation emails: claiming due outbox rows (several senders never take the same row)
-- and recording what the provider answered, each in one round trip. Service role only.

-- Claims up to p_limit due rows (or only the rows p_ids names), marks them as being sent until a
-- lease runs out, and returns everything needed to render and sign each email. A row whose
-- sender died is due again once its lease has passed.
create function public.claim_invitation_emails(
  p_limit integer,
  p_ids uuid[] default null,
  p_lease_seconds integer default 120
) returns jsonb
language sql
security definer
set search_path = ''
as $$
  with due as (
    select o.id
    from public.email_outbox o
    where (o.status = 'pending' or (o.status = 'sending' and o.locked_until < now()))
      and o.next_attempt_at <= now()
      and (p_ids is null or o.id = any (p_ids))
    order by o.next_attempt_at, o.batch_key nulls last, o.id
    limit p_limit
    for update skip locked
  ),
  claimed as (
    update public.email_outbox o
    set status = 'sending',
      attempts = o.attempts + 1,
      locked_until = now() + make_interval(secs => p_lease_seconds)
    from due
    where o.id = due.id
    returning o.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
    'id', c.id,
    'attempts', c.attempts,
    'batch_key', c.batch_key,
    'link_interview_id', c.link_interview_id,
    'view_hm', c.view_hm,
    'view_hi', c.view_hi,
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
      'iat', floor(extract(epoch from t.issued_at))::bigint,
      'exp', floor(extract(epoch from t.expires_at))::bigint
    )
  ) order by c.next_attempt_at, c.batch_key, c.id), '[]'::jsonb)
  from claimed c
  join public.profile_interview e on e.id = c.profile_interview_id
  join public.interview_def_set i on i.id = e.interview_def_set_id
  join public.merchant m on m.id = c.merchant_id
  join public.interview_token t on t.jti = c.token_jti
$$;

-- Records outcomes: [{id, outcome: sent|failed|retry, provider_id, error, retry_at, batch_key}].
-- A retry past p_max_attempts fails for good. Sent rows mark their enrolment as invited.
create function public.record_invitation_outcomes(
  p_outcomes jsonb,
  p_max_attempts integer
) returns jsonb
language sql
security definer
set search_path = ''
as $$
  with outcome as (
    select *
    from jsonb_to_recordset(p_outcomes) as x (
      id uuid, outcome text, provider_id text, error text, retry_at timestamptz, batch_key text
    )
  ),
  updated as (
    update public.email_outbox o
    set status = case
        when x.outcome = 'sent' then 'sent'::public.email_status
        when x.outcome = 'failed' or o.attempts >= p_max_attempts then 'failed'::public.email_status
        else 'pending'::public.email_status
      end,
      provider_id = coalesce(x.provider_id, o.provider_id),
      last_error = case
        when x.outcome = 'retry' and o.attempts >= p_max_attempts
          then left(format('gave up after %s attempts: %s', o.attempts, x.error), 1000)
        else left(x.error, 1000)
      end,
      next_attempt_at = case when x.outcome = 'retry' then coalesce(x.retry_at, now())
        else o.next_attempt_at end,
      batch_key = case when x.outcome = 'retry' then x.batch_key end,
      locked_until = null,
      sent_at = case when x.outcome = 'sent' then now() end
    from outcome x
    where o.id = x.id and o.status = 'sending'
    returning o.id, o.status, o.profile_interview_id, o.last_error
  ),
  -- Marking enrolments invited never waits: a registration may hold an enrolment while it waits
  -- for this transaction's outbox rows, and waiting back would deadlock. A skipped enrolment only
  -- keeps the status "active".
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
    'error', u.last_error)), '[]'::jsonb)
  from updated u
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
