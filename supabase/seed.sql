-- Demo data for local runs, with fixed ids so that the README and the reference page's example
-- request work verbatim. The demo merchants get a high rate limit, for load tests and benchmarks.

insert into public.merchant (id, name, parent_merchant_id, interview_frontend_domain,
  invitations_limit, email_sender_name, email_reply_to, brand_color, api_requests_per_minute)
values
  ('b5201178-46dd-4a20-a1af-7ffd647f834b', 'Demo Merchant', null,
    'https://interview.demo-merchant.test', null, 'Demo Merchant Hiring', 'hiring@demo.test',
    '#4f46e5', 100000),
  ('c7d1e2f3-0a1b-4c2d-9e3f-4a5b6c7d8e9f', 'Demo Sub Merchant',
    'b5201178-46dd-4a20-a1af-7ffd647f834b', null, 500, 'Demo Sub Merchant', null, null, 100000),
  ('e4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8', 'Other Merchant', null, null, null, 'Other Merchant',
    null, null, 100000);

insert into public.interview_def_set (id, merchant_id, name, status, mojito_language_code,
  attempts_allowed)
values
  ('04e09fa5-3fb8-4236-b37d-fca2bcd1cb66', 'b5201178-46dd-4a20-a1af-7ffd647f834b',
    'Customer Support Specialist', 'active', 'en', 2),
  ('5e0c1a4e-7d43-4c36-9d3e-2b7a1f0d9c11', 'b5201178-46dd-4a20-a1af-7ffd647f834b',
    'Senior Backend Engineer (draft)', 'draft', 'en', 1),
  ('d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60', 'c7d1e2f3-0a1b-4c2d-9e3f-4a5b6c7d8e9f',
    'Warehouse Associate', 'active', 'de', 1),
  ('f6a7b8c9-d0e1-4f2a-b3c4-d5e6f7a8b9c0', 'e4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8',
    'Sales Representative', 'active', 'en', 1);

insert into public.position_def_set (id, merchant_id, name, status)
values ('8a3f2b10-5c6d-4e7f-8a9b-0c1d2e3f4a5b', 'b5201178-46dd-4a20-a1af-7ffd647f834b',
  'Customer Support (two stages)', 'active');

insert into public.position_interview (position_def_set_id, interview_def_set_id, merchant_id,
  stage)
values ('8a3f2b10-5c6d-4e7f-8a9b-0c1d2e3f4a5b', '04e09fa5-3fb8-4236-b37d-fca2bcd1cb66',
  'b5201178-46dd-4a20-a1af-7ffd647f834b', 1);

-- The demo users, written as Supabase Auth writes an email user whose address is confirmed, so
-- that a real Auth server (`supabase start`) loads them and lets them sign in with the password
-- `demo-password`: instance_id all zeros, aud and role "authenticated", a bcrypt hash, both
-- timestamps, empty strings (not nulls) in the token columns Auth reads into plain strings, and an
-- `email` identity each. Their merchant is in app_metadata, which only the service role can set.
with demo (id, email, merchant_id) as (
  values
    ('a0000000-0000-4000-8000-000000000001'::uuid, 'admin@demo.test', null),
    ('a0000000-0000-4000-8000-000000000002', 'owner@demo.test',
      'b5201178-46dd-4a20-a1af-7ffd647f834b'),
    ('a0000000-0000-4000-8000-000000000003', 'recruiter@demo.test',
      'b5201178-46dd-4a20-a1af-7ffd647f834b'),
    ('a0000000-0000-4000-8000-000000000004', 'selection@demo.test',
      'b5201178-46dd-4a20-a1af-7ffd647f834b'),
    ('a0000000-0000-4000-8000-000000000005', 'candidate@demo.test', null),
    ('a0000000-0000-4000-8000-000000000006', 'sub-owner@demo.test',
      'c7d1e2f3-0a1b-4c2d-9e3f-4a5b6c7d8e9f'),
    ('a0000000-0000-4000-8000-000000000007', 'other-owner@demo.test',
      'e4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8')
)
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  confirmation_token, recovery_token, email_change_token_new, email_change,
  email_change_token_current, phone_change, phone_change_token, reauthentication_token,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at
)
select '00000000-0000-0000-0000-000000000000', d.id, 'authenticated', 'authenticated', d.email,
  extensions.crypt('demo-password', extensions.gen_salt('bf', 10)), now(),
  '', '', '', '', '', '', '', '',
  jsonb_strip_nulls(jsonb_build_object('provider', 'email', 'providers', jsonb_build_array('email'),
    'merchant_id', d.merchant_id)),
  jsonb_build_object('sub', d.id, 'email', d.email, 'email_verified', true,
    'phone_verified', false),
  now(), now()
from demo d;

insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
  created_at, updated_at)
select u.id::text, u.id, jsonb_build_object('sub', u.id::text, 'email', u.email,
    'email_verified', true, 'phone_verified', false),
  'email', now(), now(), now()
from auth.users u
where u.email like '%@demo.test' and u.id::text like 'a0000000-0000-4000-8000-%';

insert into public.profile (id, merchant_id, role, name, email)
values
  ('a0000000-0000-4000-8000-000000000001', null, 'admin', 'Ada Admin', 'admin@demo.test'),
  ('a0000000-0000-4000-8000-000000000002', 'b5201178-46dd-4a20-a1af-7ffd647f834b',
    'merchant_owner', 'Olivia Owner', 'owner@demo.test'),
  ('a0000000-0000-4000-8000-000000000003', 'b5201178-46dd-4a20-a1af-7ffd647f834b', 'merchant',
    'Rick Recruiter', 'recruiter@demo.test'),
  ('a0000000-0000-4000-8000-000000000004', 'b5201178-46dd-4a20-a1af-7ffd647f834b',
    'merchant_selection', 'Sam Selection', 'selection@demo.test'),
  ('a0000000-0000-4000-8000-000000000005', null, 'candidate', 'Casey Candidate',
    'candidate@demo.test'),
  ('a0000000-0000-4000-8000-000000000006', 'c7d1e2f3-0a1b-4c2d-9e3f-4a5b6c7d8e9f',
    'merchant_owner', 'Sue Sub-Owner', 'sub-owner@demo.test'),
  ('a0000000-0000-4000-8000-000000000007', 'e4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8',
    'merchant_owner', 'Oscar Other', 'other-owner@demo.test');

-- The demo candidate is enrolled in the active interview, so that RLS has something to show them.
insert into public.profile_interview (id, merchant_id, interview_def_set_id, profile_id, name,
  email, status)
values ('b0000000-0000-4000-8000-000000000001', 'b5201178-46dd-4a20-a1af-7ffd647f834b',
  '04e09fa5-3fb8-4236-b37d-fca2bcd1cb66', 'a0000000-0000-4000-8000-000000000005',
  'Casey Candidate', 'candidate@demo.test', 'invited');
