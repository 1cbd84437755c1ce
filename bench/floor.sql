-- The floor for the benchmark: the same request body, through the same gateway and PostgREST,
-- into a SQL function that only inserts the rows: no authorisation, no validation, no tokens.
-- Installed by the benchmark into its own database, never by a migration.
create function public.bench_floor_insert(jsonb) returns integer
language sql
security invoker
set search_path = ''
as $$
  with inserted as (
    insert into public.profile_interview (merchant_id, interview_def_set_id, name, email, external_id)
    select ($1 ->> 'merchant_id')::uuid, ($1 ->> 'interview_id')::uuid, u.name, u.email, u.external_id
    from jsonb_to_recordset($1 -> 'users') as u (name text, email text, external_id text)
    on conflict do nothing
    returning 1
  )
  select count(*)::integer from inserted
$$;
revoke execute on function public.bench_floor_insert(jsonb) from public, anon, authenticated;
grant execute on function public.bench_floor_insert(jsonb) to service_role;
-- The floor inserts, and the naive baseline (bench/naive.ts) works on the tables directly with the
-- service key: the table privileges they need, which the product's matrix does not grant.
grant select, insert on public.profile_interview, public.interview_token to service_role;
grant select on public.interview_def_set to service_role;
-- The enrolment's id default (time-ordered, private.uuid_v7()), which the product's roles reach
-- only through the definer functions that insert.
grant usage on schema private to service_role;
grant execute on function private.uuid_v7() to service_role;
notify pgrst, 'reload schema';
-- The hop floor's RPC (bench/hop_function.ts): a round trip that does nothing.
create or replace function public.bench_hop()
returns integer
language sql
security invoker
set search_path = ''
as $$ select 1 $$;
revoke execute on function public.bench_hop() from public, anon, authenticated;
grant execute on function public.bench_hop() to service_role;
notify pgrst, 'reload schema';
