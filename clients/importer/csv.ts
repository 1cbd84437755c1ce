// Reads a recruiter's or ATS's CSV export: finds the name, email and external id columns by
// loosely matched headers, and sets aside rows that do not fit the header, with line numbers.
import { parse } from "csv-parse/sync";

export interface CandidateRow {
  /** Line of the file where the row ends (the header is line 1). */
  line: number;
  values: string[];
  candidate: { name: string | null; email: string | null; external_id: string | null };
}

export interface CandidateFile {
  headers: string[];
  rows: CandidateRow[];
  bad: { line: number; reason: string }[];
}

const normalise = (header: string) => header.toLowerCase().replace(/[^a-z0-9]/g, "");

// Exact names first; then any header containing one of the `contains` words.
const COLUMNS: Record<keyof CandidateRow["candidate"], string[]> = {
  name: ["name", "fullname", "candidatename", "candidate", "applicantname", "displayname"],
  email: ["email", "emailaddress", "mail", "candidateemail", "applicantemail", "emailid"],
  external_id: [
    "externalid",
    "externalidentifier",
    "candidateid",
    "applicantid",
    "atsid",
    "id",
    "reference",
    "ref",
  ],
};

const CONTAINS: Record<keyof CandidateRow["candidate"], string[]> = {
  name: ["name"],
  email: ["email", "mail"],
  external_id: ["externalid", "candidateid", "applicantid", "atsid"],
};

function findColumn(headers: string[], exact: string[], contains: string[]): number {
  const normalised = headers.map(normalise);
  for (const name of exact) {
    const at = normalised.indexOf(name);
    if (at >= 0) return at;
  }
  return normalised.findIndex((header) => contains.some((word) => header.includes(word)));
}

export function readCandidates(text: string): CandidateFile {
  let records: { info: { lines: number }; record: string[] }[];
  try {
    records = parse(text, {
      info: true,
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
    }) as unknown as typeof records;
  } catch (err) {
    throw new Error(`the file is not valid CSV: ${(err as Error).message}`);
  }
  if (!records.length) throw new Error("the file is empty");
  const headers = records[0].record;
  const at = {
    email: findColumn(headers, COLUMNS.email, CONTAINS.email),
    external_id: findColumn(headers, COLUMNS.external_id, CONTAINS.external_id),
    name: -1,
  };
  // "Email" must not be taken for a name column, nor an id for either.
  at.name = findColumn(
    headers.map((h, i) => (i === at.email || i === at.external_id ? "" : h)),
    COLUMNS.name,
    CONTAINS.name,
  );
  if (at.email < 0) {
    throw new Error(`no email column among the headers: ${headers.join(", ")}`);
  }
  const value = (values: string[], index: number) =>
    index >= 0 && values[index] ? values[index] : null;
  const rows: CandidateRow[] = [];
  const bad: CandidateFile["bad"] = [];
  for (const { info, record } of records.slice(1)) {
    if (record.length !== headers.length) {
      bad.push({
        line: info.lines,
        reason: `${record.length} fields where the header has ${headers.length}`,
      });
      continue;
    }
    rows.push({
      line: info.lines,
      values: record,
      candidate: {
        name: value(record, at.name),
        email: value(record, at.email),
        external_id: value(record, at.external_id),
      },
    });
  }
  return { headers, rows, bad };
}
