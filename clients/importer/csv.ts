// Reads a recruiter's or ATS's CSV export as spreadsheets really save it: UTF-8 with or without a
// BOM, or Windows-1252 (Excel's other default); `,` `;` tab or `|` between fields (Excel in German,
// French, Spanish or Slovak uses `;`). Finds the name, email and external id columns by loosely
// matched headers. A row that cannot be read is set aside with its line and the reason, and the
// rows after it are still read.

export interface CandidateRow {
  /** Line of the file where the row starts (the header is line 1). */
  line: number;
  values: string[];
  candidate: { name: string | null; email: string | null; external_id: string | null };
}

export interface BadRow {
  line: number;
  /** What could be read of the row, for the results file. */
  values: string[];
  reason: string;
}

export interface CandidateFile {
  headers: string[];
  rows: CandidateRow[];
  bad: BadRow[];
  delimiter: Delimiter;
  /** How the delimiter was chosen: "detected from the header line", or "--delimiter". */
  delimiterSource: string;
}

export type Delimiter = "," | ";" | "\t" | "|";
export const DELIMITERS: readonly Delimiter[] = [",", ";", "\t", "|"];

/** A delimiter as people write it on the command line: `,` `;` `|`, "tab" or `\t`. */
export function parseDelimiter(value: string): Delimiter {
  const named: Record<string, Delimiter> = {
    ",": ",",
    comma: ",",
    ";": ";",
    semicolon: ";",
    "\t": "\t",
    "\\t": "\t",
    tab: "\t",
    "|": "|",
    pipe: "|",
  };
  const delimiter = named[value.toLowerCase()];
  if (!delimiter) {
    throw new Error(`--delimiter must be one of , ; tab | (got ${JSON.stringify(value)})`);
  }
  return delimiter;
}

export function describeDelimiter(delimiter: Delimiter): string {
  return delimiter === "\t" ? "tab" : `'${delimiter}'`;
}

export type Encoding = "UTF-8" | "UTF-8 with BOM" | "UTF-16 with BOM" | "Windows-1252";

/** Decodes a file's bytes: UTF-8 (with or without BOM) when valid, else Windows-1252. */
export function decodeCsv(bytes: Uint8Array): { text: string; encoding: Encoding } {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return {
      text: new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes.subarray(3)),
      encoding: "UTF-8 with BOM",
    };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    // Excel's "Unicode text" export.
    return {
      text: new TextDecoder("utf-16le", { ignoreBOM: true }).decode(bytes.subarray(2)),
      encoding: "UTF-16 with BOM",
    };
  }
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), encoding: "UTF-8" };
  } catch {
    // Not UTF-8: every byte is a character in Windows-1252, so this always decodes.
    return { text: new TextDecoder("windows-1252").decode(bytes), encoding: "Windows-1252" };
  }
}

/** The delimiter that occurs most often outside quotes in the header line; `,` when none does. */
export function detectDelimiter(text: string): Delimiter {
  const counts = new Map<Delimiter, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && counts.has(ch as Delimiter)) {
      counts.set(ch as Delimiter, counts.get(ch as Delimiter)! + 1);
    }
  }
  let best: Delimiter = ",";
  for (const [delimiter, count] of counts) if (count > counts.get(best)!) best = delimiter;
  return best;
}

interface RawRecord {
  line: number;
  fields: string[];
  error?: string;
}

/**
 * RFC 4180 records, leniently: quotes inside an unquoted field are kept as text, as Excel does.
 * A record with a broken quote is reported and reading goes on at the next line.
 */
export function parseRecords(text: string, delimiter: Delimiter): RawRecord[] {
  const records: RawRecord[] = [];
  const blank = delimiter === "\t" ? " " : " \t";
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const start = { i, line };
    const fields: string[] = [];
    let error: string | undefined;
    for (;;) {
      let field = "";
      let j = i;
      while (j < text.length && blank.includes(text[j])) j++;
      if (text[j] === '"') {
        i = j + 1;
        let closed = false;
        while (i < text.length) {
          const ch = text[i];
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (ch === "\n") line++;
          field += ch;
          i++;
        }
        if (!closed) {
          error = `a quoted field opened on line ${start.line} is never closed`;
          break;
        }
        while (i < text.length && blank.includes(text[i])) i++;
        if (i < text.length && text[i] !== delimiter && text[i] !== "\n" && text[i] !== "\r") {
          error = `unexpected ${JSON.stringify(text[i])} after a closing quote`;
          break;
        }
      } else {
        while (i < text.length && text[i] !== delimiter && text[i] !== "\n" && text[i] !== "\r") {
          field += text[i++];
        }
      }
      fields.push(field.trim());
      if (text[i] === delimiter) {
        i++;
        continue;
      }
      if (text[i] === "\r") i++;
      if (text[i] === "\n") {
        i++;
        line++;
      }
      break;
    }
    if (error) {
      // Go on at the line after the one where the broken record started.
      const end = text.indexOf("\n", start.i);
      const raw = text.slice(start.i, end < 0 ? text.length : end).replace(/\r$/, "");
      records.push({ line: start.line, fields: raw.split(delimiter).map((f) => f.trim()), error });
      i = end < 0 ? text.length : end + 1;
      line = start.line + 1;
      continue;
    }
    if (fields.length === 1 && fields[0] === "") continue; // an empty line
    records.push({ line: start.line, fields });
  }
  return records;
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

export function readCandidates(
  text: string,
  options: { delimiter?: Delimiter } = {},
): CandidateFile {
  text = text.replace(/^\ufeff/, "");
  const delimiter = options.delimiter ?? detectDelimiter(text);
  const records = parseRecords(text, delimiter);
  if (!records.length) throw new Error("the file is empty");
  if (records[0].error) throw new Error(`the header line cannot be read: ${records[0].error}`);
  const headers = records[0].fields;
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
    const hint = headers.length === 1 && options.delimiter
      ? ` (is ${describeDelimiter(delimiter)} the right --delimiter?)`
      : "";
    throw new Error(`no email column among the headers: ${headers.join(", ")}${hint}`);
  }
  const value = (values: string[], index: number) =>
    index >= 0 && values[index] ? values[index] : null;
  const rows: CandidateRow[] = [];
  const bad: BadRow[] = [];
  for (const { line, fields, error } of records.slice(1)) {
    if (error || fields.length !== headers.length) {
      bad.push({
        line,
        values: fields,
        reason: error ?? `${fields.length} fields where the header has ${headers.length}`,
      });
      continue;
    }
    rows.push({
      line,
      values: fields,
      candidate: {
        name: value(fields, at.name),
        email: value(fields, at.email),
        external_id: value(fields, at.external_id),
      },
    });
  }
  return {
    headers,
    rows,
    bad,
    delimiter,
    delimiterSource: options.delimiter ? "--delimiter" : "detected from the header line",
  };
}
