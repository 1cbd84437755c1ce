// The whole test suite, as CI runs it: formatting, lint and type checks, then every test against
// a stack of its own (fresh database, free ports), torn down afterwards whatever happens.
//
//   deno task test [files...] [--filter=<name or /regex/>] [--skip-checks]
//
// `--skip-checks` leaves out format, lint, types and OpenAPI (the mutant run uses it: a mutant is
// judged by the tests alone); other `--` options go to `deno test` as given.
import { startStack } from "../stack/stack.ts";
import { eachLine, TestOutputFilter } from "./output_filter.ts";
import { TEST_DB_TIMEOUT_MS } from "./support/timeouts.ts";

const deno = Deno.execPath();
const root = new URL("../", import.meta.url).pathname;

const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

/**
 * Runs a command with its output filtered (see output_filter.ts); the unfiltered output is kept
 * and, with `rawLog`, also written to that file.
 */
async function runFiltered(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  rawLog?: Deno.FsFile,
) {
  const child = new Deno.Command(cmd, { args, cwd: root, env, stdout: "piped", stderr: "piped" })
    .spawn();
  const filter = new TestOutputFilter(print);
  let output = "";
  const take = (line: string) => {
    output += line + "\n";
    rawLog?.writeSync(encoder.encode(line + "\n"));
    filter.line(line);
  };
  await Promise.all([eachLine(child.stdout, take), eachLine(child.stderr, take)]);
  const status = await child.status;
  return { ok: status.success, output };
}

function run(
  label: string,
  args: string[],
  env: Record<string, string> = {},
  rawLog?: Deno.FsFile,
) {
  console.log(`\n== ${label}: deno ${args.join(" ")}`);
  return runFiltered(deno, args, env, rawLog);
}

function runCommand(label: string, cmd: string, args: string[]) {
  console.log(`\n== ${label}: ${cmd} ${args.join(" ")}`);
  return runFiltered(cmd, args);
}

const skipChecks = Deno.args.includes("--skip-checks");
const testArgs = Deno.args.filter((arg) => arg !== "--skip-checks");
const testOptions = testArgs.filter((arg) => arg.startsWith("--"));
const testPaths = testArgs.filter((arg) => !arg.startsWith("--"));

const checks = skipChecks ? [] : [
  await run("format", ["fmt", "--check"]),
  await run("lint", ["lint"]),
  await run("types", ["check", "."]),
  await run("openapi is current", ["run", "-A", "openapi/generate.ts", "--check"]),
  await runCommand("openapi lint", "npx", [
    "-y",
    "@redocly/cli@2.77.0",
    "lint",
    "openapi/openapi.json",
    // Greenhouse's Assessment Partner API as the adapter serves it (hand-written contract).
    "openapi/greenhouse.json",
  ]),
];
const checksFailed = checks.filter((check) => !check.ok).length;

const logDir = await Deno.makeTempDir({ prefix: "jm-test-logs-" });
console.log("\n== starting a test stack");
const stack = await startStack({
  label: "test",
  apiPort: 0,
  mailPort: 0,
  // Tests drive the dispatch themselves, and want retries to come due quickly.
  dispatchIntervalMs: 0,
  functionEnv: {
    EMAIL_RETRY_BASE_MS: "200",
    EMAIL_SEND_TIMEOUT_MS: "1500",
    // A sender that died is replaced after this long (the fault tests wait it out).
    EMAIL_LEASE_MS: "4000",
    // Below the platform's 8 s statement timeout, above the registration statement's own.
    DB_TIMEOUT_MS: String(TEST_DB_TIMEOUT_MS),
    // Completion callbacks go only to receivers the tests run on this machine.
    GREENHOUSE_CALLBACK_ORIGINS: "http://127.0.0.1",
  },
  control: true,
  logDir,
});
let result;
const rawLogPath = `${logDir}/test-output.log`;
const rawLog = await Deno.open(rawLogPath, { create: true, write: true });
try {
  const paths = testPaths.length ? testPaths : ["tests/"];
  result = await run("tests", ["test", "-A", "--no-check", ...testOptions, ...paths], {
    TEST_STACK: JSON.stringify({ info: stack.info, keys: stack.keys }),
  }, rawLog);
} finally {
  rawLog.close();
  await stack.stop();
}

// Deno prints "ok | N passed | N failed"; restate it in the plain form CI reads.
const summary = /(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/.exec(result.output);
const passed = Number(summary?.[1] ?? 0);
const failed = Number(summary?.[3] ?? (result.ok ? 0 : 1)) + checksFailed;
if (!result.ok || checksFailed) {
  console.log(
    `\nlogs of the test stack (functions.log, postgrest.log) and the unfiltered test output ` +
      `(test-output.log): ${logDir}`,
  );
} else {
  await Deno.remove(logDir, { recursive: true }).catch(() => {});
}
console.log(`\n${passed} passed, ${failed} failed`);
Deno.exit(result.ok && !checksFailed && passed > 0 ? 0 : 1);
