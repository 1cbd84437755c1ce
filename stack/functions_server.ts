// Serves every function under supabase/functions in one Deno process, as the edge runtime would:
// a request for /<name>/... goes to that folder's `handleRequest`. Configuration comes from the
// environment, exactly as on Supabase.
const functionsDir = new URL("../supabase/functions/", import.meta.url);

type Handler = (req: Request) => Promise<Response>;

async function loadHandlers(): Promise<Map<string, Handler>> {
  const handlers = new Map<string, Handler>();
  for await (const entry of Deno.readDir(functionsDir)) {
    if (!entry.isDirectory || entry.name.startsWith("_")) continue;
    const module = await import(new URL(`${entry.name}/handler.ts`, functionsDir).href);
    if (typeof module.handleRequest !== "function") {
      throw new Error(`supabase/functions/${entry.name}/handler.ts exports no handleRequest`);
    }
    handlers.set(entry.name, module.handleRequest);
  }
  return handlers;
}

const port = Number(Deno.args[0]);
const handlers = await loadHandlers();

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
  const name = new URL(req.url).pathname.split("/")[1];
  if (name === "_health") return new Response("ok");
  const handler = handlers.get(name);
  if (!handler) {
    return Response.json({ error: `Function not found: ${name}` }, { status: 404 });
  }
  return handler(req);
});

// Exit normally on SIGTERM, so that exit hooks (like --cpu-prof's profile) run.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
