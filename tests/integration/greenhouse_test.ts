// Greenhouse's side of the Assessment Partner API, scripted: every request it sends and every
// answer it gets is checked against openapi/greenhouse.json, over HTTP through the gateway,
// against the real stack. The flow: list the tests, send one, send it again (Greenhouse's
// retry), poll the status before and after the candidate starts through job-interview-start,
// report an error; then the refusals Greenhouse may meet.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { createApiKeyAs } from "../../stack/api_keys.ts";
import { dispatch, drainOutbox, inbox } from "../support/inbox.ts";
import { database, info, keys, seed, uniqueEmail } from "../support/stack.ts";

const sql = database();
const BASE = `${info.FUNCTIONS_URL}/greenhouse-assessment`;
const contract = JSON.parse(
  await Deno.readTextFile(new URL("../../openapi/greenhouse.json", import.meta.url)),
);
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (ajv: Ajv2020) => void)(ajv);
ajv.addSchema({ ...contract, $id: "greenhouse.json" });

const pointer = (...parts: string[]) =>
  "greenhouse.json#/" + parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

function check(ref: string, value: unknown, what: string): void {
  const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
  if (!validate(value)) {
    throw new Error(
      `${what} does not match openapi/greenhouse.json: ` +
        `${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`,
    );
  }
}

const basic = (key: string, password = "") => `Basic ${btoa(`${key}:${password}`)}`;

// deno-lint-ignore no-explicit-any
type Body = any;

/** One call as Greenhouse makes it, request and answer checked against the contract. */
async function greenhouse(
  endpoint: "list_tests" | "send_test" | "test_status" | "response_error",
  options: { key?: string | null; authorization?: string; body?: unknown; query?: string } = {},
): Promise<{ status: number; body: Body; headers: Headers }> {
  const path = `/${endpoint}`;
  const method = endpoint === "send_test" || endpoint === "response_error" ? "post" : "get";
  const operation = contract.paths[path][method];
  if (options.body !== undefined && typeof options.body === "object") {
    check(
      pointer("paths", path, method, "requestBody", "content", "application/json", "schema"),
      options.body,
      `${endpoint} request`,
    );
  }
  const headers: Record<string, string> = {};
  const authorization = options.authorization ??
    (options.key === null ? undefined : basic(options.key ?? live));
  if (authorization) headers.authorization = authorization;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${BASE}${path}${options.query ?? ""}`, {
    method: method.toUpperCase(),
    headers,
    body: options.body === undefined
      ? undefined
      : typeof options.body === "string"
      ? options.body
      : JSON.stringify(options.body),
  });
  const body = await res.json();
  const response = operation.responses[String(res.status)];
  assert.ok(
    response,
    `openapi/greenhouse.json has no ${res.status} for ${endpoint}: ` +
      JSON.stringify(body),
  );
  check(
    pointer(
      "paths",
      path,
      method,
      "responses",
      String(res.status),
      "content",
      "application/json",
      "schema",
    ),
    body,
    `${endpoint} ${res.status} answer`,
  );
  return { status: res.status, body, headers: res.headers };
}

/** Greenhouse's end of the completion callbacks: records each PATCH, fails as many as asked. */
const receiver = {
  calls: [] as { method: string; path: string; authorization: string | null }[],
  failNext: 0,
};
const receiverServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
  receiver.calls.push({
    method: req.method,
    path: new URL(req.url).pathname,
    authorization: req.headers.get("authorization"),
  });
  if (receiver.failNext > 0) {
    receiver.failNext--;
    return new Response("busy", { status: 503 });
  }
  return new Response(null, { status: 200 });
});
let takeHomeTests = 0;
const callbackUrl = () =>
  `http://127.0.0.1:${receiverServer.addr.port}/integrations/testing_partners/take_home_tests/${++takeHomeTests}`;

const live = (await createApiKeyAs(info, keys, seed.users.owner.email)).key;
const testKey = (await createApiKeyAs(info, keys, seed.users.owner.email, { test: true })).key;
const otherKey = (await createApiKeyAs(info, keys, seed.users.otherOwner.email)).key;

function sendBody(
  email: string,
  testId: string = seed.activeInterview,
  applicationId = "26234709",
) {
  return {
    partner_test_id: testId,
    candidate: {
      first_name: "Harriet",
      last_name: "Vane",
      preferred_name: "Harriet",
      resume_url: "https://greenhouse.example/resume",
      phone_number: "123-456-7890",
      email,
      greenhouse_profile_url:
        `https://app.greenhouse.io/people/17681532?application_id=${applicationId}`,
    },
    sent_by: "recruiter@example.org",
    url: callbackUrl(),
  };
}

/** Invitations queued for an enrolment (a sent one also schedules its reminders). */
async function outboxRows(enrolmentId: string): Promise<number> {
  const [{ n }] = await sql`select count(*)::int as n from public.email_outbox
    where profile_interview_id = ${enrolmentId} and kind = 'invitation'`;
  return n;
}

Deno.test("Greenhouse's flow: list, send, retry, status before and after the start, report", async () => {
  // list_tests: the merchant's active interviews and positions; drafts only for a test key.
  const listed = await greenhouse("list_tests");
  assert.equal(listed.status, 200);
  const ids = listed.body.map((t: Body) => t.partner_test_id);
  assert.ok(ids.includes(seed.activeInterview));
  assert.ok(ids.includes(seed.position));
  assert.ok(!ids.includes(seed.draftInterview));
  assert.ok(!ids.includes(seed.otherInterview) && !ids.includes(seed.subInterview));
  assert.ok(listed.headers.get("ratelimit-limit"));
  const drafts = await greenhouse("list_tests", { key: testKey });
  assert.ok(drafts.body.some((t: Body) => t.partner_test_id === seed.draftInterview));

  // send_test: one enrolment, its external_id the Greenhouse application, one invitation.
  const email = uniqueEmail("greenhouse");
  const sent = await greenhouse("send_test", { body: sendBody(email) });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const id = sent.body.partner_interview_id;
  const [enrolment] = await sql`select merchant_id, name, external_id, email
    from public.profile_interview where id = ${id}`;
  assert.deepEqual({ ...enrolment }, {
    merchant_id: seed.demoMerchant,
    name: "Harriet Vane",
    external_id: "26234709",
    email,
  });

  // Greenhouse's retry: the same id, no second enrolment, link or email.
  const again = await greenhouse("send_test", { body: sendBody(email) });
  assert.equal(again.status, 200);
  assert.equal(again.body.partner_interview_id, id);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(await outboxRows(id), 1);
  await drainOutbox(sql, [email]);
  const received = (await inbox.emails()).filter((m) => m.to.includes(email));
  assert.equal(received.length, 1);

  // Before the candidate starts.
  const before = await greenhouse("test_status", { query: `?partner_interview_id=${id}` });
  assert.equal(before.status, 200);
  assert.equal(before.body.partner_status, "not_started");
  assert.equal(before.body.partner_score, null);

  // The candidate follows the emailed link.
  const link = /https?:\/\/[^\s"<]+interview_token=([^\s"<&]+)/.exec(received[0].text ?? "");
  assert.ok(link, "the invitation carries the interview link");
  const started = await fetch(`${info.FUNCTIONS_URL}/job-interview-start`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ interview_token: decodeURIComponent(link[1]) }),
  });
  assert.equal(started.status, 200, await started.clone().text());
  const attempt = (await started.json()).attempt_id;

  const during = await greenhouse("test_status", { query: `?partner_interview_id=${id}` });
  assert.equal(during.body.partner_status, "started");
  assert.ok(during.body.metadata["Started At"]);
  assert.equal(during.body.metadata["Completed At"], undefined);

  // Submitting has no endpoint yet: the interview front end's write, made here in SQL.
  await sql`update public.interview_result set status = 'submitted' where id = ${attempt}`;
  const done = await greenhouse("test_status", { query: `?partner_interview_id=${id}` });
  assert.equal(done.body.partner_status, "complete");
  assert.ok(done.body.metadata["Completed At"]);
  assert.ok(done.body.partner_profile_url.endsWith(`/enrolments/${id}`));

  // Greenhouse reports an answer it could not use.
  const reported = await greenhouse("response_error", {
    body: {
      api_call: "test_status",
      errors: ["partner_score is not a number"],
      partner_test_id: seed.activeInterview,
      partner_test_name: "Demo",
      partner_interview_id: id,
      candidate_email: email,
    },
  });
  assert.equal(reported.status, 200);
  assert.deepEqual(reported.body, { status: 200 });
});

Deno.test("Greenhouse auth: the API key as the Basic user name, empty password, nothing else", async () => {
  const refusals = [
    { key: null },
    { authorization: `Bearer ${live}` },
    { authorization: basic(live, "secret") },
    { authorization: basic(live.slice(0, -1) + (live.endsWith("A") ? "B" : "A")) },
    { authorization: basic("jm_live_short") },
    { authorization: "Basic !!!" },
  ];
  for (const refusal of refusals) {
    for (const endpoint of ["list_tests", "test_status", "send_test", "response_error"] as const) {
      const res = await greenhouse(endpoint, {
        ...refusal,
        body: endpoint === "send_test"
          ? sendBody(uniqueEmail("gh-auth"))
          : endpoint === "response_error"
          ? { api_call: "list_tests", errors: ["x"] }
          : undefined,
        query: endpoint === "test_status" ? `?partner_interview_id=${crypto.randomUUID()}` : "",
      });
      assert.equal(res.status, 401, `${endpoint} ${JSON.stringify(refusal)}`);
      assert.match(
        res.headers.get("www-authenticate") ?? "",
        /^Basic /,
        `${endpoint} ${JSON.stringify(refusal)}`,
      );
    }
  }
  // A revoked key fails on its next call.
  const revoked = (await createApiKeyAs(info, keys, seed.users.owner.email)).key;
  assert.equal((await greenhouse("list_tests", { key: revoked })).status, 200);
  await sql`update public.api_key set revoked_at = now()
    where key_hash = ${createHash("sha256").update(revoked).digest()}`;
  assert.equal((await greenhouse("list_tests", { key: revoked })).status, 401);
  // A send for a test id that cannot exist is still refused for its key first.
  const malformed = await greenhouse("send_test", {
    key: revoked,
    body: sendBody(uniqueEmail("gh-auth"), "not-a-test"),
  });
  assert.equal(malformed.status, 401, JSON.stringify(malformed.body));
});

Deno.test("Greenhouse: another merchant's or an unknown id is 404, and nothing about it leaks", async () => {
  const sent = await greenhouse("send_test", { body: sendBody(uniqueEmail("gh-own")) });
  const id = sent.body.partner_interview_id;
  const foreign = await greenhouse("test_status", {
    key: otherKey,
    query: `?partner_interview_id=${id}`,
  });
  const unknown = await greenhouse("test_status", {
    key: otherKey,
    query: `?partner_interview_id=${crypto.randomUUID()}`,
  });
  const garbage = await greenhouse("test_status", {
    key: otherKey,
    query: "?partner_interview_id=x",
  });
  const missing = await greenhouse("test_status", { key: otherKey });
  // A test key (a partner's staging system) sees its merchant's test enrolments only: a live
  // candidate's is as unknown to it as another merchant's.
  const live = await greenhouse("test_status", {
    key: testKey,
    query: `?partner_interview_id=${id}`,
  });
  for (const res of [foreign, unknown, garbage, missing, live]) {
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, foreign.body);
  }
  // Another merchant's interview is an unknown test, the same as a made-up one.
  for (const testId of [seed.otherInterview, crypto.randomUUID(), "not-a-test"]) {
    const res = await greenhouse("send_test", { body: sendBody(uniqueEmail("gh-x"), testId) });
    assert.equal(res.status, 404);
    assert.equal(res.body.name, "partner_test_id");
  }
});

Deno.test("Greenhouse: a bad candidate is 400, a merchant at its invitation limit 403", async () => {
  const bad = await greenhouse("send_test", { body: sendBody("not an email") });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.name, "candidate.email");
  const missing = await greenhouse("send_test", {
    body: { partner_test_id: seed.activeInterview, url: "https://x.example" },
  }).catch((err) => err);
  // Greenhouse never sends this (the contract requires the candidate): checked by the schema.
  assert.match(String(missing), /does not match openapi\/greenhouse.json/);

  // A merchant of its own, at its limit, with a key of its own (inserted by digest).
  const merchant = crypto.randomUUID();
  const interview = crypto.randomUUID();
  const key = "jm_live_" + "L".repeat(4) + crypto.randomUUID().replaceAll("-", "").slice(0, 32) +
    "Z".repeat(11);
  await sql`insert into public.merchant (id, name, invitations_limit, invitations_sent)
    values (${merchant}, 'Limited', 1, 1)`;
  await sql`insert into public.interview_def_set (id, merchant_id, name, status)
    values (${interview}, ${merchant}, 'Limited interview', 'active')`;
  await sql`insert into public.api_key (merchant_id, name, key_hash, prefix, is_test,
      requests_per_minute)
    values (${merchant}, 'limited', ${createHash("sha256").update(key).digest()},
      ${key.slice(0, 12)}, false, 3)`;
  const limited = await greenhouse("send_test", {
    key,
    body: sendBody(uniqueEmail("gh-limit"), interview),
  });
  assert.equal(limited.status, 403);
  assert.equal(limited.body.code, "invitation_limit");

  // The key's own limit, 3 a minute: 429 with the usual headers (a few calls more than 3, in
  // case a minute ends in between).
  let last;
  for (let i = 0; i < 10 && last?.status !== 429; i++) {
    last = await greenhouse("list_tests", { key });
  }
  assert.equal(last!.status, 429);
  assert.equal(last!.headers.get("ratelimit-remaining"), "0");
  assert.ok(Number(last!.headers.get("retry-after")) >= 1);
  assert.equal(last!.body.code, "rate_limited");
});

Deno.test("Greenhouse: the wrong method or endpoint is refused before anything else", async () => {
  const wrong = await fetch(`${BASE}/send_test`, { headers: { authorization: basic(live) } });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "POST, OPTIONS");
  await wrong.body?.cancel();
  const nowhere = await fetch(`${BASE}/delete_everything`, {
    headers: { authorization: basic(live) },
  });
  assert.equal(nowhere.status, 404);
  await nowhere.body?.cancel();
});

Deno.test("Greenhouse callback: a submitted interview is PATCHed to send_test's url with the key, retried until taken", async () => {
  const email = uniqueEmail("gh-callback");
  const body = sendBody(email);
  const path = new URL(body.url).pathname;
  const sent = await greenhouse("send_test", { body });
  assert.equal(sent.status, 200);
  const id = sent.body.partner_interview_id;
  const ours = () => receiver.calls.filter((call) => call.path === path);
  const row = async () =>
    (await sql`select status, attempts, credential from public.greenhouse_callback
      where profile_interview_id = ${id}`)[0];

  // Recorded, waiting; the key is kept only encrypted.
  assert.equal((await row()).status, "waiting");
  assert.ok(!(await row()).credential.includes(live.slice(8)));
  await dispatch();
  assert.equal(ours().length, 0);

  // An attempt starts (nothing due), then is submitted: due. Greenhouse is busy twice.
  const [{ jti }] = await sql`select jti from public.interview_token
    where profile_interview_id = ${id} limit 1`;
  const [attempt] = await sql`insert into public.interview_result
      (profile_interview_id, interview_def_set_id, merchant_id, token_jti)
    values (${id}, ${seed.activeInterview}, ${seed.demoMerchant}, ${jti}) returning id`;
  assert.equal((await row()).status, "waiting");
  receiver.failNext = 2;
  await sql`update public.interview_result set status = 'submitted' where id = ${attempt.id}`;
  assert.equal((await row()).status, "pending");

  // Dispatch rounds until it is taken (retries come due quickly in the test stack).
  for (let round = 0; round < 200 && (await row()).status !== "sent"; round++) {
    await dispatch({ max_duration_ms: 2_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const done = await row();
  assert.equal(done.status, "sent");
  assert.equal(done.attempts, 3);
  assert.equal(ours().length, 3);
  for (const call of ours()) {
    assert.equal(call.method, "PATCH");
    assert.equal(call.authorization, `Basic ${btoa(`${live}:`)}`);
  }
  // Sent once: later rounds leave it alone.
  await dispatch();
  assert.equal(ours().length, 3);
});

Deno.test("Greenhouse callback: a url outside the allowed origins is never called", async () => {
  const email = uniqueEmail("gh-elsewhere");
  const sent = await greenhouse("send_test", {
    body: { ...sendBody(email), url: "http://localhost:1/steal" },
  });
  assert.equal(sent.status, 200);
  const rows = await sql`select 1 from public.greenhouse_callback
    where profile_interview_id = ${sent.body.partner_interview_id}`;
  assert.equal(rows.length, 0);
});

Deno.test("Greenhouse: hostile send_test bodies get a status the contract lists, never a 500", async () => {
  // Far larger than any send: refused before it is read, as the contract says.
  const huge = await greenhouse("send_test", {
    body: JSON.stringify({ ...sendBody(uniqueEmail("gh-huge")), padding: "x".repeat(2 << 20) }),
  });
  assert.equal(huge.status, 413);
  const hugeReport = await greenhouse("response_error", {
    body: JSON.stringify({ api_call: "send_test", errors: ["x".repeat(2 << 20)] }),
  });
  assert.equal(hugeReport.status, 413);

  // Wrong types: the schema's 422 with the field's name.
  const typed = await greenhouse("send_test", {
    body: JSON.stringify({ partner_test_id: seed.activeInterview, candidate: { email: ["x"] } }),
  });
  assert.equal(typed.status, 422);
  assert.equal(typed.body.name, "candidate.email");

  // Names at their limit, odd but printable Unicode: registered, the name kept within 200.
  const email = uniqueEmail("gh-unicode");
  const body = sendBody(email);
  body.candidate.first_name = "Zoë\u0301 😀 ".repeat(20);
  body.candidate.last_name = "<b>Ø</b>".repeat(25);
  const odd = await greenhouse("send_test", { body });
  assert.equal(odd.status, 200, JSON.stringify(odd.body));
  const [row] = await sql`select name from public.profile_interview
    where id = ${odd.body.partner_interview_id}`;
  assert.ok(row.name.length <= 200);

  // Both names valid, their join cut at 200 right inside an emoji: still one valid name.
  const cut = sendBody(uniqueEmail("gh-cut"));
  cut.candidate.first_name = "a".repeat(198);
  cut.candidate.last_name = "😀";
  const joined = await greenhouse("send_test", { body: cut });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
});

Deno.test({
  name: "close the database connection (greenhouse)",
  fn: async () => {
    await receiverServer.shutdown();
    await sql.end();
  },
  sanitizeResources: false,
  sanitizeOps: false,
});
