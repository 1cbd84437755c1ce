import assert from "node:assert/strict";
import { TestOutputFilter } from "../output_filter.ts";

function filtered(lines: string[]): string[] {
  const out: string[] = [];
  const filter = new TestOutputFilter((line) => out.push(line));
  for (const line of lines) filter.line(line);
  return out;
}

Deno.test("log lines are shown only for a failed test; banners are dropped", () => {
  const log = '{"level":"info","msg":"request","status":200}';
  assert.deepEqual(
    filtered([
      "passes ...",
      "------- post-test output -------",
      log,
      "----- post-test output end -----",
      "passes ... \x1b[32mok\x1b[0m (3ms)",
      "talks ...",
      "------- post-test output -------",
      log,
      "1060 requests",
      "----- post-test output end -----",
      "talks ... ok (3ms)",
      "    ╔════╗",
      "    ║  Deprecation warning: Node.js 20 support is ending ║",
      "    ╚════╝",
      "fails ...",
      '{"level":"error","msg":"unexpected failure"}',
      "fails ... FAILED (1ms)",
    ]),
    [
      "passes ...",
      "passes ... \x1b[32mok\x1b[0m (3ms)",
      "talks ...",
      "------- post-test output -------",
      "1060 requests",
      "----- post-test output end -----",
      "talks ... ok (3ms)",
      "fails ...",
      "------- log lines of the failed test -------",
      '{"level":"error","msg":"unexpected failure"}',
      "----- log lines end -----",
      "fails ... FAILED (1ms)",
    ],
  );
});
