// The whole test suite, as CI runs it: formatting, lint and type checks, then every test against
// a stack of its own (fresh database, free ports), torn down afterwards whatever happens.
import { startStack } from "../stack/stack.ts";
import { TEST_DB_TIMEOUT_MS } from "./support/timeouts.ts";

const deno = Deno.execPath();
const root = new URL("../", import.meta.url).pathname;

async function run(label: string, args: string[], env: Record<string, string> = {}) {
  console.log(`\n== ${label}: deno ${args.join(" ")}`);
  const child = new Deno.Command(deno, {
    args,
    cwd: root,
    env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    output += decoder.decode(chunk, { stream: true });
  }
  const status = await child.status;
  return { ok: status.success, output };
}

async function runCommand(label: string, cmd: string, args: string[]) {
  console.log(`\n== ${label}: ${cmd} ${args.join(" ")}`);
  const status = await new Deno.Command(cmd, {
    args,
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  })
    .spawn().status;
  return { ok: status.success, output: "" };
}

const checks = [
  await run("format", ["fmt", "--check"]),
  await run("lint", ["lint"]),
  await run("types", ["check", "."]),
  await run("openapi is current", ["run", "-A", "openapi/generate.ts", "--check"]),
  await runCommand("openapi lint", "npx", [
    "-y",
    "@redocly/cli@2.77.0",
    "lint",
    "openapi/openapi.json",
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
    // Below the platform's 8 s statement timeout, above the registration statement's own.
    DB_TIMEOUT_MS: String(TEST_DB_TIMEOUT_MS),
  },
  control: true,
  logDir,
});
let result;
try {
  const filter = Deno.args.length ? Deno.args : ["tests/"];
  result = await run("tests", ["test", "-A", "--no-check", ...filter], {
    TEST_STACK: JSON.stringify({ info: stack.info, keys: stack.keys }),
  });
} finally {
  await stack.stop();
}

// Deno prints "ok | N passed | N failed"; restate it in the plain form CI reads.
const summary = /(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/.exec(result.output);
const passed = Number(summary?.[1] ?? 0);
const failed = Number(summary?.[3] ?? (result.ok ? 0 : 1)) + checksFailed;
if (!result.ok || checksFailed) {
  console.log(`\nlogs of the test stack: ${logDir}`);
} else {
  await Deno.remove(logDir, { recursive: true }).catch(() => {});
}
console.log(`\n${passed} passed, ${failed} failed`);
Deno.exit(result.ok && !checksFailed && passed > 0 ? 0 : 1);
