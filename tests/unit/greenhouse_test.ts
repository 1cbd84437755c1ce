// The Greenhouse adapter's pure parts: Basic credentials, the send's identity, the status terms.
import assert from "node:assert/strict";
import { basicApiKey } from "../../supabase/functions/greenhouse-assessment/basic_auth.ts";
import {
  applicationIdOf,
  candidateName,
  sendIdentity,
} from "../../supabase/functions/greenhouse-assessment/send_test.ts";
import { testStatus } from "../../supabase/functions/greenhouse-assessment/test_status.ts";
import { HttpError } from "../../supabase/functions/_shared/http.ts";
import {
  callbackAllowed,
  openCredential,
  sealCredential,
} from "../../supabase/functions/_shared/greenhouse_callback.ts";

const KEY = "jm_live_" + "a1B2c3D4e5".repeat(4) + "XyZ0123";
const basic = (text: string) => `Basic ${btoa(text)}`;

Deno.test("Basic: the key as the user name and an empty password, as Greenhouse sends it", () => {
  const caller = basicApiKey(basic(`${KEY}:`));
  assert.equal(caller.kind, "api_key");
  assert.equal(caller.test, false);
  assert.match(caller.keyHash, /^[0-9a-f]{64}$/);
  assert.equal(basicApiKey(`basic  ${btoa(`${KEY}:`)}`).keyHash, caller.keyHash);
  assert.equal(basicApiKey(basic(`${KEY.replace("live", "test")}:`)).test, true);
});

Deno.test("Basic: anything else is 401 with a Basic challenge", () => {
  for (
    const header of [
      null,
      "",
      `Bearer ${KEY}`,
      basic(KEY),
      basic(`${KEY}:x`),
      basic(`:${KEY}`),
      basic("jm_live_short:"),
      "Basic %%%",
      "Basic " + btoa("\xff\xfe:"),
    ]
  ) {
    assert.throws(() => basicApiKey(header), (err: unknown) => {
      assert.ok(err instanceof HttpError);
      assert.equal(err.status, 401, String(header));
      assert.match(err.headers["www-authenticate"], /^Basic realm=/);
      return true;
    });
  }
});

const send = (email: string, url: string, testId = "04e09fa5-3fb8-4236-b37d-fca2bcd1cb66") => ({
  partner_test_id: testId,
  candidate: {
    first_name: " Harry ",
    last_name: "Potter",
    email,
    greenhouse_profile_url: url,
  },
});

Deno.test("send_test: the application id, the name, and one identity per test, email and application", () => {
  const url = "https://app.greenhouse.io/people/17681532?application_id=26234709";
  assert.equal(applicationIdOf(url), "26234709");
  assert.equal(applicationIdOf("https://app.greenhouse.io/people/1"), null);
  assert.equal(applicationIdOf("not a url"), null);
  assert.equal(applicationIdOf(null), null);
  assert.equal(candidateName(send("a@b.c", url).candidate), "Harry Potter");
  assert.equal(candidateName({}), null);
  // The 200-unit cut never leaves half of an emoji.
  assert.equal(
    candidateName({ first_name: "a".repeat(198), last_name: "😀" }),
    "a".repeat(198) + " ",
  );

  const first = sendIdentity(send("Harry@Example.com", url));
  assert.deepEqual(sendIdentity(send("harry@example.com ", url)), first);
  assert.match(first.key, /^greenhouse:[0-9a-f]{64}$/);
  assert.ok(first.key.length <= 255);
  assert.notEqual(sendIdentity(send("ron@example.com", url)).key, first.key);
  assert.notEqual(sendIdentity(send("harry@example.com", `${url}0`)).key, first.key);
  assert.notEqual(
    sendIdentity(send("harry@example.com", url, "8a3f2b10-5c6d-4e7f-8a9b-0c1d2e3f4a5b")).key,
    first.key,
  );
});

Deno.test("test_status: the attempt's state in Greenhouse's terms", () => {
  const base = {
    id: "0190f0f0-0000-7000-8000-000000000001",
    interview_name: "Demo",
    frontend_domain: null,
    attempt_status: null,
    started_at: null,
    finished_at: null,
  };
  const waiting = testStatus(base, "https://app.example/");
  assert.deepEqual(waiting, {
    partner_status: "not_started",
    partner_profile_url: `https://app.example/enrolments/${base.id}`,
    partner_score: null,
    metadata: { Interview: "Demo" },
  });
  const started = testStatus(
    { ...base, attempt_status: "started", started_at: "2026-11-28T10:00:00+00:00" },
    "https://app.example",
  );
  assert.equal(started.partner_status, "started");
  assert.equal(started.metadata["Started At"], "2026-11-28T10:00:00.000Z");
  const done = testStatus({
    ...base,
    frontend_domain: "https://jobs.merchant.example",
    attempt_status: "submitted",
    started_at: "2026-11-28T10:00:00Z",
    finished_at: "2026-11-28T10:30:00Z",
  }, "https://app.example");
  assert.equal(done.partner_status, "complete");
  assert.equal(done.metadata["Completed At"], "2026-11-28T10:30:00.000Z");
  assert.ok(done.partner_profile_url.startsWith("https://jobs.merchant.example/enrolments/"));
  const left = testStatus({
    ...base,
    attempt_status: "abandoned",
    started_at: "2026-11-28T10:00:00Z",
    finished_at: "2026-11-28T10:30:00Z",
  }, "https://app.example");
  assert.equal(left.partner_status, "abandoned");
  assert.equal(left.metadata["Completed At"], undefined);
});

Deno.test("callbacks go only to the allowed origins", () => {
  const origins = ["https://app.greenhouse.io", "http://127.0.0.1"];
  const take = "/integrations/testing_partners/take_home_tests/12345";
  assert.ok(callbackAllowed(`https://app.greenhouse.io${take}`, origins));
  assert.ok(callbackAllowed(`http://127.0.0.1:8123${take}`, origins));
  for (
    const url of [
      `http://app.greenhouse.io${take}`,
      `https://app.greenhouse.io.evil.example${take}`,
      `https://evil.example/?https://app.greenhouse.io`,
      `https://user:pw@app.greenhouse.io${take}`,
      `http://localhost${take}`,
      `http://169.254.169.254/latest`,
      "not a url",
    ]
  ) {
    assert.equal(callbackAllowed(url, origins), false, url);
  }
  assert.equal(callbackAllowed(`https://app.greenhouse.io:8443${take}`, origins), false);
  assert.ok(callbackAllowed(`https://app.greenhouse.io:443${take}`, origins));
});

Deno.test("a callback's key is kept encrypted, and opens only with its key", async () => {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const sealed = await sealCredential(secret, KEY);
  assert.ok(!sealed.includes(KEY.slice(8, 20)));
  assert.notEqual(await sealCredential(secret, KEY), sealed);
  assert.equal(await openCredential(secret, sealed), KEY);
  await assert.rejects(openCredential(crypto.getRandomValues(new Uint8Array(32)), sealed));
});
