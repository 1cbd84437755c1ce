-- revoke_api_key: a key the caller may not see, or no key at all, is "not found" with 404.
-- PostgREST answers the PL/pgSQL code P0002 with 500; its own PGRST code sets the status.
create or replace function public.revoke_api_key(id uuid) returns jsonb
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
