// Serves the naive baseline on the given port, configured from the environment like a function.
import { loadConfig } from "../supabase/functions/_shared/config.ts";
import { createNaiveHandler } from "./naive.ts";

Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen: () => {} },
  createNaiveHandler(loadConfig()),
);
