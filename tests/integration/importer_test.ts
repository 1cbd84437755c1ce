// The CSV importer on a 5,000-row export against the stack, with PostgREST down at first so that
// batches are retried (with the same Idempotency-Key).
import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { decodeCsv, detectDelimiter, readCandidates } from "../../clients/importer/csv.ts";
import { database, info, seed } from "../support/stack.ts";

const sql = database();
const root = new URL("../../", import.meta.url).pathname;

async function importer(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}clients/importer/main.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("headers are matched loosely; rows that do not fit are reported by line", () => {
  const file = readCandidates(
    '\ufeffCandidate Name;x,E-Mail Address,ATS ID\n"Doe, Jane",jane@example.com,7\nonly,two\n' +
      '"Multi\nLine",multi@example.com,8\n',
  );
  assert.deepEqual(file.rows.map((r) => r.candidate), [
    { name: "Doe, Jane", email: "jane@example.com", external_id: "7" },
    { name: "Multi\nLine", email: "multi@example.com", external_id: "8" },
  ]);
  assert.deepEqual(file.bad, [
    { line: 3, values: ["only", "two"], reason: "2 fields where the header has 3" },
  ]);
  assert.throws(() => readCandidates("Name,Phone\nA,1\n"), /no email column/);
});

Deno.test("5,000 candidates from a CSV, with retries, bad rows reported, results written", async () => {
  const dir = await Deno.makeTempDir();
  const run = crypto.randomUUID().slice(0, 8);
  const records: string[][] = [["Full Name", "E-mail", "External ID", "Notes"]];
  const badLines: number[] = [];
  for (let i = 0; i < 5000; i++) {
    records.push([
      `Candidate ${i}, Jr.`,
      `import-${run}-${i}@example.com`,
      `ext-${i}`,
      i % 7 ? "" : "a\nb",
    ]);
  }
  // Three rows that do not fit the header.
  for (const at of [10, 2000, 4000]) records.splice(at, 0, ["broken", "row"]);
  // The first candidate again, in another batch: reported as a duplicate within a batch is.
  records.push(["Again", `IMPORT-${run}-0@example.com`, "ext-again", ""]);
  const text = stringify(records);
  let offset = text.indexOf("\nbroken,row\n");
  while (offset >= 0) {
    badLines.push(text.slice(0, offset + 1).split("\n").length);
    offset = text.indexOf("\nbroken,row\n", offset + 1);
  }
  assert.equal(badLines.length, 3);
  const csv = `${dir}/candidates.csv`;
  await Deno.writeTextFile(csv, text);

  const args = [
    "--interview",
    seed.activeInterview,
    "--merchant",
    seed.demoMerchant,
    "--csv",
    csv,
    "--url",
    info.FUNCTIONS_URL,
    "--key",
    info.SECRET_KEY,
  ];
  await fetch(`${info.API_URL}/_stack/postgrest/stop`, { method: "POST" }).then((r) =>
    r.body?.cancel()
  );
  const running = importer(args);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await fetch(`${info.API_URL}/_stack/postgrest/start`, { method: "POST" }).then((r) =>
    r.body?.cancel()
  );
  const result = await running;
  assert.equal(result.code, 0, result.stderr);
  for (const line of badLines) assert.match(result.stderr, new RegExp(`line ${line}: skipped`));
  assert.match(
    result.stderr,
    /5000 registered, 0 already registered before, 1 with errors, 3 bad CSV rows/,
  );
  assert.match(result.stderr, /sent 1000\/5000 rows, \d+ rows\/s, ETA/);

  const all = parse(await Deno.readTextFile(`${dir}/candidates.results.csv`), {
    columns: true,
    bom: true,
  }) as Record<string, string>[];
  assert.equal(all.length, 5004, "every input row is in the results");
  assert.deepEqual(
    all.map((row) => Number(row.line)),
    [...all.map((row) => Number(row.line))].sort((a, b) => a - b),
  );
  for (const line of badLines) {
    const row = all.find((r) => r.line === String(line))!;
    assert.equal(row.result, "Error: malformed CSV row: 2 fields where the header has 4");
    assert.equal(row["Full Name"], "broken");
  }
  const duplicate = all.at(-1)!;
  assert.equal(duplicate["E-mail"], `IMPORT-${run}-0@example.com`);
  assert.match(duplicate.result, /^Error: duplicate email in this file \(first on line 2\)$/);
  assert.match(result.stderr, new RegExp(`line ${duplicate.line}: Error: duplicate email`));
  const output = all.filter((row) => !row.result.startsWith("Error:"));
  assert.equal(output.length, 5000);
  assert.deepEqual(Object.keys(output[0]), [
    "line",
    "Full Name",
    "E-mail",
    "External ID",
    "Notes",
    "result",
    "interview_url",
    "profile_interview_id",
    "email_status",
    "email_error",
    "interview_id",
  ]);
  assert.ok(output.every((row) => row.result === "ok" && row.interview_url.startsWith("https://")));
  const enrolments = await sql`select email, id from public.profile_interview
    where email like ${`import-${run}-%`}`;
  assert.equal(enrolments.length, 5000);
  const ids = new Map(enrolments.map((row) => [row.email, row.id]));
  assert.ok(output.every((row) => ids.get(row["E-mail"]) === row.profile_interview_id));

  // The same file again skips what is done; into a fresh results file it is a replay (the
  // batches' keys derive from their content): the same answers either way, no new links.
  const [{ before }] = await sql`select count(*)::int as before from public.interview_token`;
  const resumed = await importer(args);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /skipped 5000 rows already registered by an earlier run/);
  const again = await importer([...args, "--out", `${dir}/again.csv`]);
  assert.equal(again.code, 0, again.stderr);
  for (const file of ["again.csv", "candidates.results.csv"]) {
    const rows = parse(await Deno.readTextFile(`${dir}/${file}`), { columns: true, bom: true });
    assert.deepEqual(rows, all, file);
  }
  const [{ after }] = await sql`select count(*)::int as after from public.interview_token`;
  assert.equal(after, before);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Excel's semicolons, quotes and Windows-1252 are read; a broken row does not stop it", () => {
  const text = 'Name;E-Mail;Kandidaten-ID\n"Garc\u00eda, Jos\u00e9";jose@example.com;"1"\n' +
    '"Broken"x;broken@example.com;2\n"M\u00fcller";mueller@example.com;3\n';
  assert.equal(detectDelimiter(text), ";");
  assert.equal(detectDelimiter("a\tb,c\tmail\n"), "\t");
  assert.equal(detectDelimiter('"x;y"|mail|z\n'), "|");
  const bytes = windows1252(text);
  assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  const decoded = decodeCsv(bytes);
  assert.equal(decoded.encoding, "Windows-1252");
  assert.equal(decoded.text, text);
  assert.equal(decodeCsv(new TextEncoder().encode("\ufeff" + text)).encoding, "UTF-8 with BOM");
  assert.equal(decodeCsv(new TextEncoder().encode(text)).encoding, "UTF-8");
  const file = readCandidates(decoded.text);
  assert.equal(file.delimiter, ";");
  assert.deepEqual(file.rows.map((r) => [r.line, r.candidate.name, r.candidate.email]), [
    [2, "Garc\u00eda, Jos\u00e9", "jose@example.com"],
    [4, "M\u00fcller", "mueller@example.com"],
  ]);
  assert.deepEqual(file.bad.map((b) => [b.line, b.reason]), [
    [3, 'unexpected "x" after a closing quote'],
  ]);
});

/** Encodes text as Windows-1252 (the characters these tests use are all in Latin-1). */
function windows1252(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => {
    assert.ok(ch.charCodeAt(0) < 256, ch);
    return ch.charCodeAt(0);
  });
}

async function readResults(path: string): Promise<Record<string, string>[]> {
  return parse(await Deno.readTextFile(path), { columns: true, bom: true });
}

function importerArgs(csv: string, ...extra: string[]) {
  return [
    "--interview",
    seed.activeInterview,
    "--csv",
    csv,
    "--url",
    info.FUNCTIONS_URL,
    "--key",
    info.SECRET_KEY,
    ...extra,
  ];
}

Deno.test("a German Excel file (semicolons, Windows-1252) imports; the results open in Excel", async () => {
  const dir = await Deno.makeTempDir();
  const run = crypto.randomUUID().slice(0, 8);
  const csv = `${dir}/Bewerber.csv`;
  await Deno.writeFile(
    csv,
    windows1252(
      `Name;E-Mail;Notiz\r\n"Garc\u00eda, Jos\u00e9";garcia-${run}@example.com;"sagt ""Hallo"""\r\n` +
        `M\u00fcller;mueller-${run}@example.com;\r\n`,
    ),
  );
  const result = await importer(importerArgs(csv, "--merchant", seed.demoMerchant));
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /Windows-1252, ';' between fields \(detected from the header line\)/);
  const bytes = await Deno.readFile(`${dir}/Bewerber.results.csv`);
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], "a UTF-8 BOM for Excel");
  const rows: Record<string, string>[] = parse(new TextDecoder().decode(bytes), {
    columns: true,
    bom: true,
  });
  assert.deepEqual(rows.map((r) => [r.line, r.Name, r.Notiz, r.result]), [
    ["2", "Garc\u00eda, Jos\u00e9", 'sagt "Hallo"', "ok"],
    ["3", "M\u00fcller", "", "ok"],
  ]);
  const [{ name }] = await sql`select name from public.profile_interview
    where email = ${`garcia-${run}@example.com`}`;
  assert.equal(name, "Garc\u00eda, Jos\u00e9");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a corrected file sent again invites only the rows that failed", async () => {
  const dir = await Deno.makeTempDir();
  const run = crypto.randomUUID().slice(0, 8);
  const csv = `${dir}/c.csv`;
  const emails = [0, 1, 2].map((i) => `resume-${run}-${i}@example.com`);
  const write = (third: string) =>
    Deno.writeTextFile(csv, `name,email\nA,${emails[0]}\nB,${emails[1]}\nC,${third}\n`);
  await write(`resume-${run}-2@example`);
  const args = importerArgs(csv, "--merchant", seed.demoMerchant, "--send-email");
  const first = await importer(args);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /rows that failed:\n {2}line 4: Error: invalid email address/);
  assert.match(first.stderr, /2 registered, 0 already registered before, 1 with errors/);

  const invitations = async () =>
    Object.fromEntries(
      (await sql`select p.email, count(o.id)::int as n from public.profile_interview p
        join public.email_outbox o on o.profile_interview_id = p.id and o.kind = 'invitation'
        where p.email like ${`resume-${run}-%`} group by p.email`).map((r) => [r.email, r.n]),
    );
  assert.deepEqual(await invitations(), { [emails[0]]: 1, [emails[1]]: 1 });

  await write(emails[2]);
  const second = await importer(args);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /skipped 2 rows already registered by an earlier run/);
  assert.match(second.stderr, /1 registered, 2 already registered before, 0 with errors/);
  assert.deepEqual(await invitations(), { [emails[0]]: 1, [emails[1]]: 1, [emails[2]]: 1 });
  const rows = await readResults(`${dir}/c.results.csv`);
  assert.deepEqual(rows.map((r) => r.result), ["ok", "ok", "ok"]);

  const forced = await importer([...args, "--force"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.doesNotMatch(forced.stderr, /skipped/);
  assert.deepEqual(await invitations(), { [emails[0]]: 2, [emails[1]]: 2, [emails[2]]: 2 });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--help; errors in the importer's own terms, not retried; results kept", async () => {
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}clients/importer/main.ts`, "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(help.code, 0);
  const usage = new TextDecoder().decode(help.stdout);
  for (const word of ["--merchant", "--delimiter", "--force", "SECRET_KEY", "FUNCTIONS_URL"]) {
    assert.ok(usage.includes(word), word);
  }
  const wrong = await importer(["--interview", "x", "--csv", "c.csv"]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /--interview must be a UUID/);

  const dir = await Deno.makeTempDir();
  const run = crypto.randomUUID().slice(0, 8);
  const csv = `${dir}/c.csv`;
  const lines = Array.from({ length: 25 }, (_, i) => `N${i},bad-${run}-${i}@`);
  await Deno.writeTextFile(csv, `name,email\n${lines.join("\n")}\n`);
  // The service key without --merchant: a 422 about merchant_id, said in flags, sent once.
  const noMerchant = await importer(importerArgs(csv));
  assert.equal(noMerchant.code, 1);
  assert.match(noMerchant.stderr, /pass --merchant <merchant id>/);
  assert.doesNotMatch(noMerchant.stderr, /retrying/);
  assert.match(
    noMerchant.stderr,
    /25 rows were not sent\. Results so far are in .*c\.results\.csv/,
  );
  const kept = await readResults(`${dir}/c.results.csv`);
  assert.equal(kept.length, 25);
  assert.match(kept[0].result, /^Error: not sent, the import stopped: this key needs/);

  // A refused key: said as such, not retried.
  const badKey = await importer(
    importerArgs(csv, "--merchant", seed.demoMerchant)
      .map((arg) => arg === info.SECRET_KEY ? "sb_secret_not_a_key" : arg),
  );
  assert.equal(badKey.code, 1);
  assert.match(badKey.stderr, /the key was refused \(HTTP 401/);
  assert.doesNotMatch(badKey.stderr, /retrying/);

  // With it, every row fails on its email: the first 20 are listed, then a count.
  const bad = await importer(importerArgs(csv, "--merchant", seed.demoMerchant));
  assert.equal(bad.code, 0, bad.stderr);
  assert.match(bad.stderr, /line 21: Error: invalid email address/);
  assert.doesNotMatch(bad.stderr, /line 22: /);
  assert.match(bad.stderr, /\.\.\. and 5 more/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "close the database connection (importer)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
