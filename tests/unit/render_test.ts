import assert from "node:assert/strict";
import {
  invitationText,
  SUPPORTED_LANGUAGES,
} from "../../supabase/functions/_shared/email/templates.ts";
import {
  formatLeft,
  fromHeader,
  renderEmail,
  renderInvitation,
  singleLine,
} from "../../supabase/functions/_shared/email/render.ts";

const sample = {
  candidateName: "Ann",
  interviewName: "Support",
  language: "en",
  companyName: "Acme",
  brandColor: "#112233",
  logoUrl: null,
  url: "https://x.test/interview/take/1/?interview_token=a.b.c&view_hm=true",
  expiresAt: new Date("2027-01-02T03:04:00Z"),
};

Deno.test("English plus at least three other languages, regional codes fall back", () => {
  assert.ok(SUPPORTED_LANGUAGES.includes("en") && SUPPORTED_LANGUAGES.length >= 4);
  assert.equal(invitationText("de").language, "de");
  assert.equal(invitationText("fr-CA").language, "fr");
  assert.equal(invitationText("ja").language, "en");
  assert.equal(invitationText(null).language, "en");
});

Deno.test("HTML escapes every interpolated value, the text part keeps it readable", () => {
  const email = renderInvitation({
    ...sample,
    candidateName: `<img src=x onerror="alert(1)">`,
    companyName: "A&B <Co>",
    interviewName: "Dev\r\nBcc: evil@example.com",
  });
  assert.ok(!email.html.includes("<img src=x"));
  assert.ok(email.html.includes("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
  assert.ok(email.html.includes("A&amp;B &lt;Co&gt;"));
  assert.ok(
    email.html.includes(
      'href="https://x.test/interview/take/1/?interview_token=a.b.c&amp;view_hm=true"',
    ),
  );
  assert.equal(email.subject, "Your interview for Dev Bcc: evil@example.com at A&B <Co>");
  assert.ok(email.text.includes(sample.url));
  assert.ok(email.text.includes("January 2, 2027"));
});

Deno.test("no external resources are needed; a missing name greets without one", () => {
  const email = renderInvitation({ ...sample, candidateName: null });
  assert.ok(!/<img|<link|<script|url\(/i.test(email.html));
  assert.ok(email.html.includes("Hello,"));
});

Deno.test("header values are single lines", () => {
  assert.equal(singleLine("a\r\nb\u2028c\td"), "a b c d");
  assert.equal(
    fromHeader('Evil"\r\nBcc: x@y.z <a>', "no-reply@x.test"),
    '"Evil Bcc: x@y.z a" <no-reply@x.test>',
  );
  assert.equal(fromHeader("", "no-reply@x.test"), "no-reply@x.test");
});

Deno.test("reminders in every language: their own subject, how long the link still works, the same link", () => {
  const now = new Date("2026-12-30T03:04:00Z"); // three days before the sample's expiry
  const expected: Record<string, RegExp> = {
    en: /Your link works for 3\sdays more\./,
    de: /Ihr Link ist noch 3\sTage gültig\./,
    es: /durante 3\sdías\./,
    fr: /encore 3\sjours\./,
    sk: /platí ešte 3\sdni\./,
  };
  for (const language of SUPPORTED_LANGUAGES) {
    const reminder = renderEmail({ ...sample, language, kind: "reminder", isTest: false, now });
    const invitation = renderEmail({ ...sample, language, kind: "invitation", isTest: false, now });
    assert.notEqual(reminder.subject, invitation.subject, language);
    assert.match(reminder.text, expected[language], language);
    assert.ok(reminder.text.includes(sample.url), `${language}: the invitation's link`);
  }
});

Deno.test("a test registration's email says so in its subject", () => {
  const email = renderEmail({ ...sample, kind: "invitation", isTest: true, now: new Date() });
  assert.match(email.subject, /^\[Test\] Your interview for Support at Acme$/);
  assert.equal(formatLeft(90 * 60_000, "en"), "90 minutes");
  assert.equal(formatLeft(5 * 3600_000, "en"), "5 hours");
});
