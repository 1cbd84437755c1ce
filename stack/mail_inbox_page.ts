// The local inbox's web page: newest mail first, filtered by recipient or time so that one run's
// mail can be told from another's, a button that empties the inbox, times in the reader's own
// time zone, each email's delivery state, and the selected email in a preview pane.
import type { StoredEmail } from "./mail_inbox.ts";

/** An email the stand-in refused, as Resend refuses an address it cannot deliver to. */
export interface RejectedEmail {
  to: string[];
  subject: string;
  reason: string;
  received_at: string;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const WITHIN: Record<string, { label: string; ms: number }> = {
  "": { label: "any time", ms: Infinity },
  "5m": { label: "the last 5 minutes", ms: 5 * 60_000 },
  "1h": { label: "the last hour", ms: 3_600_000 },
  "24h": { label: "the last 24 hours", ms: 86_400_000 },
};

interface Entry {
  id: string | null;
  to: string[];
  subject: string;
  from: string;
  state: string;
  detail: string;
  received_at: string;
}

const html = (body: string, status = 200) =>
  new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8" } });

// Turns every <time> into the reader's local date and time; the UTC form stays as its tooltip.
const LOCAL_TIMES = `<script>
for (const t of document.querySelectorAll("time[datetime]")) {
  const d = new Date(t.dateTime);
  t.title = t.dateTime;
  t.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}
</script>`;

export function inboxPage(
  emails: StoredEmail[],
  rejected: RejectedEmail[],
  url: URL,
  now = Date.now(),
): Response {
  const to = (url.searchParams.get("to") ?? "").trim();
  const asked = url.searchParams.get("within") ?? "";
  const within = Object.hasOwn(WITHIN, asked) ? asked : "";
  const after = Date.parse(url.searchParams.get("after") ?? "");
  const entries: Entry[] = [
    ...emails.map((e) => ({
      id: e.id,
      to: e.to,
      subject: e.subject,
      from: e.from,
      // What its delivery webhooks last reported (sent, delivered, bounced, complained), or,
      // before any, that the inbox took it.
      state: e.delivery?.replace(/^email\./, "") ?? "delivered",
      detail: e.delivery
        ? `last delivery event sent to the project: ${e.delivery}`
        : "accepted and kept by this local inbox",
      received_at: e.received_at,
    })),
    ...rejected.map((r) => ({
      id: null,
      to: r.to,
      subject: r.subject,
      from: "",
      state: "rejected",
      detail: r.reason,
      received_at: r.received_at,
    })),
  ];
  const shown = entries
    .filter((e) => !to || e.to.some((address) => address.toLowerCase().includes(to.toLowerCase())))
    .filter((e) => now - Date.parse(e.received_at) <= WITHIN[within].ms)
    .filter((e) => Number.isNaN(after) || Date.parse(e.received_at) > after)
    .sort((a, b) => b.received_at.localeCompare(a.received_at));
  const selected = url.searchParams.get("id") ?? shown.find((e) => e.id)?.id ?? null;
  const link = (params: Record<string, string>) => {
    const next = new URLSearchParams(url.searchParams);
    for (const [key, value] of Object.entries(params)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    return `/?${next}`;
  };
  const rows = shown.map((e) =>
    `<tr class="${e.state}${e.id && e.id === selected ? " selected" : ""}">` +
    `<td><time datetime="${e.received_at}">${e.received_at}</time></td>` +
    `<td>${escapeHtml(e.to.join(", "))}</td>` +
    `<td>${
      e.id
        ? `<a href="/view/${e.id}" target="preview" data-id="${e.id}">${escapeHtml(e.subject)}</a>`
        : escapeHtml(e.subject)
    }</td>` +
    `<td><span class="state" title="${escapeHtml(e.detail)}">${e.state}</span></td></tr>`
  ).join("\n");
  const newest = entries.map((e) => e.received_at).sort().at(-1);
  const options = Object.entries(WITHIN).map(([value, { label }]) =>
    `<option value="${value}"${value === within ? " selected" : ""}>${label}</option>`
  ).join("");
  const filtered = to || within || !Number.isNaN(after);
  return html(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Local inbox</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:flex;flex-direction:column;height:100vh}
header{padding:12px 20px;border-bottom:1px solid #ddd;display:flex;gap:16px;align-items:center;
flex-wrap:wrap}h1{font-size:20px;margin:0}form{display:flex;gap:8px;align-items:center;margin:0}
main{display:flex;flex:1;min-height:0}#list{flex:0 0 48%;overflow:auto;border-right:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:6px 8px;
text-align:left;font-size:13px;vertical-align:top}th{position:sticky;top:0;background:#fafafa}
tr.selected{background:#eef2ff}tr.rejected td,tr.bounced td,tr.complained td{color:#991b1b}
tr.bounced .state,tr.complained .state{background:#fee2e2;color:#991b1b}.state{font-size:12px;padding:1px 6px;
border-radius:8px;background:#dcfce7;color:#166534}tr.rejected .state{background:#fee2e2;
color:#991b1b}iframe{flex:1;border:0;height:100%}.count{color:#555;font-size:13px}
.empty{padding:24px;color:#555}
</style></head><body>
<header><h1>Local inbox</h1>
<span class="count">${shown.length} of ${entries.length} shown</span>
<form method="get" action="/" id="filter">
<input type="search" name="to" placeholder="recipient contains" value="${escapeHtml(to)}">
<label>received in <select name="within">${options}</select></label>
${
    Number.isNaN(after)
      ? ""
      : `<input type="hidden" name="after" value="${escapeHtml(url.searchParams.get("after")!)}">`
  }
<button type="submit">Filter</button>${filtered ? ' <a href="/">show all</a>' : ""}
</form>
${
    newest
      ? `<a href="${
        escapeHtml(link({ after: newest, id: "" }))
      }" title="hide what is here now: the next run's mail only">Only newer mail</a>`
      : ""
  }
<form method="post" action="/clear"><button type="submit" id="clear">Clear inbox</button></form>
</header>
<main><div id="list">${
    shown.length
      ? `<table><tr><th>Received</th><th>To</th><th>Subject</th><th>State</th></tr>${rows}</table>`
      : `<p class="empty">No mail${filtered ? " matches the filter" : " yet"}.</p>`
  }</div>
<iframe name="preview" title="preview" ${
    selected ? `src="/view/${escapeHtml(selected)}"` : 'srcdoc="<p>No email selected.</p>"'
  }></iframe></main>
<script>
for (const a of document.querySelectorAll("a[target=preview]")) {
  a.addEventListener("click", () => {
    document.querySelector("tr.selected")?.classList.remove("selected");
    a.closest("tr").classList.add("selected");
  });
}
</script>
${LOCAL_TIMES}</body></html>`);
}

export function viewPage(email: StoredEmail | undefined): Response {
  if (!email) return html("<p>This email is no longer in the inbox.</p>", 404);
  const meta = [
    ["From", escapeHtml(email.from)],
    ["To", escapeHtml(email.to.join(", "))],
    ["Reply-To", escapeHtml((email.reply_to ?? []).join(", "))],
    ["Subject", escapeHtml(email.subject)],
    ["Received", `<time datetime="${email.received_at}">${email.received_at}</time>`],
    ["State", "delivered (accepted and kept by this local inbox)"],
  ].map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("");
  return html(`<!DOCTYPE html><html><head><meta charset="utf-8">
<title>${escapeHtml(email.subject)}</title>
<style>body{font-family:system-ui,sans-serif;margin:0}table{margin:12px 16px;font-size:13px}
th{text-align:right;padding-right:12px;color:#555}iframe{width:100%;height:720px;border:0;
border-top:1px solid #ddd}pre{margin:16px;white-space:pre-wrap}</style></head><body>
<table>${meta}</table>
<iframe sandbox="" srcdoc="${escapeHtml(email.html ?? "")}"></iframe>
<pre>${escapeHtml(email.text ?? "")}</pre>${LOCAL_TIMES}</body></html>`);
}
