// The local inbox page, as a browser shows it (headless Chromium, Debian's `chromium`): newest
// first, filters by recipient and time, a clear button, local times, delivery states, a preview.
import assert from "node:assert/strict";
import { startMailInbox } from "../../stack/mail_inbox.ts";
import { freePort } from "../../stack/ports.ts";
import { dumpDom, hasChromium, screenshot } from "../../scripts/chromium.ts";

const chromium = await hasChromium();
if (!chromium) console.error("inbox page test skipped: install Debian's chromium to run it");

Deno.test({
  name: "the inbox page in a browser: newest first, filters, clear, local times, states",
  ignore: !chromium,
  fn: async () => {
    const port = freePort();
    const apiKey = "re_test_inbox_page";
    const inbox = startMailInbox({ port, apiKey, rateLimit: 100 });
    const base = `http://127.0.0.1:${port}`;
    const send = async (to: string, subject: string) => {
      const res = await fetch(`${base}/emails`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({
          from: "Demo <invitations@mail.example.com>",
          to: [to],
          subject,
          html: `<p>Hello ${to}</p>`,
        }),
      });
      await res.body?.cancel();
      // Distinct receive times, so that the order is the sending order.
      await new Promise((resolve) => setTimeout(resolve, 5));
      return res.status;
    };
    try {
      assert.equal(await send("first@example.com", "First"), 200);
      assert.equal(await send("mj@example.com", "Second"), 200);
      assert.equal(await send("nobody@nowhere.invalid", "Third"), 422);

      const page = await dumpDom(`${base}/`);
      const subjects = [...page.matchAll(/<tr class="(\w+)[^"]*">.*?<\/tr>/gs)].map((m) => [
        m[1],
        /(First|Second|Third)/.exec(m[0])![1],
      ]);
      assert.deepEqual(subjects, [["rejected", "Third"], ["delivered", "Second"], [
        "delivered",
        "First",
      ]]);
      assert.match(page, /does not accept email/, "why the rejected one was refused");
      // The newest delivered email is in the preview pane.
      const emails = await (await fetch(`${base}/api/emails`)).json();
      assert.match(page, new RegExp(`<iframe name="preview"[^>]*src="/view/${emails[1].id}"`));
      // Times are shown in local form by the browser, with the UTC form as the tooltip.
      const times = [...page.matchAll(/<time [^>]*>([^<]*)<\/time>/g)].map((m) => m[1]);
      assert.equal(times.length, 3);
      for (const time of times) assert.doesNotMatch(time, /\d{4}-\d\d-\d\dT/, time);

      const filtered = await dumpDom(`${base}/?to=MJ@`);
      assert.match(filtered, /Second/);
      assert.doesNotMatch(filtered, /First|Third/);
      assert.match(filtered, /1 of 3 shown/);
      assert.match(await dumpDom(`${base}/?within=5m`), /3 of 3 shown/);

      // "Only newer mail" hides this run's mail; the next run's shows.
      const newer = /href="([^"]*after=[^"]*)"[^>]*>Only newer mail/.exec(page)![1]
        .replaceAll("&amp;", "&");
      assert.match(await dumpDom(`${base}${newer}`), /No mail matches the filter/);
      await send("next-run@example.com", "Fourth");
      const next = await dumpDom(`${base}${newer}`);
      assert.match(next, /Fourth/);
      assert.doesNotMatch(next, /First|Second|Third/);

      const shot = await Deno.makeTempFile({ suffix: ".png" });
      await screenshot(`${base}/`, shot, { width: 1280, height: 720 });
      const png = await Deno.readFile(shot);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
      await Deno.remove(shot);

      // The clear button's form empties the inbox.
      assert.match(page, /<form method="post" action="\/clear">/);
      const cleared = await fetch(`${base}/clear`, { method: "POST", redirect: "manual" });
      await cleared.body?.cancel();
      assert.equal(cleared.status, 303);
      assert.match(await dumpDom(`${base}/`), /No mail yet/);
      assert.deepEqual(await (await fetch(`${base}/api/emails`)).json(), []);
    } finally {
      await inbox.shutdown();
    }
  },
});
