// deno task register: registers every candidate of a CSV file for an interview and writes a
// results file beside it. `./deno task register --help` explains the options.
import { parseArgs } from "node:util";
import { createRegistrationClient } from "../typescript/client.ts";
import {
  type CandidateRow,
  decodeCsv,
  type Delimiter,
  describeDelimiter,
  parseDelimiter,
  readCandidates,
} from "./csv.ts";
import { importCandidates, type ImportedRow, type ImportError } from "./import.ts";
import { readPreviousResults, type ResultColumn, type ResultRow, resultsCsv } from "./results.ts";

export const USAGE = `Registers the candidates of a CSV file for an interview.

usage: ./deno task register --interview <id> --csv <file> [options]

  --interview <id>   the interview (or position) to register the candidates for (a UUID)
  --csv <file>       the candidates: a header line, then one candidate per line. The name,
                     email and external id columns are found by their headers (e.g. "Name",
                     "E-mail", "Candidate ID"); other columns are copied to the results.
                     UTF-8 (with or without BOM) or Windows-1252, as Excel saves it.
  --merchant <id>    the merchant the candidates belong to (a UUID). Required with the service
                     key (SECRET_KEY), which acts for no merchant of its own; with a user's access
                     token it defaults to the user's merchant.
  --send-email       also send each candidate the invitation email
  --delimiter <d>    , ; tab or | (default: detected from the header line)
  --out <file>       the results file (default: <csv file>.results.csv, beside it)
  --force            register every row again, also those an earlier run registered (new links,
                     and with --send-email new emails)
  --url <url>        the API's functions URL (default: FUNCTIONS_URL, else the local stack)
  --key <key>        a merchant API key (jm_live_...), the service key or a user's access
                     token (default: SECRET_KEY, else the local stack's service key)
  -h, --help         this text

Re-running is safe: rows that an earlier run registered (the "ok" rows of the results file) are
skipped and copied through, so a corrected file sends only to the rows that failed. FUNCTIONS_URL
and SECRET_KEY are the names './deno task local:status' prints.`;

class UsageError extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FAILED_ROWS_SHOWN = 20;

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

/** Whether a progress bar is drawn on the terminal's current line. */
let barOpen = false;

function say(line: string) {
  if (barOpen) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  barOpen = false;
  console.error(line);
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** One line per batch; on a terminal, a bar that is redrawn. */
function progress(done: number, total: number, elapsedMs: number) {
  const rate = done / Math.max(elapsedMs / 1000, 0.001);
  const eta = done < total ? `, ETA ${seconds((total - done) / rate * 1000)}` : "";
  const figures = `${done}/${total} rows, ${Math.round(rate)} rows/s${eta}`;
  if (Deno.stderr.isTerminal()) {
    const width = 30;
    const filled = Math.round(width * done / total);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    const end = done === total ? "\n" : "";
    Deno.stderr.writeSync(new TextEncoder().encode(`\r[${bar}] ${figures}   ${end}`));
    barOpen = done < total;
  } else {
    say(`sent ${figures}`);
  }
}

/** The API's refusal in this command's own terms: flags, not request fields. */
export function explainFailure(
  failure: ImportError,
  options: { merchant?: string; interview: string },
): string {
  const message = failure.message.replace(/^lines \S+ failed[^:]*: /, "");
  if (failure.field === "merchant_id") {
    if (!options.merchant) {
      return "this key needs to be told the merchant: pass --merchant <merchant id> " +
        `(the API said: ${message})`;
    }
    return `--merchant ${options.merchant}: ${message.replace(/^merchant_id /, "")}`;
  }
  if (failure.field === "interview_id") {
    return `--interview ${options.interview}: ${message.replace(/^interview_id /, "")}`;
  }
  if (failure.status === 401) {
    return `the key was refused (HTTP 401: ${message}); pass --key <service key or access ` +
      "token> or set SECRET_KEY";
  }
  if (failure.status === 403) {
    return `the key may not do this (HTTP 403: ${message}); check --merchant and --interview`;
  }
  return failure.message;
}

function outcomeOf(
  result: string,
  interviewId: string,
  from?: Partial<Record<ResultColumn, string>>,
): Record<ResultColumn, string> {
  return {
    result,
    interview_url: from?.interview_url ?? "",
    profile_interview_id: from?.profile_interview_id ?? "",
    email_status: from?.email_status ?? "",
    email_error: from?.email_error ?? "",
    interview_id: interviewId,
  };
}

export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        interview: { type: "string" },
        csv: { type: "string" },
        merchant: { type: "string" },
        out: { type: "string" },
        url: { type: "string" },
        key: { type: "string" },
        delimiter: { type: "string" },
        "send-email": { type: "boolean", default: false },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify.*$/s, ""));
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.interview) throw new UsageError("--interview <id> is required");
  if (!values.csv) throw new UsageError("--csv <file> is required");
  if (!UUID.test(values.interview)) {
    throw new UsageError(`--interview must be a UUID (got ${JSON.stringify(values.interview)})`);
  }
  if (values.merchant !== undefined && !UUID.test(values.merchant)) {
    throw new UsageError(`--merchant must be a UUID (got ${JSON.stringify(values.merchant)})`);
  }
  const delimiter: Delimiter | undefined = values.delimiter === undefined
    ? undefined
    : parseDelimiter(values.delimiter);
  const local = await localStack();
  const url = values.url ?? Deno.env.get("FUNCTIONS_URL") ?? local?.url;
  const key = values.key ?? Deno.env.get("SECRET_KEY") ?? local?.key;
  if (!url || !key) {
    say(
      "error: no API to send to: pass --url and --key, set FUNCTIONS_URL and SECRET_KEY " +
        "(as './deno task local:status' prints them), or start the local stack",
    );
    return 2;
  }

  const bytes = await Deno.readFile(values.csv).catch((err) => {
    throw new Error(`cannot read --csv ${values.csv}: ${(err as Error).message}`);
  });
  const { text, encoding } = decodeCsv(bytes);
  const file = readCandidates(text, { delimiter });
  say(
    `read ${values.csv}: ${encoding}, ${describeDelimiter(file.delimiter)} between fields ` +
      `(${file.delimiterSource}), ${file.rows.length + file.bad.length} rows`,
  );
  const interviewId = values.interview;
  const out = values.out ?? values.csv.replace(/(\.csv)?$/i, ".results.csv");
  const done: ResultRow[] = [];

  for (const bad of file.bad) {
    say(`line ${bad.line}: skipped, ${bad.reason}`);
    done.push({
      line: bad.line,
      values: bad.values,
      outcome: outcomeOf(`Error: malformed CSV row: ${bad.reason}`, interviewId),
    });
  }

  // Later rows with an email seen before fail as the API fails duplicates within one request.
  const firstLine = new Map<string, number>();
  let pending: CandidateRow[] = [];
  for (const row of file.rows) {
    const email = row.candidate.email?.toLowerCase();
    const first = email ? firstLine.get(email) : undefined;
    if (first !== undefined) {
      done.push({
        line: row.line,
        values: row.values,
        outcome: outcomeOf(
          `Error: duplicate email in this file (first on line ${first})`,
          interviewId,
        ),
      });
      continue;
    }
    if (email) firstLine.set(email, row.line);
    pending.push(row);
  }

  // Rows an earlier run registered are copied through, not sent again.
  const previous = values.force ? null : await readPreviousResults(out);
  if (previous) {
    let skipped = 0;
    let otherInterview = 0;
    let withoutEmail = 0;
    pending = pending.filter((row) => {
      const before = previous.get(row.candidate.email?.toLowerCase() ?? "");
      if (!before || before.result !== "ok") return true;
      if (before.interview_id && before.interview_id !== interviewId) {
        otherInterview++;
        return true;
      }
      if (values["send-email"] && !["sent", "queued"].includes(before.email_status)) {
        withoutEmail++;
        return true;
      }
      skipped++;
      done.push({
        line: row.line,
        values: row.values,
        outcome: outcomeOf("ok", interviewId, before),
      });
      return false;
    });
    if (skipped) {
      say(
        `skipped ${skipped} rows already registered by an earlier run (their "ok" rows in ` +
          `${out} are copied through); --force registers them again`,
      );
    }
    if (withoutEmail) {
      say(
        `sending ${withoutEmail} rows again that an earlier run registered without an ` +
          "invitation email that was sent or queued",
      );
    }
    if (otherInterview) {
      say(`${otherInterview} rows of ${out} were for another interview: sent for this one`);
    }
  }

  const { results, failure } = pending.length
    ? await importCandidates(pending, {
      api: createRegistrationClient({ functionsUrl: url, credential: key }),
      interviewId,
      merchantId: values.merchant,
      sendEmail: values["send-email"],
      // Without --force, a batch sent before is answered from the API's idempotency record.
      keySalt: values.force ? crypto.randomUUID() : "",
      onProgress: progress,
      onRetry: (lines, reason, wait) => say(`${lines}: ${reason}; retrying in ${seconds(wait)}`),
    })
    : { results: [] as ImportedRow[], failure: undefined };

  for (const r of results) {
    done.push({
      line: r.row.line,
      values: r.row.values,
      outcome: outcomeOf(r.result, interviewId, r),
    });
  }
  const sent = new Set(results.map((r) => r.row));
  const unsent = pending.filter((row) => !sent.has(row));
  const stopReason = failure
    ? explainFailure(failure, { merchant: values.merchant, interview: interviewId })
    : "";
  for (const row of unsent) {
    done.push({
      line: row.line,
      values: row.values,
      outcome: outcomeOf(`Error: not sent, the import stopped: ${stopReason}`, interviewId),
    });
  }
  await Deno.writeTextFile(out, resultsCsv(file.headers, done));

  const unsentLines = new Set(unsent.map((row) => row.line));
  const failed = done.filter((row) => row.outcome.result !== "ok" && !unsentLines.has(row.line))
    .sort((a, b) => a.line - b.line);
  if (failed.length) {
    say(`rows that failed:`);
    for (const row of failed.slice(0, FAILED_ROWS_SHOWN)) {
      say(`  line ${row.line}: ${row.outcome.result}`);
    }
    if (failed.length > FAILED_ROWS_SHOWN) {
      say(`  ... and ${failed.length - FAILED_ROWS_SHOWN} more (see ${out})`);
    }
  }
  const ok = done.filter((row) => row.outcome.result === "ok").length;
  const registeredNow = results.filter((r) => r.result === "ok").length;
  say(
    `${registeredNow} registered, ${ok - registeredNow} already registered before, ` +
      `${failed.length - file.bad.length} with errors, ${file.bad.length} bad CSV rows; ` +
      `results in ${out}`,
  );
  if (failure) {
    say(`error: the import stopped: ${stopReason}`);
    say(
      `${unsent.length} rows were not sent. Results so far are in ${out}; run the same command ` +
        "again to send the rest (rows already registered are skipped).",
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    say(`error: ${err instanceof Error ? err.message : err}`);
    if (err instanceof UsageError) say("run './deno task register --help' for the options");
    Deno.exit(2);
  }
}
