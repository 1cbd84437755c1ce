// deno task register --interview <id> --csv candidates.csv [--send-email] [--merchant <id>]
//   [--out results.csv] [--url <functions url>] [--key <service key or access token>]
// Registers every candidate of a CSV file and writes a results CSV beside it: the input columns
// plus result, interview_url, profile_interview_id and email_status. Without --url and --key it
// uses FUNCTIONS_URL and API_KEY, or the running local stack.
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { stringify } from "csv-stringify/sync";
import { createRegistrationClient } from "../typescript/client.ts";
import { readCandidates } from "./csv.ts";
import { importCandidates, ImportError } from "./import.ts";

const USAGE = "usage: deno task register --interview <id> --csv <file> [--send-email] " +
  "[--merchant <id>] [--out <file>] [--url <functions url>] [--key <key>]";

async function localStack(): Promise<{ url: string; key: string } | null> {
  try {
    const state = JSON.parse(
      await Deno.readTextFile(new URL("../../.local/stack.json", import.meta.url)),
    );
    return { url: state.info.FUNCTIONS_URL, key: state.info.SECRET_KEY };
  } catch {
    return null;
  }
}

function progressBar(done: number, total: number) {
  if (!Deno.stderr.isTerminal()) return;
  const width = 30;
  const filled = Math.round(width * done / total);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  Deno.stderr.writeSync(new TextEncoder().encode(`\r[${bar}] ${done}/${total}`));
  if (done === total) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      interview: { type: "string" },
      csv: { type: "string" },
      merchant: { type: "string" },
      out: { type: "string" },
      url: { type: "string" },
      key: { type: "string" },
      "send-email": { type: "boolean", default: false },
    },
  });
  if (!values.interview || !values.csv) {
    console.error(USAGE);
    return 2;
  }
  const local = await localStack();
  const url = values.url ?? Deno.env.get("FUNCTIONS_URL") ?? local?.url;
  const key = values.key ?? Deno.env.get("API_KEY") ?? local?.key;
  if (!url || !key) {
    console.error(
      "no API to send to: pass --url and --key, set FUNCTIONS_URL and API_KEY, " +
        "or start the local stack",
    );
    return 2;
  }

  const text = await Deno.readTextFile(values.csv);
  const file = readCandidates(text);
  for (const bad of file.bad) console.error(`line ${bad.line}: skipped, ${bad.reason}`);
  const runKey = "import-" + createHash("sha256")
    .update([text, values.interview, values.merchant ?? "", values["send-email"]].join("\u0000"))
    .digest("hex").slice(0, 32);

  const results = await importCandidates(file.rows, {
    api: createRegistrationClient({ functionsUrl: url, credential: key }),
    interviewId: values.interview,
    merchantId: values.merchant,
    sendEmail: values["send-email"],
    runKey,
    onProgress: progressBar,
  });

  const out = values.out ?? values.csv.replace(/(\.csv)?$/i, ".results.csv");
  const extra = ["result", "interview_url", "profile_interview_id", "email_status"];
  await Deno.writeTextFile(
    out,
    stringify([
      [...file.headers, ...extra],
      ...results.map((r) => [
        ...r.row.values,
        r.result,
        r.interview_url,
        r.profile_interview_id,
        r.email_status,
      ]),
    ]),
  );
  const ok = results.filter((r) => r.result === "ok").length;
  console.error(
    `${ok} registered, ${results.length - ok} with errors, ${file.bad.length} bad CSV rows; ` +
      `results in ${out}`,
  );
  return 0;
}

try {
  Deno.exit(await main());
} catch (err) {
  console.error(`error: ${err instanceof ImportError || err instanceof Error ? err.message : err}`);
  Deno.exit(1);
}
