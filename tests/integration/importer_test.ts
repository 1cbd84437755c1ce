// The CSV importer on a 5,000-row export against the stack, with PostgREST down at first so that
// batches are retried (with the same Idempotency-Key).
import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { readCandidates } from "../../clients/importer/csv.ts";
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
  assert.deepEqual(file.bad, [{ line: 3, reason: "2 fields where the header has 3" }]);
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
  assert.match(result.stderr, /5000 registered, 0 with errors, 3 bad CSV rows/);

  const output = parse(await Deno.readTextFile(`${dir}/candidates.results.csv`), {
    columns: true,
  }) as Record<string, string>[];
  assert.equal(output.length, 5000);
  assert.deepEqual(Object.keys(output[0]), [
    "Full Name",
    "E-mail",
    "External ID",
    "Notes",
    "result",
    "interview_url",
    "profile_interview_id",
    "email_status",
  ]);
  assert.ok(output.every((row) => row.result === "ok" && row.interview_url.startsWith("https://")));
  const enrolments = await sql`select email, id from public.profile_interview
    where email like ${`import-${run}-%`}`;
  assert.equal(enrolments.length, 5000);
  const ids = new Map(enrolments.map((row) => [row.email, row.id]));
  assert.ok(output.every((row) => ids.get(row["E-mail"]) === row.profile_interview_id));

  // The same file again is a replay: the same answers, no new links.
  const [{ before }] = await sql`select count(*)::int as before from public.interview_token`;
  const again = await importer([...args, "--out", `${dir}/again.csv`]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(
    await Deno.readTextFile(`${dir}/again.csv`),
    await Deno.readTextFile(`${dir}/candidates.results.csv`),
  );
  const [{ after }] = await sql`select count(*)::int as after from public.interview_token`;
  assert.equal(after, before);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "close the database connection (importer)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
