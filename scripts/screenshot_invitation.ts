// Renders a sample invitation exactly as the dispatcher does and photographs it in headless
// Chromium (Debian's `chromium` package), for the docs: deno task docs:screenshot
import { renderInvitation } from "../supabase/functions/_shared/email/render.ts";
import { screenshot } from "./chromium.ts";

const language = Deno.args[0] ?? "en";
const email = renderInvitation({
  candidateName: "Peter Parker",
  interviewName: "Customer Support Specialist",
  language,
  companyName: "Demo Merchant",
  brandColor: "#4f46e5",
  logoUrl: null,
  url: "https://interview.demo-merchant.test/interview/take/04e09fa5-3fb8-4236-b37d-fca2bcd1cb66/" +
    "?interview_token=eyJhbGciOiJFZERTQSIsImtpZCI6ImludGVydmlldy0xIn0.eyJzdWIiOiJkZW1vIn0.c2ln",
  expiresAt: new Date("2026-12-27T09:00:00Z"),
});
const dir = await Deno.makeTempDir();
const page = `${dir}/invitation.html`;
await Deno.writeTextFile(page, email.html);
const out = new URL(
  `../docs/images/invitation${language === "en" ? "" : `-${language}`}.png`,
  import.meta.url,
)
  .pathname;
try {
  await screenshot(`file://${page}`, out, { width: 720, height: 760 });
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log(`wrote ${out} (subject: ${email.subject})`);
