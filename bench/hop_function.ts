// The hop floor: a function that does nothing but what every registration must, one HTTP hop
// through the gateway into a function process, and one RPC from there through the gateway and
// PostgREST (`bench_hop`, bench/floor.sql), with the same client the functions use; with
// `?rpcs=2`, two. Served only by the benchmark's stack, never deployed (it is not under
// supabase/functions).
import { config } from "../supabase/functions/_shared/config.ts";
import { createServiceClient } from "../supabase/functions/_shared/db.ts";

// The functions' own configuration and client, from the environment the functions get.
const db = createServiceClient(config());

Deno.serve(async (req) => {
  if (req.method === "OPTIONS") return new Response(null, { status: 204 });
  await req.arrayBuffer();
  // ?rpcs=2: two round trips, one after the other, as a registration makes (admission, then
  // the registration itself).
  const rpcs = new URL(req.url).searchParams.get("rpcs") === "2" ? 2 : 1;
  let data;
  for (let i = 0; i < rpcs; i++) {
    const reply = await db.rpc("bench_hop");
    if (reply.error) {
      return Response.json({ error: reply.error.message, name: "rpc" }, { status: 503 });
    }
    data = reply.data;
  }
  return Response.json({ ok: data });
});
