// The hop floor: a function that does nothing but what every registration must, one HTTP hop
// through the gateway into a function process, and one RPC from there through the gateway and
// PostgREST (`bench_hop`, bench/floor.sql), with the same client the functions use; with
// `?rpcs=2`, two; with `?write=1`, the one RPC inserts the request's enrolment. Served only by
// the benchmark's stack, never deployed (it is not under supabase/functions).
import { config } from "../supabase/functions/_shared/config.ts";
import { createServiceClient } from "../supabase/functions/_shared/db.ts";

// The functions' own configuration and client, from the environment the functions get.
const db = createServiceClient(config());

Deno.serve(async (req) => {
  if (req.method === "OPTIONS") return new Response(null, { status: 204 });
  const body = await req.arrayBuffer();
  const params = new URL(req.url).searchParams;
  // ?rpcs=2: two round trips, one after the other, as a registration makes (admission, then
  // the registration itself).
  const rpcs = params.get("rpcs") === "2" ? 2 : 1;
  // ?write=1: the one RPC inserts the request's enrolments instead (bench_floor_insert).
  const write = params.get("write") === "1";
  let data;
  for (let i = 0; i < rpcs; i++) {
    const reply = write
      ? await db.rpc("bench_floor_insert", JSON.parse(new TextDecoder().decode(body)))
      : await db.rpc("bench_hop");
    if (reply.error) {
      return Response.json({ error: reply.error.message, name: "rpc" }, { status: 503 });
    }
    data = reply.data;
  }
  return Response.json({ ok: data });
});
