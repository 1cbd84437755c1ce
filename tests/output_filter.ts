// Keeps the test suite's terminal output about the tests: the functions' JSON log lines (printed
// when tests call handlers in-process) are held back and shown only for a test that fails, and
// third-party banners (a tool's "Node.js 20 support is ending" box) are dropped. The whole,
// unfiltered output still goes to a file, whose path the runner prints on failure.

// deno-lint-ignore no-control-regex -- the escape character is what colour codes start with
const ANSI = /\x1b\[[0-9;]*m/g;
const plain = (line: string) => line.replace(ANSI, "");
const isLogLine = (line: string) => /^\{"level":"(debug|info|warn|error)"/.test(plain(line));

export class TestOutputFilter {
  /** Log lines of the test that is running, until its result is known. */
  #logs: string[] = [];
  /** A "post-test output" header, printed only if something of its block is printed. */
  #header: string | null = null;
  #inBanner = false;

  constructor(private readonly write: (line: string) => void) {}

  line(raw: string): void {
    const line = plain(raw).trim();
    // Box-drawn banners (╔═══╗ ... ╚═══╝).
    if (line.startsWith("╔")) this.#inBanner = true;
    if (this.#inBanner) {
      if (line.startsWith("╚")) this.#inBanner = false;
      return;
    }
    if (isLogLine(raw)) {
      this.#logs.push(raw);
      return;
    }
    if (/^-+ (pre-test |post-test )?output -+$/.test(line)) {
      this.#header = raw;
      return;
    }
    if (/^-+ (pre-test |post-test )?output end -+$/.test(line)) {
      if (this.#header === null) this.write(raw);
      this.#header = null;
      return;
    }
    if (/ \.\.\. .*FAILED/.test(line)) {
      if (this.#logs.length) {
        this.write(`------- log lines of the failed test -------`);
        for (const log of this.#logs) this.write(log);
        this.write(`----- log lines end -----`);
      }
      this.#logs = [];
    } else if (/ \.\.\. .*(ok|ignored)\b/.test(line)) {
      this.#logs = [];
    }
    if (this.#header !== null) {
      this.write(this.#header);
      this.#header = null;
    }
    this.write(raw);
  }
}

/** Splits a byte stream into lines and feeds them to `onLine`. */
export async function eachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) onLine(line);
  }
  pending += decoder.decode();
  if (pending) onLine(pending);
}
