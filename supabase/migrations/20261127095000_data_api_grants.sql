-- The whole Data API access matrix, in one place: every privilege `anon`, `authenticated` and
-- `service_role` have in `public`, granted explicitly. Supabase no longer grants new tables,
-- sequences or functions to the API roles (changelog 45329), PostgreSQL lets PUBLIC execute every
-- new function, and a new project's defaults still leave truncate, references and trigger on
-- tables: so everything is revoked first and then granted, and nothing depends on the defaults
-- of the database this runs in. tests/integration/catalog_test.ts holds the same matrix and fails
-- on any difference. A new table or function needs its line here (and there).
--
-- The roles' jobs:
-- - anon: nothing. Every endpoint authenticates its caller; the anon key reads and writes nothing.
-- - authenticated: what staff and candidates do through /rest/v1, row by row under RLS, column by
--   column where a row holds something they must not change.
-- - service_role: only the SQL functions behind the endpoints (security definer, owned by the
--   migration role), so the service key reaches no table directly. Tables written only by those
--   functions (enrolment inserts, token records, the outbox, attempts, idempotency keys and rate
--   counters) have no write grant to any API role.

revoke all on all tables in schema public from public, anon, authenticated, service_role;
revoke all on all sequences in schema public from public, anon, authenticated, service_role;
revoke all on all functions in schema public from public, anon, authenticated, service_role;

-- merchant: staff read their own and sub-merchants; owners edit presentation and email
-- settings, never the invitation headroom, the rate limit or the hierarchy.
grant select on public.merchant to authenticated;
grant update (name, interview_frontend_domain, email_sender_name, email_reply_to,
  candidate_emails_enabled, brand_color, logo_url, reminder_delays) on public.merchant
  to authenticated;

-- profile: read (own row, staff their merchants' people); a user may rename themselves only.
grant select on public.profile to authenticated;
grant update (name) on public.profile to authenticated;

-- interview definitions and positions: staff read; owners and recruiters create, edit and delete
-- (RLS decides whose); a row never moves to another merchant.
grant select, delete on public.interview_def_set to authenticated;
grant insert (merchant_id, name, status, mojito_language_code, interview_available_till,
  attempts_allowed, reminder_delays) on public.interview_def_set to authenticated;
grant update (name, status, mojito_language_code, interview_available_till, attempts_allowed,
  reminder_delays) on public.interview_def_set to authenticated;

grant select, delete on public.position_def_set to authenticated;
grant insert (merchant_id, name, status) on public.position_def_set to authenticated;
grant update (name, status) on public.position_def_set to authenticated;

grant select, delete on public.position_interview to authenticated;
grant insert (position_def_set_id, interview_def_set_id, merchant_id, stage)
  on public.position_interview to authenticated;

-- enrolments: created only by the registration; staff read theirs and change a candidate's name,
-- external id and status; a candidate reads their own.
grant select on public.profile_interview to authenticated;
grant update (name, external_id, status) on public.profile_interview to authenticated;

-- token records, invitation emails and interview attempts: read-only for staff (and candidates
-- their own attempts); written only by the SQL functions.
grant select on public.interview_token to authenticated;
grant select on public.email_outbox to authenticated;
grant select on public.interview_result to authenticated;

-- Suppressed addresses (a hard bounce or a complaint): staff see theirs; owners and recruiters
-- lift one by deleting it.
grant select, delete on public.email_suppression to authenticated;

-- idempotency_request, merchant_request_counter, email_send_batch, email_event: no API role at
-- all.

-- Each enrolment's email status, as the caller's policies let them see it.
grant execute on function public.enrolment_email_status to authenticated;

-- The helpers RLS policies call (`private`, a schema the Data API does not expose): the one
-- definition of which merchants the caller may see, manage or own. They run as the caller, who
-- must be able to execute them; they are security definer and reveal only the caller's own
-- standing. Everything else in `private` (the same sets for a given user, id generation, the
-- retention purge) runs only as the owner, inside definer functions and schedules.
revoke all on schema private from public, anon, authenticated, service_role;
revoke execute on all functions in schema private from public, anon, authenticated, service_role;
grant usage on schema private to authenticated;
grant execute on function private.visible_merchant_ids, private.manageable_merchant_ids,
  private.owned_merchant_ids to authenticated;

-- The endpoints' SQL functions: the service role's alone.
grant execute on function public.register_interview_users, public.finish_idempotent_request,
  public.claim_invitation_emails, public.freeze_invitation_batches,
  public.record_invitation_batch, public.start_interview, public.revoke_interview_tokens,
  public.record_email_event to service_role;

-- Executable by no API role: touch_updated_at (a trigger: checked when the trigger is created,
-- not when it fires), admit_registration, count_request, resolve_registration_merchant and
-- replay_idempotent_request (called inside register_interview_users, as its owner),
-- purge_request_admission (run by the schedule, as the owner).

-- Merchant API keys (granted by 20261128120000_api_keys.sql, which creates them after this file
-- runs): authenticated selects api_key's columns except key_hash and updates revoked_at (RLS:
-- owners and admins), and executes create_api_key, list_api_keys and revoke_api_key;
-- resolve_api_key (called inside admit_registration), api_key_rate and the trigger
-- api_key_revoke_once: no API role.
