-- Retention: rows that only ever grow are removed once nothing needs them, in small batches, each
-- in its own short transaction, skipping rows someone holds. Kept: enrolments and attempts (the
-- business record), every token an attempt was started with (its audit), tokens an unsent
-- invitation carries, unexpired tokens, and idempotency keys while a replay may still come.
-- Removed, by default: token records 30 days after their link expired (a link is useless by then,
-- and support can still tell "expired" from "never issued" for a month), sent invitations after
-- 30 days and failed or skipped ones after 90 (with their settled send groups), delivery events
-- after 90 days, expired idempotency keys, rate-limit windows after an hour.

-- Looks up what the purge removes without scanning the tables.
create index interview_token_expires_idx on public.interview_token (expires_at)
  where used_at is null;
create index email_outbox_done_idx on public.email_outbox (updated_at)
  where status in ('sent', 'failed', 'skipped');
create index email_send_batch_settled_idx on public.email_send_batch (settled_at)
  where state = 'done';

-- One batch of at most p_batch rows per table; returns how many rows each lost.
create function private.purge_expired_batch(
  p_token_keep interval,
  p_sent_keep interval,
  p_failed_keep interval,
  p_counter_keep interval,
  p_batch integer
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_outbox integer;
  v_tokens integer;
  v_keys integer;
  v_counters integer;
  v_events integer;
begin
  delete from public.email_outbox o
  where o.ctid = any (array(
    select x.ctid from public.email_outbox x
    where ((x.status = 'sent' and x.updated_at < now() - p_sent_keep)
      or (x.status in ('failed', 'skipped') and x.updated_at < now() - p_failed_keep))
      -- An invitation stays while a reminder of it still waits (the reminder refers to it).
      and not exists (select 1 from public.email_outbox r
        where r.invitation_id = x.id and r.status in ('pending', 'sending'))
    limit p_batch
    for update skip locked
  ));
  get diagnostics v_outbox = row_count;

  -- Settled send groups (their payload is already gone) once no invitation names them.
  delete from public.email_send_batch b
  where b.ctid = any (array(
    select x.ctid from public.email_send_batch x
    where x.state = 'done' and x.settled_at < now() - p_sent_keep
      and not exists (select 1 from public.email_outbox o where o.batch_id = x.id)
    limit p_batch
    for update skip locked
  ));

  -- Used tokens stay: an attempt references its token (and the key refuses their removal).
  delete from public.interview_token t
  where t.ctid = any (array(
    select x.ctid from public.interview_token x
    where x.expires_at < now() - p_token_keep
      and x.used_at is null
      and not exists (
        select 1 from public.email_outbox o
        where o.token_jti = x.jti and o.status in ('pending', 'sending')
      )
    limit p_batch
    for update of x skip locked
  ));
  get diagnostics v_tokens = row_count;

  delete from public.idempotency_request r
  where r.ctid = any (array(
    select x.ctid from public.idempotency_request x
    where x.expires_at <= now()
    limit p_batch
    for update skip locked
  ));
  get diagnostics v_keys = row_count;

  delete from public.merchant_request_counter c
  where c.ctid = any (array(
    select x.ctid from public.merchant_request_counter x
    where x.window_start < now() - p_counter_keep
    limit p_batch
    for update skip locked
  ));
  get diagnostics v_counters = row_count;

  -- Delivery events: kept as long as failed emails, for support; Resend stops redelivering an
  -- event within days, so its id is not needed for deduplication that long.
  delete from public.email_event ev
  where ev.ctid = any (array(
    select x.ctid from public.email_event x
    where x.received_at < now() - p_failed_keep
    limit p_batch
    for update skip locked
  ));
  get diagnostics v_events = row_count;

  return jsonb_build_object('email_outbox', v_outbox, 'interview_token', v_tokens,
    'idempotency_request', v_keys, 'merchant_request_counter', v_counters,
    'email_event', v_events);
end
$$;

-- Runs batches until none is full, committing after each, so no lock is held for longer than
-- one batch. Called as a statement of its own (`call private.purge_expired_rows()`), by pg_cron
-- on Supabase and by the local stack's timer; the intervals and the batch size are its
-- parameters. A procedure that commits cannot carry a `set` clause: the work, and its
-- search_path, are in purge_expired_batch.
create procedure private.purge_expired_rows(
  p_token_keep interval default '30 days',
  p_sent_keep interval default '30 days',
  p_failed_keep interval default '90 days',
  p_counter_keep interval default '1 hour',
  p_batch integer default 5000,
  inout p_removed jsonb default null
)
language plpgsql
as $$
declare
  v_batch jsonb;
  v_table text;
  v_full boolean;
begin
  p_removed := '{"email_outbox": 0, "interview_token": 0, "idempotency_request": 0,
    "merchant_request_counter": 0, "email_event": 0}'::jsonb;
  loop
    v_batch := private.purge_expired_batch(p_token_keep, p_sent_keep, p_failed_keep,
      p_counter_keep, p_batch);
    v_full := false;
    for v_table in select jsonb_object_keys(v_batch) loop
      p_removed := jsonb_set(p_removed, array[v_table],
        to_jsonb((p_removed ->> v_table)::bigint + (v_batch ->> v_table)::bigint));
      v_full := v_full or (v_batch ->> v_table)::integer >= p_batch;
    end loop;
    commit;
    exit when not v_full;
  end loop;
end
$$;

revoke execute on function private.purge_expired_batch(interval, interval, interval, interval,
  integer) from public, anon, authenticated, service_role;
revoke execute on procedure private.purge_expired_rows(interval, interval, interval, interval,
  integer, jsonb) from public, anon, authenticated, service_role;

-- Hourly on Supabase, where pg_cron exists, in place of the earlier purge of request admission
-- rows (which this covers); the local stack runs the same call on its timer.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_cron') then
    create extension if not exists pg_cron;
    if exists (select 1 from cron.job where jobname = 'purge-request-admission') then
      perform cron.unschedule('purge-request-admission');
    end if;
    perform cron.schedule('purge-expired-rows', '23 * * * *',
      'call private.purge_expired_rows()');
  end if;
end
$$;
