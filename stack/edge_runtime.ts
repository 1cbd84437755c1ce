// Preloaded into every function process (deno run --preload): the parts of Supabase's Edge
// Runtime global that functions use. `EdgeRuntime.waitUntil(promise)` keeps background work
// alive after the response, and a stopping function (SIGTERM) finishes it first, as the runtime
// lets a retiring worker finish its waitUntil promises before it shuts down.
const pending = new Set<Promise<unknown>>();

const edgeRuntime = {
  waitUntil(promise: Promise<unknown>): void {
    const tracked = Promise.resolve(promise).catch((err) => {
      console.error(`waitUntil promise rejected: ${err instanceof Error ? err.stack : err}`);
    }).finally(() => pending.delete(tracked));
    pending.add(tracked);
  },
};

Object.defineProperty(globalThis, "EdgeRuntime", { value: edgeRuntime, enumerable: false });

// Exit normally on SIGTERM once background work is done (bounded), so that exit hooks such as
// --cpu-prof's profile run.
Deno.addSignalListener("SIGTERM", async () => {
  const deadline = new Promise((resolve) => setTimeout(resolve, 5_000));
  await Promise.race([Promise.allSettled([...pending]), deadline]);
  Deno.exit(0);
});
