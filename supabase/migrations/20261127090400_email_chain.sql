-- The invitation email chain: reminders (outbox rows of kind `reminder` with a due time, sent by
-- the same send groups as invitations), delivery events from Resend's webhooks recorded on the
-- email row, suppression of addresses that bounced or complained, and a status per enrolment
-- that a merchant's staff read through the Data API.

-- Reminder schedules: delays after the invitation was sent, at most 5. Null: fall back to the
-- merchant's, then to the platform's (one reminder after 48 hours); an empty list: none.
alter table public.interview_def_set
  add column reminder_delays interval[]
    check (cardinality(reminder_delays) <= 5 and interval '0' < all (reminder_delays));
alter table public.merchant
  add column reminder_delays interval[]
    check (cardinality(reminder_delays) <= 5 and interval '0' < all (reminder_delays));

alter table public.email_outbox
  add column kind text not null default 'invitation' check (kind in ('invitation', 'reminder')),
  -- A test registration's email: "[Test]" in its subject and a tag; its link is a test link.
  add column is_test boolean not null default false,
  -- A reminder's invitation (whose link it carries) and its place in the schedule.
  add column invitation_id uuid references public.email_outbox (id) on delete cascade,
  add column reminder_no smallint check (reminder_no between 1 and 5),
  -- What Resend's webhooks last told about the email (the most final state wins).
  add column delivery_status text check (delivery_status in
    ('sent', 'delivered', 'delivery_delayed', 'bounced', 'complained', 'failed')),
  add column delivery_detail text check (length(delivery_detail) <= 1000),
  add column delivery_updated_at timestamptz,
  add constraint email_outbox_reminder_shape check (
    (kind = 'invitation' and invitation_id is null and reminder_no is null)
    or (kind = 'reminder' and invitation_id is not null and reminder_no is not null));

-- At most one unsent invitation per enrolment; reminders are several by design.
drop index public.email_outbox_one_unsent_idx;
create unique index email_outbox_one_unsent_idx on public.email_outbox (profile_interview_id)
  where status in ('pending', 'sending') and kind = 'invitation';
-- Each reminder of an invitation is scheduled once.
create unique index email_outbox_reminder_key on public.email_outbox (invitation_id, reminder_no)
  where invitation_id is not null;
-- Webhooks find their email by Resend's id.
create unique index email_outbox_provider_id_key on public.email_outbox (provider_id)
  where provider_id is not null;
create index email_outbox_enrolment_idx on public.email_outbox (profile_interview_id);

alter table public.email_outbox drop constraint email_outbox_skip_reason_check;
alter table public.email_outbox add constraint email_outbox_skip_reason_check
  check (skip_reason in ('token_revoked', 'token_used', 'token_expired', 'enrolment_deleted',
    'interview_unavailable', 'emails_disabled', 'suppressed', 'attempt_started', 'superseded'));

-- Addresses a merchant's emails no longer go to: a hard bounce or a complaint. Staff see theirs
-- and lift one by deleting it.
create table public.email_suppression (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null references public.merchant (id) on delete cascade,
  email text not null check (length(email) between 3 and 320),
  reason text not null check (reason in ('bounced', 'complained')),
  detail text check (length(detail) <= 1000),
  email_outbox_id uuid references public.email_outbox (id) on delete set null,
  created_at timestamptz not null default now()
);
create unique index email_suppression_address_key
  on public.email_suppression (merchant_id, lower(email));
create index email_suppression_outbox_idx on public.email_suppression (email_outbox_id);

alter table public.email_suppression enable row level security;
create policy email_suppression_select_staff on public.email_suppression for select
  to authenticated
  using (merchant_id in (select private.visible_merchant_ids()));
create policy email_suppression_delete_staff on public.email_suppression for delete
  to authenticated
  using (merchant_id in (select private.manageable_merchant_ids()));

-- Webhook events taken, by their Svix id: a redelivery is acknowledged and not applied again.
create table public.email_event (
  id text primary key check (length(id) between 1 and 200),
  type text not null check (length(type) <= 100),
  provider_id text check (length(provider_id) <= 200),
  email_outbox_id uuid references public.email_outbox (id) on delete set null,
  body_hash text not null,
  occurred_at timestamptz,
  received_at timestamptz not null default now()
);
create index email_event_outbox_idx on public.email_event (email_outbox_id);
create index email_event_received_idx on public.email_event (received_at);
-- Service role only, through record_email_event.
alter table public.email_event enable row level security;

-- The reminder schedule of each interview: its own, the merchant's, else the platform's.
create function private.reminder_delays_of(p_interview_id uuid)
returns interval[]
language sql stable
set search_path = ''
as $$
  select coalesce(i.reminder_delays, m.reminder_delays, array[interval '48 hours'])
  from public.interview_def_set i
  join public.merchant m on m.id = i.merchant_id
  where i.id = p_interview_id
$$;

-- Records one verified webhook event. p_event: {id, type, body_hash, created_at, email_id,
-- detail, bounce_type}. Returns {outcome: applied | duplicate | conflict | unknown_email}: a
-- known id with another body is a forged replay; an event for an email we never sent is kept
-- (so its redelivery is a duplicate) and changes nothing.
create function public.record_email_event(p_event jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_state text := case p_event ->> 'type'
    when 'email.sent' then 'sent'
    when 'email.delivered' then 'delivered'
    when 'email.delivery_delayed' then 'delivery_delayed'
    when 'email.bounced' then 'bounced'
    when 'email.complained' then 'complained'
    when 'email.failed' then 'failed'
  end;
  v_outbox public.email_outbox;
  v_hash text;
begin
  select o.* into v_outbox from public.email_outbox o
  where o.provider_id = p_event ->> 'email_id';

  insert into public.email_event (id, type, provider_id, email_outbox_id, body_hash, occurred_at)
  values (p_event ->> 'id', v_type, p_event ->> 'email_id', v_outbox.id, p_event ->> 'body_hash',
    (p_event ->> 'created_at')::timestamptz)
  on conflict (id) do nothing;
  if not found then
    select e.body_hash into v_hash from public.email_event e where e.id = p_event ->> 'id';
    return jsonb_build_object('outcome',
      case when v_hash = p_event ->> 'body_hash' then 'duplicate' else 'conflict' end);
  end if;
  if v_outbox.id is null or v_state is null then
    return jsonb_build_object('outcome', 'unknown_email');
  end if;

  -- Events may come in any order: the most final state stays.
  update public.email_outbox o
  set delivery_status = v_state, delivery_detail = left(p_event ->> 'detail', 1000),
    delivery_updated_at = now()
  where o.id = v_outbox.id
    and array_position(array['sent', 'delivery_delayed', 'delivered', 'failed', 'bounced',
      'complained'], v_state) > coalesce(array_position(array['sent', 'delivery_delayed',
      'delivered', 'failed', 'bounced', 'complained'], o.delivery_status), 0);

  -- A hard bounce or a complaint: that merchant's emails stop going to that address.
  if v_state = 'complained'
     or (v_state = 'bounced' and coalesce(p_event ->> 'bounce_type', 'Permanent') <> 'Transient')
  then
    insert into public.email_suppression (merchant_id, email, reason, detail, email_outbox_id)
    select v_outbox.merchant_id, e.email, v_state, left(p_event ->> 'detail', 1000), v_outbox.id
    from public.profile_interview e
    where e.id = v_outbox.profile_interview_id
    on conflict (merchant_id, lower(email)) do nothing;
  end if;
  return jsonb_build_object('outcome', 'applied', 'email_outbox_id', v_outbox.id,
    'state', v_state);
end
$$;

-- What a recruiter reads per enrolment (of one interview, or all they see): the invitation (its
-- latest), the reminders, the link and whether an attempt started. `GET /rest/v1/rpc/
-- enrolment_email_status?p_interview_id=...`, filterable like a table. Security invoker: the
-- tables' own policies decide which rows come back.
create function public.enrolment_email_status(p_interview_id uuid default null)
returns table (
  profile_interview_id uuid,
  merchant_id uuid,
  interview_def_set_id uuid,
  email text,
  external_id text,
  is_test boolean,
  invitation_id uuid,
  invitation_state text,
  skipped_reason text,
  invitation_sent_at timestamptz,
  reminders_sent bigint,
  next_reminder_at timestamptz,
  link_state text,
  link_expires_at timestamptz,
  attempt_started boolean,
  suppressed text
)
language sql
stable
security invoker
set search_path = ''
as $$
select
  e.id as profile_interview_id,
  e.merchant_id,
  e.interview_def_set_id,
  e.email,
  e.external_id,
  e.is_test,
  inv.id as invitation_id,
  case
    when inv.id is null then 'skipped'
    when inv.delivery_status is not null then case inv.delivery_status
      when 'delivery_delayed' then 'delayed' else inv.delivery_status end
    when inv.status in ('pending', 'sending') then 'queued'
    else inv.status::text
  end as invitation_state,
  case when inv.id is null then 'not_requested' else inv.skip_reason end as skipped_reason,
  inv.sent_at as invitation_sent_at,
  (select count(*) from public.email_outbox r
    where r.invitation_id = inv.id and r.status = 'sent') as reminders_sent,
  (select min(r.next_attempt_at) from public.email_outbox r
    where r.invitation_id = inv.id and r.status = 'pending') as next_reminder_at,
  case
    when t.jti is null then null
    when t.used_at is not null then 'used'
    when t.revoked_at is not null then 'revoked'
    when t.expires_at <= now() then 'expired'
    else 'unused'
  end as link_state,
  t.expires_at as link_expires_at,
  exists (select 1 from public.interview_result a where a.profile_interview_id = e.id)
    as attempt_started,
  (select s.reason from public.email_suppression s
    where s.merchant_id = e.merchant_id and lower(s.email) = lower(e.email)) as suppressed
from public.profile_interview e
left join lateral (
  select o.* from public.email_outbox o
  where o.profile_interview_id = e.id and o.kind = 'invitation'
  order by o.created_at desc, o.id desc
  limit 1
) inv on true
left join public.interview_token t on t.jti = inv.token_jti
where p_interview_id is null or e.interview_def_set_id = p_interview_id
order by e.created_at desc, e.id
$$;
