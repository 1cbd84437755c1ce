// Port helpers: the stack refuses a taken port with a clear message rather than failing later.

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export function assertPortFree(port: number, what: string): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(`port ${port} (${what}) is already in use: stop whatever listens there`);
    }
    throw err;
  }
}

export async function portAnswers(host: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: host, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not become ready within ${timeoutMs / 1000}s`);
}

/** Appends a child's stdout and stderr to a log file as they come. */
export function pipeToLog(child: Deno.ChildProcess, log: Deno.FsFile): void {
  for (const stream of [child.stdout, child.stderr]) {
    (async () => {
      for await (const chunk of stream) await log.write(chunk);
    })().catch(() => {});
  }
}
