// The invitation email chain over HTTP against the stack: test registrations' emails, reminders
// (short delays configured on the interview, never a 48-hour wait), Resend's signed delivery
// webhooks sent by the inbox, suppression, and the status staff read.
import assert from "node:assert/strict";
import { signDeliveryEvent } from "../../supabase/functions/_shared/email/webhook.ts";
import { assertMatchesContract } from "../support/contract.ts";
import { dispatch, inbox } from "../support/inbox.ts";
import {
  asService,
  asUser,
  database,
  functionPids,
  info,
  keys,
  postRegister,
  seed,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();
const EVENTS_URL = `${info.FUNCTIONS_URL}/job-interview-email-events`;

/** Polls until `check` holds (no timed assertion: only a generous upper bound). */
async function until<T>(what: string, check: () => Promise<T | null | undefined | false>) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A fresh published interview of the demo merchant with the given reminder delays. */
async function interviewWith(delays: string[]): Promise<string> {
  const [row] = await sql`insert into public.interview_def_set
      (merchant_id, name, status, mojito_language_code, reminder_delays)
    values (${seed.demoMerchant}, 'Chain ' || gen_random_uuid(), 'active', 'de',
      ${delays}::interval[])
    returning id`;
  return row.id;
}

const register = (interviewId: string, email: string, extra: Record<string, unknown> = {}) =>
  postRegister({
    users: [{ name: "Chain Candidate", email }],
    interview_id: interviewId,
    merchant_id: seed.demoMerchant,
    send_email: true,
    ...extra,
  }, asService);

async function reminderOf(email: string) {
  const [row] = await sql`select o.id, o.status::text, o.skip_reason, o.next_attempt_at
    from public.email_outbox o join public.profile_interview e on e.id = o.profile_interview_id
    where lower(e.email) = lower(${email}) and o.kind = 'reminder'
    order by o.created_at desc limit 1`;
  return row;
}

/** Dispatches until the reminder of this address is settled; returns its row. */
async function settleReminder(email: string) {
  const due = await until("the reminder to be scheduled", () => reminderOf(email));
  return await until("the reminder to be settled", async () => {
    if (Date.parse(due.next_attempt_at) <= Date.now()) await dispatch({ max_duration_ms: 3000 });
    const row = await reminderOf(email);
    return ["sent", "skipped", "failed"].includes(row.status) ? row : null;
  });
}

const mailTo = async (email: string) =>
  (await inbox.emails()).filter((m) => m.to.some((to) => to.toLowerCase() === email));

const linkOf = (text: string | null) =>
  /https?:\/\/\S+interview_token=[^\s"&]+/.exec(text ?? "")?.[0];

async function postEvent(body: string, headers: Record<string, string>) {
  const res = await fetch(EVENTS_URL, { method: "POST", headers, body });
  const answer = await res.json();
  assertMatchesContract("/job-interview-email-events", "POST", res.status, answer);
  return { status: res.status, body: answer };
}

function event(type: string, emailId: string) {
  return JSON.stringify({
    type,
    created_at: new Date().toISOString(),
    data: { email_id: emailId, to: ["x@example.com"], subject: "s" },
  });
}

Deno.test("the seed's example request: two emails, marked as tests, sent", async () => {
  await inbox.clear();
  const addresses = ["jozo@jozo.sk", "hi@jozefbalaz.com"];
  // Earlier runs of the same request leave an enrolment; its waiting invitation would hold this one.
  await sql`delete from public.email_outbox o using public.profile_interview e
    where e.id = o.profile_interview_id and lower(e.email) = any (${addresses})`;
  await sql`delete from public.email_suppression where lower(email) = any (${addresses})`;
  const res = await postRegister({
    users: [
      { name: "Peter Parker", email: "jozo@jozo.sk", external_id: "abcd" },
      { name: "mr beast", email: "hi@jozefbalaz.com" },
    ],
    interview_id: "04e09fa5-3fb8-4236-b37d-fca2bcd1cb66",
    merchant_id: "b5201178-46dd-4a20-a1af-7ffd647f834b",
    send_email: true,
    hide_menu: true,
    hide_iframe: true,
    is_test: true,
  }, asService);
  assert.equal(res.status, 200);
  for (const row of res.body) {
    assert.ok(["sent", "queued"].includes(row.email_status), JSON.stringify(row));
  }
  const emails = await until("both emails", async () => {
    const got = (await inbox.emails()).filter((m) => addresses.includes(m.to[0]));
    return got.length === 2 ? got : null;
  });
  for (const email of emails) {
    assert.match(email.subject, /^\[Test\] /);
    assert.ok(email.tags.some((t) => t.name === "test" && t.value === "true"), "a test tag");
    assert.ok(email.headers["X-Entity-Ref-ID"], "the outbox id in a header");
  }
});

Deno.test("a reminder goes after its delay, to the invitation's own link, saying how long is left", async () => {
  await inbox.clear();
  const interview = await interviewWith(["1 second"]);
  const email = uniqueEmail("remind");
  const res = await register(interview, email);
  assert.equal(res.body[0].email_status, "sent");
  const reminder = await settleReminder(email);
  assert.equal(reminder.status, "sent");
  const [invitation, second] = await mailTo(email);
  assert.ok(second, "the reminder arrived");
  assert.match(second.subject, /^Erinnerung: /, "in the interview's language");
  assert.match(second.text ?? "", /noch \d+ Tage gültig/);
  assert.equal(linkOf(second.text), linkOf(invitation.text), "the same link, the same token");
  assert.ok(second.tags.some((t) => t.name === "kind" && t.value === "reminder"));

  // Recruiters read it: delivered (the inbox's webhooks), one reminder, none due, link unused.
  const rows = await until("the delivered state", async () => {
    const r = await fetch(
      `${info.REST_URL}/rpc/enrolment_email_status?p_interview_id=${interview}`,
      { headers: await asUser("owner") },
    );
    const body = await r.json();
    return body[0]?.invitation_state === "delivered" ? body : null;
  });
  assert.equal(rows[0].reminders_sent, 1);
  assert.equal(rows[0].next_reminder_at, null);
  assert.equal(rows[0].link_state, "unused");
  assert.equal(rows[0].attempt_started, false);
  const other = await fetch(
    `${info.REST_URL}/rpc/enrolment_email_status?p_interview_id=${interview}`,
    { headers: await asUser("otherOwner") },
  );
  assert.deepEqual(await other.json(), [], "another merchant sees nothing");
});

for (
  const [name, reason, act] of [
    ["a start", "attempt_started", async (email: string, url: string) => {
      const token = new URL(url).searchParams.get("interview_token");
      const r = await fetch(`${info.FUNCTIONS_URL}/job-interview-start`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ interview_token: token }),
      });
      assert.equal(r.status, 200, email);
      await r.body?.cancel();
    }],
    ["a withdrawal", "enrolment_deleted", async (email: string) => {
      const r = await fetch(
        `${info.REST_URL}/profile_interview?email=eq.${encodeURIComponent(email)}`,
        {
          method: "PATCH",
          headers: { ...(await asUser("recruiter")), "content-type": "application/json" },
          body: JSON.stringify({ status: "deleted" }),
        },
      );
      assert.ok(r.ok, `withdrawal: ${r.status}`);
      await r.body?.cancel();
    }],
    ["a revocation", "token_revoked", async (email: string) => {
      await sql`update public.interview_token t set revoked_at = now()
        from public.profile_interview e
        where e.id = t.profile_interview_id and lower(e.email) = lower(${email})`;
    }],
  ] as const
) {
  Deno.test(`no reminder after ${name}`, async () => {
    await inbox.clear();
    const interview = await interviewWith(["2 seconds"]);
    const email = uniqueEmail("noremind");
    const res = await register(interview, email);
    assert.equal(res.body[0].email_status, "sent");
    await act(email, res.body[0].interview_url);
    const reminder = await settleReminder(email);
    assert.equal(reminder.status, "skipped");
    assert.equal(reminder.skip_reason, reason);
    assert.equal((await mailTo(email)).length, 1, "only the invitation");
  });
}

for (const [domain, reason] of [["bounce.test", "bounced"], ["complaint.test", "complained"]]) {
  Deno.test(`a ${reason} webhook suppresses the next reminder, visible and liftable by staff`, async () => {
    await inbox.clear();
    const interview = await interviewWith(["3 seconds"]);
    const email = `chain-${crypto.randomUUID().slice(0, 8)}@${domain}`;
    const res = await register(interview, email);
    assert.equal(res.body[0].email_status, "sent");
    const owner = await asUser("owner");
    const suppression = await until("the suppression", async () => {
      const r = await fetch(
        `${info.REST_URL}/email_suppression?email=eq.${encodeURIComponent(email)}`,
        { headers: owner },
      );
      return (await r.json())[0];
    });
    assert.equal(suppression.reason, reason);
    // The inbox page shows the delivery state beside the email.
    const page = await (await fetch(`${info.MAILPIT_URL}/?to=${encodeURIComponent(email)}`)).text();
    assert.match(page, new RegExp(`<tr class="${reason}[^"]*">`));
    const reminder = await settleReminder(email);
    assert.equal(reminder.skip_reason, "suppressed");
    assert.equal((await mailTo(email)).length, 1, "only the invitation");

    // Registering again: skipped, saying why.
    const again = await register(interview, email);
    assert.equal(again.body[0].email_status, "skipped");
    assert.equal(again.body[0].email_skipped_reason, "suppressed");

    // A reviewer sees it but cannot lift it, nor can another merchant's staff; an owner can.
    const reviewer = await asUser("selection");
    const seen = await fetch(`${info.REST_URL}/email_suppression?id=eq.${suppression.id}`, {
      headers: reviewer,
    });
    assert.equal((await seen.json()).length, 1, "the reviewer sees it");
    const byReviewer = await fetch(`${info.REST_URL}/email_suppression?id=eq.${suppression.id}`, {
      method: "DELETE",
      headers: { ...reviewer, prefer: "return=representation" },
    });
    assert.deepEqual(await byReviewer.json(), [], "a reviewer does not lift it");
    const foreign = await fetch(`${info.REST_URL}/email_suppression?id=eq.${suppression.id}`, {
      method: "DELETE",
      headers: { ...(await asUser("otherOwner")), prefer: "return=representation" },
    });
    assert.deepEqual(await foreign.json(), []);
    const lifted = await fetch(`${info.REST_URL}/email_suppression?id=eq.${suppression.id}`, {
      method: "DELETE",
      headers: { ...owner, prefer: "return=representation" },
    });
    assert.equal((await lifted.json()).length, 1);
  });
}

Deno.test("a re-registration restarts the chain: the old link's pending reminders are cancelled", async () => {
  await inbox.clear();
  const interview = await interviewWith(["1 hour", "2 hours"]);
  const email = uniqueEmail("restart");
  await register(interview, email);
  await until("two reminders", async () => {
    const [{ n }] = await sql`select count(*)::int as n from public.email_outbox o
      join public.profile_interview e on e.id = o.profile_interview_id
      where e.email = ${email} and o.kind = 'reminder' and o.status = 'pending'`;
    return n === 2;
  });
  await register(interview, email, { revoke_previous: true });
  await until("the new link's reminders", async () => {
    const [{ n }] = await sql`select count(*)::int as n from public.email_outbox o
      join public.profile_interview e on e.id = o.profile_interview_id
      where e.email = ${email} and o.kind = 'reminder'`;
    return n === 4;
  });
  const rows = await sql`select o.status::text, o.skip_reason, r.token_jti = o.token_jti as same
    from public.email_outbox o
    join public.email_outbox r on r.id = o.invitation_id
    join public.profile_interview e on e.id = o.profile_interview_id
    where e.email = ${email} order by o.created_at`;
  assert.deepEqual(rows.slice(0, 2).map((r) => [r.status, r.skip_reason]), [
    ["skipped", "superseded"],
    ["skipped", "superseded"],
  ]);
  assert.deepEqual(rows.slice(2).map((r) => r.status), ["pending", "pending"]);
  assert.ok(rows.every((r) => r.same), "each reminder carries its own invitation's link");
  // The first invitation went out and its reminders are cancelled: nothing unsent carries its
  // link any more, so revoke_previous revokes it; the new invitation's link works.
  const links = await sql`select t.revoked_at is not null as revoked
    from public.email_outbox o
    join public.interview_token t on t.jti = o.token_jti
    join public.profile_interview e on e.id = o.profile_interview_id
    where e.email = ${email} and o.kind = 'invitation' order by o.created_at`;
  assert.deepEqual(links.map((link) => link.revoked), [true, false]);
});

Deno.test("webhooks: forged, stale and replayed are refused; an unknown email is acknowledged", async () => {
  const secret = keys.resendWebhookSecret;
  const forgedSecret = `whsec_${btoa("not the project's secret!")}`;
  const id = () => `msg_${crypto.randomUUID().replaceAll("-", "")}`;

  const body = event("email.delivered", crypto.randomUUID());
  const forged = await postEvent(body, signDeliveryEvent(forgedSecret, id(), new Date(), body));
  assert.equal(forged.status, 401);
  assert.equal(forged.body.name, "svix-signature");

  const stale = await postEvent(
    body,
    signDeliveryEvent(secret, id(), new Date(Date.now() - 10 * 60_000), body),
  );
  assert.equal(stale.status, 401);
  assert.equal(stale.body.name, "svix-timestamp");

  const unsigned = await postEvent(body, { "content-type": "application/json" });
  assert.equal(unsigned.status, 401);

  // A delivered event for an email this project never sent: acknowledged, nothing changes.
  const messageId = id();
  const headers = signDeliveryEvent(secret, messageId, new Date(), body);
  const unknown = await postEvent(body, headers);
  assert.equal(unknown.status, 200);
  assert.equal(unknown.body.outcome, "unknown_email");

  // The same message again (Resend's redelivery, or a captured one replayed): not applied twice.
  const replayed = await postEvent(body, headers);
  assert.equal(replayed.status, 200);
  assert.equal(replayed.body.outcome, "duplicate");
  // Its id with another body, validly signed: refused.
  const other = event("email.bounced", crypto.randomUUID());
  const reused = await postEvent(other, signDeliveryEvent(secret, messageId, new Date(), other));
  assert.equal(reused.status, 409);
  assert.equal(reused.body.name, "svix-id");
});

Deno.test("webhooks: a late event never undoes a final state; an empty schedule sends no reminder", async () => {
  await inbox.clear();
  const email = uniqueEmail("events");
  const interview = await interviewWith([]);
  const res = await register(interview, email);
  assert.equal(res.body[0].email_status, "sent");
  const [row] = await until("the delivered state", async () => {
    const rows = await sql`select o.id, o.provider_id, o.delivery_status
      from public.email_outbox o join public.profile_interview e on e.id = o.profile_interview_id
      where e.email = ${email}`;
    return rows[0]?.delivery_status === "delivered" ? rows : null;
  });
  // No reminders for an interview whose schedule is empty.
  assert.equal((await reminderOf(email)) ?? null, null);
  const body = event("email.delivery_delayed", row.provider_id);
  const late = await postEvent(
    body,
    signDeliveryEvent(keys.resendWebhookSecret, `msg_${crypto.randomUUID()}`, new Date(), body),
  );
  assert.equal(late.body.outcome, "applied");
  const [after] = await sql`select delivery_status from public.email_outbox where id = ${row.id}`;
  assert.equal(after.delivery_status, "delivered", "a later event never undoes a final state");
});

Deno.test({
  name: "close the database connection (email chain)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});

Deno.test("webhooks: a signed but malformed event gets a clear answer, never a 500", async () => {
  const secret = keys.resendWebhookSecret;
  const id = () => `msg_${crypto.randomUUID().replaceAll("-", "")}`;
  const now = () => new Date().toISOString();
  const signed = (body: string, messageId = id()) =>
    postEvent(body, signDeliveryEvent(secret, messageId, new Date(), body));

  // Not an event object at all: refused as a bad body.
  for (const body of ["null", "[]", "5", '"text"', "{"]) {
    const res = await signed(body);
    assert.equal(res.status, 400, body);
    assert.equal(res.body.name, "body", body);
  }
  // An id longer than any Svix id: refused, by its header.
  const long = await signed(event("email.sent", crypto.randomUUID()), "m".repeat(300));
  assert.equal(long.status, 400);
  assert.equal(long.body.name, "svix-id");

  // Odd fields of an object: acknowledged and ignored, as an unknown event is.
  for (
    const body of [
      JSON.stringify({
        type: "email.delivered",
        created_at: "not a time",
        data: { email_id: "x" },
      }),
      JSON.stringify({ type: "email.sent", created_at: "99999-01-01", data: { email_id: "x" } }),
      JSON.stringify({ type: "x".repeat(500), created_at: now(), data: { email_id: "x" } }),
      JSON.stringify({
        type: "email.bounced",
        created_at: now(),
        data: { email_id: "x".repeat(500) },
      }),
      JSON.stringify({ type: "email.bounced", data: null }),
      JSON.stringify({ type: 7, created_at: 7, data: { email_id: 7, bounce: "x" } }),
    ]
  ) {
    const res = await signed(body);
    assert.equal(res.status, 200, body);
    assert.equal(res.body.outcome, "unknown_email", body);
  }
});

Deno.test("webhooks: an endless unsigned body is refused as too large, the function unharmed", async () => {
  const FUNCTION = "job-interview-email-events";
  const pid = (await functionPids())[FUNCTION];
  assert.ok(pid);
  // Streamed without a length, far beyond the limit: read only up to it, never held whole.
  const chunk = new TextEncoder().encode("x".repeat(1 << 20));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ >= 400) controller.close();
      else controller.enqueue(chunk);
    },
  });
  const res = await fetch(EVENTS_URL, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  }).catch((err) => err);
  if (res instanceof Response) {
    const answer = await res.json();
    assert.equal(res.status, 413, JSON.stringify(answer));
    assert.equal(answer.name, "body");
  }
  // Still answering, from the same process: the body never filled its memory.
  const after = await postEvent("{}", { "content-type": "application/json" });
  assert.equal(after.status, 401);
  assert.equal((await functionPids())[FUNCTION], pid, "the function was not restarted");
});
