// A second checkout next to a running stack: other ports on request, and when a port is taken by
// another checkout's stack, a message that names it and says how to reach or stop it (rather than
// "port in use", then "not running: start it").
import assert from "node:assert/strict";
import { portsFrom } from "../../stack/cli.ts";
import { claimPorts, describePortHolder } from "../../stack/port_claims.ts";
import { freePort } from "../../stack/ports.ts";

const root = new URL("../../", import.meta.url).pathname;

Deno.test("--port and --inbox-port, else LOCAL_API_PORT and LOCAL_INBOX_PORT, else 54321/54324", () => {
  assert.deepEqual(portsFrom([], {}), { api: 54321, mail: 54324 });
  assert.deepEqual(portsFrom([], { LOCAL_API_PORT: "55001", LOCAL_INBOX_PORT: "55004" }), {
    api: 55001,
    mail: 55004,
  });
  assert.deepEqual(portsFrom(["--port", "56001"], { LOCAL_API_PORT: "55001" }), {
    api: 56001,
    mail: 54324,
  });
  assert.throws(() => portsFrom(["--port", "x"], {}), /--port must be a port number/);
});

Deno.test("a port held by another checkout's stack is named, with how to reach or stop it", async () => {
  const tmp = await Deno.makeTempDir();
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })().catch(() => {});
  const saved = Deno.env.get("TMPDIR");
  Deno.env.set("TMPDIR", tmp);
  try {
    assert.match(
      (await describePortHolder(port, "API gateway", root))!,
      /is in use by another program.*--port 54331/,
    );
    const unclaim = await claimPorts([{
      root: "/home/me/other-clone",
      pid: Deno.pid,
      port,
      what: "API gateway",
      apiUrl: `http://127.0.0.1:${port}`,
    }]);
    const message = (await describePortHolder(port, "API gateway", root))!;
    assert.match(message, /held by the local stack of another checkout, \/home\/me\/other-clone/);
    assert.match(message, /cd \/home\/me\/other-clone && .\/deno task local:status/);
    assert.match(message, /cd \/home\/me\/other-clone && .\/deno task local:stop/);
    assert.equal(await describePortHolder(freePort(), "API gateway", root), null);

    // The commands say the same (when this checkout has no stack of its own running).
    const own = await Deno.stat(`${root}.local/stack.json`).then(() => true, () => false);
    if (!own) {
      const cli = (command: string) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", `${root}stack/cli.ts`, command, "--port", String(port)],
          env: { TMPDIR: tmp, LOCAL_API_PORT: String(port), NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
      for (const command of ["start", "status"]) {
        const out = await cli(command);
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 1, stderr);
        assert.match(stderr, /another checkout, \/home\/me\/other-clone/, command);
        assert.doesNotMatch(stderr, /start it with/, command);
      }
    }
    await unclaim();
  } finally {
    if (saved === undefined) Deno.env.delete("TMPDIR");
    else Deno.env.set("TMPDIR", saved);
    listener.close();
    await accepting;
    await Deno.remove(tmp, { recursive: true });
  }
});
