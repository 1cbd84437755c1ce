// Photographs the local inbox page with a few sample invitations, one of them refused, in headless
// Chromium (Debian's `chromium` package), for the docs: deno task docs:inbox
import { startMailInbox } from "../stack/mail_inbox.ts";
import { renderInvitation } from "../supabase/functions/_shared/email/render.ts";
import { freePort } from "../stack/ports.ts";
import { screenshot } from "./chromium.ts";

const port = freePort();
const apiKey = "re_docs_screenshot";
const inbox = startMailInbox({ port, apiKey, rateLimit: 100 });
const base = `http://127.0.0.1:${port}`;
try {
  const candidates = [
    ["Peter Parker", "peter.parker@example.com", "en"],
    ["Mary Jane Watson", "mj@example.com", "en"],
    ["Jozef Bal\u00e1\u017e", "jozef@example.sk", "sk"],
    ["Greta M\u00fcller", "greta@undeliverable.invalid", "de"],
  ];
  for (const [name, email, language] of candidates) {
    const message = renderInvitation({
      candidateName: name,
      interviewName: "Customer Support Specialist",
      language,
      companyName: "Demo Merchant",
      brandColor: "#4f46e5",
      logoUrl: null,
      url: "https://interview.demo-merchant.test/interview/take/04e09fa5/?interview_token=demo",
      expiresAt: new Date("2026-12-27T09:00:00Z"),
    });
    const res = await fetch(`${base}/emails`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        from: "Demo Merchant <invitations@mail.jobmojito.test>",
        to: [email],
        subject: message.subject,
        html: message.html,
        text: message.text,
      }),
    });
    await res.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const out = new URL("../docs/images/inbox.png", import.meta.url).pathname;
  await screenshot(`${base}/`, out, { width: 1280, height: 720 });
  console.log(`wrote ${out}`);
} finally {
  await inbox.shutdown();
}
