// The local stack's commands, mirroring the Supabase CLI:
//   start   start the stack in the background (a no-op when it is already up); --port N and
//           --inbox-port N (or LOCAL_API_PORT, LOCAL_INBOX_PORT) for a second checkout
//   status  print the stack as KEY=value lines
//   stop    stop everything `start` started
//   token   print an access token for a seeded user: token <email> [--legacy] [--expires-in S]
//   key     print a new merchant API key, created by a merchant owner (or admin):
//           key <email> [--test] [--sub-merchants] [--merchant <id>] [--name <name>]
//   demo    start, then register the reference page's example request and print the answer
//   serve   run the stack in the foreground (what `start` runs in the background)
import postgres from "postgres";
import { createApiKeyAs } from "./api_keys.ts";
import type { StackKeys } from "./keys.ts";
import { userAccessToken } from "./keys.ts";
import { EXAMPLE_REQUEST } from "../openapi/document.ts";
import { type StackInfo, startStack } from "./stack.ts";
import { claimPorts, describePortHolder } from "./port_claims.ts";

const root = new URL("../", import.meta.url).pathname;
const stateDir = `${root}.local`;
const statePath = `${stateDir}/stack.json`;
const logDir = `${stateDir}/logs`;
const daemonLog = `${logDir}/stack.log`;
const API_PORT = 54321;
const MAIL_PORT = 54324;

interface Ports {
  api: number;
  mail: number;
}

/** --port / --inbox-port, else LOCAL_API_PORT / LOCAL_INBOX_PORT, else Supabase's defaults. */
export function portsFrom(args: string[], env = Deno.env.toObject()): Ports {
  const pick = (flag: string, variable: string, fallback: number) => {
    const at = args.indexOf(flag);
    const given = at >= 0 ? args[at + 1] : env[variable];
    if (given === undefined || given === "") return fallback;
    const port = Number(given);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`${at >= 0 ? flag : variable} must be a port number (got ${given})`);
    }
    return port;
  };
  return {
    api: pick("--port", "LOCAL_API_PORT", API_PORT),
    mail: pick("--inbox-port", "LOCAL_INBOX_PORT", MAIL_PORT),
  };
}

interface State {
  pid: number;
  info: StackInfo;
  keys: StackKeys;
}

async function readState(): Promise<State | null> {
  try {
    return JSON.parse(await Deno.readTextFile(statePath)) as State;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

async function healthy(state: State): Promise<boolean> {
  if (!alive(state.pid)) return false;
  const res = await fetch(`${state.info.API_URL}/health`).catch(() => null);
  await res?.body?.cancel();
  return res?.ok ?? false;
}

function printStatus(info: StackInfo): void {
  for (const [key, value] of Object.entries(info)) console.log(`${key}=${value}`);
}

async function serve(ports: Ports): Promise<void> {
  const stack = await startStack({
    label: "local",
    apiPort: ports.api,
    mailPort: ports.mail,
    dispatchIntervalMs: 5_000,
    logDir,
  });
  const state: State = { pid: Deno.pid, info: stack.info, keys: stack.keys };
  await Deno.writeTextFile(statePath, JSON.stringify(state, null, 2), { mode: 0o600 });
  const claim = { root, pid: Deno.pid, apiUrl: stack.info.API_URL };
  const unclaim = await claimPorts([
    { ...claim, port: ports.api, what: "API gateway" },
    { ...claim, port: ports.mail, what: "mail inbox" },
  ]);
  console.log(`stack ready at ${stack.info.API_URL}`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await stack.stop();
    await unclaim();
    await Deno.remove(statePath).catch(() => {});
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", shutdown);
  Deno.addSignalListener("SIGINT", shutdown);
}

async function start(ports: Ports): Promise<State> {
  const existing = await readState();
  if (existing && await healthy(existing)) {
    console.error("The local stack is already running.");
    return existing;
  }
  if (existing) await Deno.remove(statePath).catch(() => {});
  for (const [port, what] of [[ports.api, "API gateway"], [ports.mail, "mail inbox"]] as const) {
    const holder = await describePortHolder(port, what, root);
    if (holder) throw new Error(holder);
  }
  await Deno.mkdir(logDir, { recursive: true });
  await Deno.writeTextFile(daemonLog, "");
  // The stack runs in its own detached process; its output goes to .local/logs/stack.log.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'exec "$0" run -A --quiet "$1" serve --port "$3" --inbox-port "$4" >>"$2" 2>&1',
      Deno.execPath(),
      new URL(import.meta.url).pathname,
      daemonLog,
      String(ports.api),
      String(ports.mail),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  child.unref();
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const state = await readState();
    if (state && await healthy(state)) {
      console.error("Started the local stack.");
      return state;
    }
    if (exited) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const log = await Deno.readTextFile(daemonLog).catch(() => "");
  try {
    Deno.kill(child.pid, "SIGTERM");
  } catch { /* already gone */ }
  throw new Error(
    `the local stack failed to start:\n${log.trim().split("\n").slice(-25).join("\n")}`,
  );
}

async function stop(): Promise<void> {
  const state = await readState();
  if (!state || !alive(state.pid)) {
    await Deno.remove(statePath).catch(() => {});
    console.error("The local stack is not running.");
    return;
  }
  Deno.kill(state.pid, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (alive(state.pid) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (alive(state.pid)) Deno.kill(state.pid, "SIGKILL");
  await Deno.remove(statePath).catch(() => {});
  console.error("Stopped the local stack.");
}

async function requireState(): Promise<State> {
  const state = await readState();
  if (!state || !await healthy(state)) {
    const ports = portsFrom([]);
    // Starting would fail on the port another checkout's stack holds: say that instead.
    const holder = await describePortHolder(ports.api, "API gateway", root);
    if (holder) throw new Error(`this checkout's local stack is not running, and ${holder}`);
    throw new Error(
      "this checkout's local stack is not running: start it with './deno task local:start'",
    );
  }
  return state;
}

async function token(args: string[]): Promise<void> {
  const email = args.find((arg) => !arg.startsWith("--"));
  if (!email) throw new Error("usage: ./deno task local:token <email> [--legacy] [--expires-in S]");
  const expiresIn = args.indexOf("--expires-in");
  const state = await requireState();
  const sql = postgres(state.info.DB_URL, { max: 1, onnotice: () => {} });
  try {
    const [user] = await sql<{ id: string; email: string; merchant_id: string | null }[]>`
      select u.id, u.email, p.merchant_id
      from auth.users u left join public.profile p on p.id = u.id
      where lower(u.email) = lower(${email})`;
    if (!user) throw new Error(`no user with email ${email}`);
    console.log(
      await userAccessToken(
        state.keys,
        `${state.info.API_URL}/auth/v1`,
        { id: user.id, email: user.email, merchantId: user.merchant_id },
        {
          legacy: args.includes("--legacy"),
          expiresInSeconds: expiresIn >= 0 ? Number(args[expiresIn + 1]) : undefined,
        },
      ),
    );
  } finally {
    await sql.end();
  }
}

async function apiKey(args: string[]): Promise<void> {
  const valueOf = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const values = new Set([valueOf("--merchant"), valueOf("--name")]);
  const email = args.find((arg) => !arg.startsWith("--") && !values.has(arg));
  if (!email) {
    throw new Error(
      "usage: ./deno task local:key <merchant-owner-email> [--test] [--sub-merchants] " +
        "[--merchant <id>] [--name <name>]",
    );
  }
  const state = await requireState();
  const created = await createApiKeyAs(state.info, state.keys, email, {
    test: args.includes("--test"),
    subMerchants: args.includes("--sub-merchants"),
    merchantId: valueOf("--merchant"),
    name: valueOf("--name"),
  });
  console.log(created.key);
}

async function demo(ports: Ports): Promise<void> {
  const state = await start(ports);
  printStatus(state.info);
  const url = `${state.info.FUNCTIONS_URL}/job-interview-register-users`;
  console.log(`\nPOST ${url} (the reference page's example request, with the service key):`);
  const res = await fetch(url, {
    method: "POST",
    headers: {
      apikey: state.info.SECRET_KEY,
      "content-type": "application/json",
    },
    body: JSON.stringify(EXAMPLE_REQUEST),
  });
  console.log(`HTTP ${res.status}`);
  console.log(JSON.stringify(await res.json(), null, 2));
  console.log("\nThe stack keeps running; stop it with './deno task local:stop'.");
  if (!res.ok) Deno.exit(1);
}

if (import.meta.main) {
  const [command, ...args] = Deno.args;
  try {
    switch (command) {
      case "start":
        printStatus((await start(portsFrom(args))).info);
        break;
      case "status":
        printStatus((await requireState()).info);
        break;
      case "stop":
        await stop();
        break;
      case "token":
        await token(args);
        break;
      case "key":
        await apiKey(args);
        break;
      case "demo":
        await demo(portsFrom(args));
        break;
      case "serve":
        await serve(portsFrom(args));
        break;
      default:
        throw new Error(
          "usage: stack/cli.ts start | status | stop | token <email> | key <email> | demo " +
            "[--port N] [--inbox-port N]",
        );
    }
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
