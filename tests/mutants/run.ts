// deno task mutants [name...] [--check] [--baseline]
//
// Applies each guard mutant (tests/mutants/mutants.ts) on its own to a scratch copy of the
// repository (the working tree's files, never the working tree itself), runs the mutant's test
// files against it through tests/run.ts (which starts a stack from that copy), and prints which
// test caught it. A mutant no test catches SURVIVED; one whose `find` text no longer occurs
// exactly once is STALE; one whose tests could not run is ERROR. Any of these: exit code 1.
//
//   --check      only check that every find text still applies (no stacks, seconds)
//   --baseline   run each mutant's tests without the edit: they must pass (no false catches)
import { mutants as allMutants } from "./mutants.ts";
import type { Mutant } from "./mutants.ts";

const root = new URL("../../", import.meta.url).pathname;
const deno = Deno.execPath();

const flags = Deno.args.filter((arg) => arg.startsWith("--"));
const names = Deno.args.filter((arg) => !arg.startsWith("--"));
const checkOnly = flags.includes("--check");
const baseline = flags.includes("--baseline");
const unknown = names.filter((name) => !allMutants.some((m) => m.name === name));
if (unknown.length) {
  console.error(`unknown mutants: ${unknown.join(", ")}`);
  Deno.exit(2);
}
const selected = names.length ? allMutants.filter((m) => names.includes(m.name)) : allMutants;

type Verdict = "CAUGHT" | "SURVIVED" | "STALE" | "ERROR" | "PASSED" | "APPLIES";
interface Outcome {
  mutant: Mutant;
  verdict: Verdict;
  detail: string;
  seconds: number;
}

function occurrences(text: string, find: string): number {
  if (!find) return 0;
  let count = 0;
  for (let at = text.indexOf(find); at !== -1; at = text.indexOf(find, at + 1)) count++;
  return count;
}

/** The working tree's files (tracked and new, not ignored), copied to a fresh folder. */
async function scratchCopy(): Promise<string> {
  const listed = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: root,
    stdout: "piped",
  }).output();
  if (!listed.success) throw new Error("git ls-files failed");
  const dir = await Deno.makeTempDir({ prefix: "jm-mutants-" });
  for (const path of new TextDecoder().decode(listed.stdout).split("\0").filter(Boolean)) {
    const target = `${dir}/${path}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(`${root}${path}`, target).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err; // deleted, not yet committed
    });
  }
  return dir;
}

// deno-lint-ignore no-control-regex
const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** The tests deno reports under FAILURES, as "file: name". */
function failedTests(output: string): string[] {
  const section = output.split(/^ FAILURES\s*$/m)[1] ?? "";
  const failed = new Set<string>();
  for (const line of section.split("\n")) {
    const match = /^(.+?) => \.?\/?(?:.*\/)?([^/\s]+):\d+:\d+$/.exec(line.trim());
    if (match) failed.add(`${match[2]}: ${match[1]}`);
  }
  return [...failed];
}

async function runTests(copy: string, mutant: Mutant, logPath: string) {
  const args = ["run", "-A", "tests/run.ts", "--skip-checks"];
  if (mutant.filter) args.push(`--filter=${mutant.filter}`);
  args.push(...mutant.tests);
  const result = await new Deno.Command(deno, {
    args,
    cwd: copy,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = stripAnsi(
    new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr),
  );
  await Deno.writeTextFile(logPath, output);
  const summary = /(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/.exec(output);
  return {
    // The stack never came up (a free port taken meanwhile on a shared machine, say).
    stackFailed: !output.includes("\n== tests:"),
    ok: result.success,
    passed: Number(summary?.[1] ?? 0),
    failed: Number(summary?.[2] ?? 0),
    failures: failedTests(output),
  };
}

async function judge(copy: string, mutant: Mutant, logDir: string): Promise<Outcome> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 1000);
  const original = await Deno.readTextFile(`${root}${mutant.file}`).catch(() => null);
  const found = original === null ? 0 : occurrences(original, mutant.find);
  if (found !== 1) {
    const where = original === null ? "file not found" : `find text occurs ${found} times`;
    return { mutant, verdict: "STALE", detail: `${where} in ${mutant.file}`, seconds: 0 };
  }
  if (checkOnly) return { mutant, verdict: "APPLIES", detail: "", seconds: 0 };

  const target = `${copy}/${mutant.file}`;
  if (!baseline) await Deno.writeTextFile(target, original!.replace(mutant.find, mutant.replace));
  const logPath = `${logDir}/${mutant.name}.log`;
  try {
    let run = await runTests(copy, mutant, logPath);
    for (let retry = 0; run.stackFailed && retry < 2; retry++) {
      run = await runTests(copy, mutant, logPath);
    }
    if (baseline) {
      return run.ok && run.passed > 0
        ? { mutant, verdict: "PASSED", detail: `${run.passed} passed`, seconds: seconds() }
        : {
          mutant,
          verdict: "ERROR",
          detail: `tests fail unmutated: ${logPath}`,
          seconds: seconds(),
        };
    }
    if (run.ok) {
      return { mutant, verdict: "SURVIVED", detail: `${run.passed} passed`, seconds: seconds() };
    }
    if (run.failed > 0 && run.failures.length) {
      return { mutant, verdict: "CAUGHT", detail: run.failures.join("; "), seconds: seconds() };
    }
    const why = run.stackFailed
      ? "the stack did not start"
      : run.passed + run.failed === 0
      ? "no test ran"
      : "the run failed";
    return { mutant, verdict: "ERROR", detail: `${why}: ${logPath}`, seconds: seconds() };
  } finally {
    await Deno.writeTextFile(target, original!);
  }
}

function table(outcomes: Outcome[]): string {
  const rows = outcomes.map((o) => [o.mutant.name, o.verdict, o.detail.replaceAll("|", "/")]);
  const header = ["mutant", "verdict", "caught by (file: test)"];
  const width = [0, 1].map((i) => Math.max(header[i].length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r[0].padEnd(width[0])} | ${r[1].padEnd(width[1])} | ${r[2]} |`;
  return [
    line(header),
    `| ${"-".repeat(width[0])} | ${"-".repeat(width[1])} | --- |`,
    ...rows.map(line),
  ].join("\n");
}

const copy = checkOnly ? "" : await scratchCopy();
const logDir = checkOnly ? "" : await Deno.makeTempDir({ prefix: "jm-mutant-logs-" });
if (!checkOnly) console.log(`scratch copy: ${copy}\nlogs: ${logDir}`);
const outcomes: Outcome[] = [];
try {
  for (const mutant of selected) {
    const outcome = await judge(copy, mutant, logDir);
    outcomes.push(outcome);
    console.log(
      `${outcome.verdict.padEnd(8)} ${mutant.name} (${outcome.seconds} s) ${outcome.detail}`,
    );
  }
} finally {
  if (copy) await Deno.remove(copy, { recursive: true }).catch(() => {});
}

console.log(`\n${table(outcomes)}\n`);
const bad = outcomes.filter((o) => !["CAUGHT", "PASSED", "APPLIES"].includes(o.verdict));
const count = (verdict: Verdict) => outcomes.filter((o) => o.verdict === verdict).length;
console.log(
  checkOnly
    ? `${count("APPLIES")} apply, ${count("STALE")} stale`
    : baseline
    ? `${count("PASSED")} pass unmutated, ${bad.length} do not`
    : `${count("CAUGHT")} caught, ${count("SURVIVED")} survived, ${count("STALE")} stale, ` +
      `${count("ERROR")} errors (of ${outcomes.length})`,
);
Deno.exit(bad.length ? 1 : 0);
