// What a failed database call tells the caller: "nothing was changed" only when that is known.
// A small server plays PostgREST's failures; the client is the real supabase-js one.
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { callRpc } from "../../supabase/functions/_shared/db.ts";
import { HttpError } from "../../supabase/functions/_shared/http.ts";
import { freePort } from "../../stack/ports.ts";

type Reply = () => Promise<Response>;
let reply: Reply = () => Promise.resolve(new Response("null"));
const port = freePort();
const server = Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
  await req.body?.cancel();
  return await reply();
});
const client = createClient(`http://127.0.0.1:${port}`, "key", {
  auth: { persistSession: false, autoRefreshToken: false },
});

async function codeOf(answer: Reply, timeoutMs = 2_000, url?: string): Promise<string> {
  reply = answer;
  const target = url
    ? createClient(url, "key", { auth: { persistSession: false, autoRefreshToken: false } })
    : client;
  try {
    await callRpc(target, "register_interview_users", {}, timeoutMs);
  } catch (err) {
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, 503);
    return err.code!;
  }
  throw new Error("the call did not fail");
}

const pgError = (status: number, code: string) => () =>
  Promise.resolve(Response.json({ code, message: code, details: null, hint: null }, { status }));

Deno.test("errors PostgreSQL reported, or PostgREST never ran the call: nothing was changed", async () => {
  assert.equal(await codeOf(pgError(500, "57014")), "database_unavailable"); // statement time-out
  assert.equal(await codeOf(pgError(500, "55P03")), "database_unavailable"); // lock time-out
  assert.equal(await codeOf(pgError(503, "40P01")), "database_unavailable"); // deadlock
  assert.equal(await codeOf(pgError(503, "PGRST000")), "database_unavailable"); // no connection
  assert.equal(await codeOf(pgError(504, "PGRST003")), "database_unavailable"); // no pool slot
  const closed = `http://127.0.0.1:${freePort()}`;
  assert.equal(await codeOf(pgError(200, ""), 2_000, closed), "database_unavailable");
});

Deno.test("our own time-out, a broken connection, a gateway error: the outcome is unknown", async () => {
  const hang = () =>
    new Promise<Response>((resolve) => setTimeout(() => resolve(new Response()), 500));
  assert.equal(await codeOf(hang, 100), "outcome_unknown");
  assert.equal(await codeOf(pgError(503, "PGRST001")), "outcome_unknown");
  assert.equal(await codeOf(pgError(503, "08006")), "outcome_unknown");
  const gateway = () =>
    Promise.resolve(
      Response.json({ message: "An invalid response was received" }, { status: 502 }),
    );
  assert.equal(await codeOf(gateway), "outcome_unknown");
});

Deno.test({
  name: "stop the stand-in server (db)",
  fn: () => server.shutdown(),
  sanitizeResources: false,
  sanitizeOps: false,
});
