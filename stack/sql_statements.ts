// Splits a SQL script into statements, respecting quotes, dollar quotes and comments, so that a
// failing migration can be reported with the statement and line that failed.

export interface Statement {
  text: string;
  line: number;
}

export function splitStatements(script: string): Statement[] {
  const out: Statement[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const raw = script.slice(start, end);
    // Leading blank lines and line comments belong to no statement.
    const lead = /^(\s|--[^\n]*(\n|$))*/.exec(raw)![0].length;
    const text = raw.slice(lead).trim();
    if (text) out.push({ text, line: script.slice(0, start + lead).split("\n").length });
    start = end + 1;
  };
  while (i < script.length) {
    const ch = script[i];
    if (ch === "-" && script[i + 1] === "-") {
      const nl = script.indexOf("\n", i);
      i = nl === -1 ? script.length : nl + 1;
    } else if (ch === "/" && script[i + 1] === "*") {
      const end = script.indexOf("*/", i + 2);
      i = end === -1 ? script.length : end + 2;
    } else if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < script.length) {
        if (script[j] === ch && script[j + 1] === ch) j += 2;
        else if (script[j] === ch) break;
        else j++;
      }
      i = j + 1;
    } else if (ch === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i))?.[0];
      if (tag) {
        const end = script.indexOf(tag, i + tag.length);
        i = end === -1 ? script.length : end + tag.length;
      } else i++;
    } else if (ch === ";") {
      push(i);
      i++;
    } else i++;
  }
  push(script.length);
  return out;
}
