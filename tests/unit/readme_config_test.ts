// The README's configuration tables list exactly the environment variables the code reads. The
// names come from the code itself: every `Deno.env.get("NAME")`, and every call with a literal
// name to a function that passes its parameter to `Deno.env.get` or indexes an environment with it
// (like config.ts's `integer("DB_TIMEOUT_MS", ...)`), so the test follows when variables change.
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;
const NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;
/** The operating system's own, not this project's configuration. */
const SYSTEM = new Set(["PATH", "TMPDIR", "HOME"]);

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* sources(path);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) yield path;
  }
}

/** The arguments of the call whose `(` is at `open`, split at top-level commas. */
function argumentsAt(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let current = "";
  for (let i = open + 1; i < text.length; i++) {
    const ch = text[i];
    if ("([{".includes(ch)) depth++;
    if (")]}".includes(ch)) {
      if (depth === 0) break;
      depth--;
    }
    if (ch === "," && depth === 0) {
      args.push(current.trim());
      current = "";
    } else current += ch;
  }
  args.push(current.trim());
  return args;
}

export function variablesReadBy(text: string): Set<string> {
  const declaration =
    /(?:function\s+(\w+)\s*(?:<[^>]*>)?\(([^)]*)\)|(?:const|let)\s+(\w+)\s*=\s*\(([^)]*)\)\s*=>)/g;
  const found = [...text.matchAll(declaration)];
  const functions = found.map((m, i) => ({
    name: m[1] ?? m[3],
    params: (m[2] ?? m[4]).split(",").map((p) => p.split(/[:=?]/)[0].trim())
      .map((p) => /^\w+$/.test(p) ? p : ""),
    body: text.slice(m.index! + m[0].length, found[i + 1]?.index ?? text.length),
  }));
  // Functions that read the variable named by their parameter at `at`: directly, or through
  // another such function.
  const readers = new Map<string, number>();
  const reads = (body: string, param: string) =>
    new RegExp(`(?:Deno\\.env\\.get\\(\\s*${param}\\s*\\)|\\benv\\[\\s*${param}\\s*\\])`).test(
      body,
    ) ||
    [...readers].some(([reader, at]) =>
      [...body.matchAll(new RegExp(`\\b${reader}\\s*(?:<[^()]*>)?\\(`, "g"))].some((call) =>
        argumentsAt(body, call.index! + call[0].length - 1)[at] === param
      )
    );
  for (let changed = true; changed;) {
    changed = false;
    for (const fn of functions) {
      if (readers.has(fn.name)) continue;
      const at = fn.params.findIndex((param) => param && reads(fn.body, param));
      if (at >= 0) {
        readers.set(fn.name, at);
        changed = true;
      }
    }
  }
  const names = new Set<string>();
  for (const m of text.matchAll(/Deno\.env\.get\(\s*"([^"]+)"/g)) names.add(m[1]);
  for (const [reader, at] of readers) {
    for (const call of text.matchAll(new RegExp(`\\b${reader}\\s*(?:<[^()]*>)?\\(`, "g"))) {
      const literal = /^"([^"]+)"$/.exec(
        argumentsAt(text, call.index! + call[0].length - 1)[at] ?? "",
      );
      if (literal && NAME.test(literal[1])) names.add(literal[1]);
    }
  }
  return names;
}

async function variablesUnder(dirs: string[]): Promise<Set<string>> {
  const names = new Set<string>();
  for (const dir of dirs) {
    for await (const path of sources(`${root}${dir}`)) {
      for (const name of variablesReadBy(await Deno.readTextFile(path))) {
        if (!SYSTEM.has(name)) names.add(name);
      }
    }
  }
  return names;
}

/** The backticked names in the first column of the table under the README heading `heading`. */
async function tableUnder(heading: string): Promise<Set<string>> {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has a "## ${heading}" section`);
  const section = readme.slice(start + 1).split(/\n## /)[0];
  const names = new Set<string>();
  for (const row of section.split("\n").filter((line) => line.startsWith("|"))) {
    const first = row.split("|")[1];
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1]);
  }
  return names;
}

const sorted = (names: Set<string>) => [...names].sort();

Deno.test("variables are found in direct reads and in reads through wrapper functions", () => {
  const code = `
    const a = Deno.env.get("DIRECT_ONE");
    function env(name: string) { return Deno.env.get(name); }
    function integer(name: string, fallback: number) { return Number(env(name) ?? fallback); }
    const pick = (flag: string, variable: string) => env[variable];
    integer("VIA_WRAPPER", 3); env("VIA_FUNCTION"); pick("--port", "SECOND_ARG");
    json<Record<string, string>>("NOT_READ");`;
  assert.deepEqual(sorted(variablesReadBy(code)), [
    "DIRECT_ONE",
    "SECOND_ARG",
    "VIA_FUNCTION",
    "VIA_WRAPPER",
  ]);
});

Deno.test("README: the function secrets table lists every variable the functions read", async () => {
  const code = await variablesUnder(["supabase/functions"]);
  assert.ok(code.size > 5, `found only ${sorted(code)}`);
  assert.deepEqual(sorted(await tableUnder("Configuration (function secrets)")), sorted(code));
});

Deno.test("README: the tooling table lists every variable the local tools read", async () => {
  const code = await variablesUnder(["stack", "clients", "bench", "scripts"]);
  assert.deepEqual(sorted(await tableUnder("Configuration (local tools)")), sorted(code));
});
