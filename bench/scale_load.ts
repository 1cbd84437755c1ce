// Fills a stack's database to a given size with set-based SQL (a few statements, no request per
// row): merchants with an interview each, candidates, enrolments spread over the last 60 days
// (a tenth of them in the demo merchant's active interview), a token record per enrolment, an
// invitation for every tenth, idempotency keys and rate-limit windows.
import type postgres from "postgres";

export interface ScaleSize {
  /** Enrolments in total (1,000,000 at full scale). */
  enrolments: number;
  /** Merchants in total, the seeded ones included. */
  merchants: number;
  /** Enrolments of the demo merchant. */
  demo: number;
}

export function scaleSize(enrolments: number): ScaleSize {
  return {
    enrolments,
    merchants: Math.max(10, Math.round(enrolments / 1000)),
    demo: Math.round(enrolments / 10),
  };
}

const DEMO_MERCHANT = "b5201178-46dd-4a20-a1af-7ffd647f834b";
const DEMO_INTERVIEW = "04e09fa5-3fb8-4236-b37d-fca2bcd1cb66";
const DEMO_CANDIDATE = "a0000000-0000-4000-8000-000000000005";
/** Enrolments are spread over this many days, whatever their number. */
const SPAN_DAYS = 60;

/** Loads the data; returns the seconds each step took. */
export async function loadScale(
  sql: postgres.Sql,
  size: ScaleSize,
): Promise<Record<string, number>> {
  const steps: Record<string, number> = {};
  const step = async (name: string, text: string, params: (string | number)[] = []) => {
    const started = performance.now();
    await sql.unsafe(text, params);
    steps[name] = Math.round(performance.now() - started) / 1000;
  };
  const others = size.enrolments - size.demo;
  const spacing = SPAN_DAYS * 86400 / size.enrolments;
  const candidates = Math.max(10, Math.round(size.enrolments / 100));

  await step(
    "merchants",
    `insert into public.merchant (name, api_requests_per_minute)
    select 'Scale Merchant ' || g, 100000 from generate_series(1, $1::int) g`,
    [Math.max(0, size.merchants - 3)],
  );
  await step(
    "interviews",
    `insert into public.interview_def_set (merchant_id, name, status)
    select m.id, 'Scale Interview', 'active' from public.merchant m
    where m.name like 'Scale Merchant %'`,
  );
  await step(
    "candidates",
    `with users as (
      -- Auth picks user ids itself: auth.users has no default for them, as on Supabase.
      insert into auth.users (id, email)
      select gen_random_uuid(), 'scale-candidate-' || g || '@example.com'
      from generate_series(1, $1::int) g
      returning id, email
    )
    insert into public.profile (id, role, email) select id, 'candidate', email from users`,
    [candidates],
  );
  // The demo merchant's share goes into the interview the benchmark registers into; every tenth
  // enrolment belongs to a candidate account, and the demo candidate gets ten more.
  await step(
    "enrolments",
    `with cand as (
      select array_agg(p.id order by p.id) as ids from public.profile p
      where p.email like 'scale-candidate-%'
    ),
    target as (
      select array_agg(i.id order by i.id) as ids, array_agg(i.merchant_id order by i.id) as merchants
      from public.interview_def_set i where i.name = 'Scale Interview'
    ),
    spread as (
      select g,
        case when g <= $1::int then '${DEMO_INTERVIEW}'::uuid
          else t.ids[1 + g % array_length(t.ids, 1)] end as interview_id,
        case when g <= $1::int then '${DEMO_MERCHANT}'::uuid
          else t.merchants[1 + g % array_length(t.ids, 1)] end as merchant_id,
        cand.ids as cand
      from generate_series(1, $1::int + $2::int) g cross join target t cross join cand
    )
    insert into public.profile_interview (merchant_id, interview_def_set_id, profile_id, name,
      email, external_id, status, is_test, created_at, updated_at)
    select s.merchant_id, s.interview_id,
      case when s.g % 10 = 0 then s.cand[1 + (s.g / 10) % array_length(s.cand, 1)]
        when s.g <= 10 then '${DEMO_CANDIDATE}'::uuid end,
      'Scale Candidate ' || s.g, 'scale-' || s.g || '@example.com', 'ext-' || s.g,
      case when s.g % 3 = 0 then 'invited' else 'active' end::public.enrolment_status, false,
      now() - make_interval(secs => s.g * ${spacing}),
      now() - make_interval(secs => s.g * ${spacing})
    from spread s`,
    [size.demo, others],
  );
  // Links last a week; two months of them mostly expired long ago.
  await step(
    "tokens",
    `insert into public.interview_token (profile_interview_id, merchant_id, interview_def_set_id,
      issued_at, expires_at)
    select e.id, e.merchant_id, e.interview_def_set_id, e.created_at,
      e.created_at + interval '7 days'
    from public.profile_interview e where e.email like 'scale-%'`,
  );
  await step(
    "outbox",
    `insert into public.email_outbox (merchant_id, profile_interview_id, token_jti,
      link_interview_id, status, attempts, created_at, updated_at, sent_at)
    select t.merchant_id, t.profile_interview_id, t.jti, t.interview_def_set_id, 'sent', 1,
      t.issued_at, t.issued_at + interval '1 minute', t.issued_at + interval '1 minute'
    from public.interview_token t
    where t.issued_at < now() - interval '1 minute' and get_byte(uuid_send(t.jti), 15) < 26`,
  );
  await step(
    "idempotency_and_rate",
    `with keys as (
      insert into public.idempotency_request (merchant_id, key, request_hash, outcome, settled,
        created_at, expires_at)
      select m.id, 'scale-' || g, 'hash', '{"rows": []}', true,
        now() - make_interval(hours => g),
        now() - make_interval(hours => g) + interval '24 hours'
      from public.merchant m cross join generate_series(1, 48) g
      returning 1
    )
    insert into public.merchant_request_counter (subject_id, window_start, requests)
    select m.id, date_trunc('minute', now()) - make_interval(mins => g), 3
    from public.merchant m cross join generate_series(1, 120) g
    on conflict do nothing`,
  );
  const started = performance.now();
  await sql.unsafe(
    "vacuum (analyze) public.merchant, public.profile, public.interview_def_set, " +
      "public.profile_interview, public.interview_token, public.email_outbox, " +
      "public.idempotency_request, public.merchant_request_counter",
  );
  steps.vacuum_analyze = Math.round(performance.now() - started) / 1000;
  return steps;
}
