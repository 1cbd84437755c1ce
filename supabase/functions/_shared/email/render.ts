// Renders one invitation: subject, HTML (table layout, inline styles, no external resources
// needed) and a plain-text part. Every interpolated value is escaped for where it goes: HTML
// text and attributes, or header-safe single lines for the subject and sender name.
import { invitationText } from "./templates.ts";

export interface InvitationData {
  candidateName: string | null;
  interviewName: string;
  language: string | null;
  companyName: string;
  brandColor: string | null;
  logoUrl: string | null;
  url: string;
  expiresAt: Date;
}

/** An invitation or a reminder, possibly of a test registration. */
export interface EmailData extends InvitationData {
  kind: "invitation" | "reminder";
  isTest: boolean;
  /** When it is rendered: a reminder says how long the link still works from then. */
  now: Date;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
  language: string;
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]);
}

/** One line, no control characters: what may go into a header or a single line of text. */
export function singleLine(value: string, max = 200): string {
  // deno-lint-ignore no-control-regex
  return value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").replace(/\s+/g, " ").trim()
    .slice(0, max);
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => values[key] ?? "");
}

function formatExpiry(date: Date, language: string): string {
  try {
    return new Intl.DateTimeFormat(language, {
      dateStyle: "long",
      timeStyle: "short",
      timeZone: "UTC",
    }).format(date) + " UTC";
  } catch {
    return date.toISOString();
  }
}

/** How long is left, in the largest whole unit that is at least 2 (or minutes), localised. */
export function formatLeft(ms: number, language: string): string {
  const minutes = Math.max(Math.floor(ms / 60_000), 1);
  const [value, unit] = minutes >= 2 * 24 * 60
    ? [Math.floor(minutes / (24 * 60)), "day"]
    : minutes >= 120
    ? [Math.floor(minutes / 60), "hour"]
    : [minutes, "minute"];
  try {
    return new Intl.NumberFormat(language, { style: "unit", unit, unitDisplay: "long" })
      .format(value);
  } catch {
    return `${value} ${unit}s`;
  }
}

export function renderInvitation(data: InvitationData): RenderedEmail {
  return renderEmail({ ...data, kind: "invitation", isTest: false, now: new Date() });
}

export function renderEmail(data: EmailData): RenderedEmail {
  const { language, text: base } = invitationText(data.language);
  const text = data.kind === "reminder"
    ? { ...base, subject: base.reminderSubject, intro: base.reminderIntro }
    : base;
  const plain = {
    company: singleLine(data.companyName),
    interview: singleLine(data.interviewName),
    name: data.candidateName ? singleLine(data.candidateName) : "",
    expires: formatExpiry(data.expiresAt, language),
    left: formatLeft(data.expiresAt.getTime() - data.now.getTime(), language),
  };
  const html = Object.fromEntries(
    Object.entries(plain).map(([key, value]) => [key, escapeHtml(value)]),
  );
  const color = data.brandColor && /^#[0-9a-fA-F]{6}$/.test(data.brandColor)
    ? data.brandColor
    : "#1f2937";
  const greeting = plain.name ? text.greeting : text.greetingAnonymous;
  const url = escapeHtml(data.url);
  const logo = data.logoUrl && /^https:\/\/[^\s"'<>]+$/.test(data.logoUrl)
    ? `<img src="${escapeHtml(data.logoUrl)}" alt="${html.company}" height="32" ` +
      `style="display:block;height:32px;border:0;margin:0 0 24px 0">`
    : `<div style="font-size:18px;font-weight:bold;color:${color};margin:0 0 24px 0">` +
      `${html.company}</div>`;

  const subject = singleLine(
    (data.isTest ? `${text.testPrefix} ` : "") + fill(text.subject, plain),
    250,
  );
  const body = `<!DOCTYPE html>
<html lang="${language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(subject)}</title>
</head>
<body style="margin:0;padding:0;background-color:#f3f4f6">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#f3f4f6">
<tr><td align="center" style="padding:32px 16px">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" border="0" style="max-width:560px;width:100%;background-color:#ffffff;border-radius:8px">
<tr><td style="padding:32px;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:24px;color:#111827">
${logo}
<p style="margin:0 0 16px 0">${fill(greeting, html)}</p>
<p style="margin:0 0 24px 0">${fill(text.intro, html)}</p>
<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:0 0 24px 0">
<tr><td align="center" bgcolor="${color}" style="border-radius:6px">
<a href="${url}" target="_blank" style="display:inline-block;padding:12px 24px;font-family:Arial,Helvetica,sans-serif;font-size:16px;font-weight:bold;color:#ffffff;text-decoration:none;border-radius:6px">${
    escapeHtml(text.button)
  }</a>
</td></tr>
</table>
<p style="margin:0 0 16px 0;font-size:14px;line-height:20px;color:#374151">${
    fill(text.expiry, html)
  }</p>
<p style="margin:0 0 4px 0;font-size:13px;line-height:18px;color:#6b7280">${
    escapeHtml(text.fallbackLink)
  }</p>
<p style="margin:0;font-size:13px;line-height:18px;word-break:break-all"><a href="${url}" style="color:${color}">${url}</a></p>
</td></tr>
<tr><td style="padding:16px 32px 32px 32px;font-family:Arial,Helvetica,sans-serif;font-size:12px;line-height:18px;color:#9ca3af;border-top:1px solid #e5e7eb">${
    fill(text.footer, html)
  }</td></tr>
</table>
</td></tr>
</table>
</body>
</html>`;

  const plainText = [
    fill(greeting, plain),
    "",
    fill(text.intro, plain),
    "",
    `${text.button}: ${data.url}`,
    "",
    fill(text.expiry, plain),
    "",
    "--",
    fill(text.footer, plain),
    "",
  ].join("\n");

  return { subject, html: body, text: plainText, language };
}

/** `"Name" <address>` with a display name that cannot break out of the header. */
export function fromHeader(displayName: string, address: string): string {
  const name = singleLine(displayName, 100).replace(/["\\<>]/g, "");
  return name ? `"${name}" <${address}>` : address;
}
