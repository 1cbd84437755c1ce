// The results file: every row of the input, in line order, with what became of it. Written with a
// BOM so that Excel reads it as UTF-8 (names like "García" stay intact), and read back on the next
// run so that rows already registered are not sent again.
import { stringify } from "csv-stringify/sync";
import { decodeCsv, readCandidates } from "./csv.ts";

export const RESULT_COLUMNS = [
  "result",
  "interview_url",
  "profile_interview_id",
  "email_status",
  "email_error",
  "interview_id",
] as const;

export type ResultColumn = typeof RESULT_COLUMNS[number];

export interface ResultRow {
  line: number;
  values: string[];
  outcome: Record<ResultColumn, string>;
}

export function resultsCsv(headers: string[], rows: ResultRow[]): string {
  const width = headers.length;
  const sorted = rows.slice().sort((a, b) => a.line - b.line);
  return "\ufeff" + stringify([
    ["line", ...headers, ...RESULT_COLUMNS],
    ...sorted.map((row) => [
      String(row.line),
      // Malformed rows may have more or fewer fields than the header: keep the columns aligned.
      ...Array.from({ length: width }, (_, i) => row.values[i] ?? ""),
      ...RESULT_COLUMNS.map((column) => row.outcome[column]),
    ]),
  ]);
}

/** The outcome of each email (lowercased) in an earlier results file; null if there is none. */
export async function readPreviousResults(
  path: string,
): Promise<Map<string, Record<ResultColumn, string> & { line: string }> | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const file = readCandidates(decodeCsv(bytes).text, { delimiter: "," });
  const at = (name: string) => file.headers.indexOf(name);
  if (at("result") < 0 || at("line") < 0) {
    throw new Error(
      `${path} exists but is not a results file of this importer: pass --out <another file>, ` +
        "or --force to overwrite it",
    );
  }
  const outcomes = new Map<string, Record<ResultColumn, string> & { line: string }>();
  for (const row of file.rows) {
    const email = row.candidate.email?.toLowerCase();
    // A later duplicate of a registered row must not hide that it was registered.
    if (!email || outcomes.get(email)?.result === "ok") continue;
    const outcome = Object.fromEntries(
      RESULT_COLUMNS.map((column) => [column, at(column) >= 0 ? row.values[at(column)] : ""]),
    ) as Record<ResultColumn, string>;
    outcomes.set(email, { ...outcome, line: row.values[at("line")] });
  }
  return outcomes;
}
