// Runs the functions as the Edge Runtime does: each folder of supabase/functions from its own
// `index.ts` (its own `Deno.serve`), isolated in a process of its own, with `EdgeRuntime.waitUntil`
// (stack/edge_runtime.ts), only the environment the platform gives, and the platform's 256 MB
// memory limit as the V8 heap limit. A function that dies (out of memory, a crash) is started
// again, as the platform boots a new worker.
import { freePort, waitFor } from "./ports.ts";

const root = new URL("../", import.meta.url).pathname;
const functionsDir = `${root}supabase/functions`;
const preload = new URL("./edge_runtime.ts", import.meta.url).pathname;

/** Supabase's per-worker memory limit (docs: Edge Functions, Limits). */
export const FUNCTION_MEMORY_MB = 256;

/** What Deno itself needs from the host to run (its cache); nothing the function should read. */
const HOST_ENV = ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"];

export interface FunctionProcesses {
  /** Base URL of each function's own server, by function name. */
  urls: Record<string, string>;
  /** Process id of each function, by name (the benchmark reads CPU and memory from /proc). */
  pids: Record<string, number>;
  stop(): Promise<void>;
  /** Kills every function as a crash would; each is started again at once, as on the platform. */
  kill(): Promise<void>;
  /** Resolves once every function answers again. */
  ready(): Promise<void>;
}

export async function functionNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(functionsDir)) {
    if (entry.isDirectory && !entry.name.startsWith("_")) names.push(entry.name);
  }
  return names.sort();
}

function hostEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of HOST_ENV) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * The function's output goes straight to the log file (the shell's redirect, then `exec`: the
 * process is the function's own), not through the gateway's process, as on the platform, where
 * a function's logs never pass its gateway. `env -u PWD` drops the one variable the shell adds.
 */
const REDIRECT = 'log="$1"; shift; exec /usr/bin/env -u PWD "$@" >>"$log" 2>&1';

/**
 * Starts every function of supabase/functions, plus `extra` (name to entry file: benchmark-only
 * functions that are never deployed), each in a process of its own, appending its output to
 * `logPath`.
 */
export async function startFunctions(
  env: Record<string, string>,
  logPath: string,
  flags: string[] = [],
  extra: Record<string, string> = {},
): Promise<FunctionProcesses> {
  const urls: Record<string, string> = {};
  const pids: Record<string, number> = {};
  const children = new Map<string, Deno.ChildProcess>();
  let stopping = false;

  const spawn = (name: string, port: number) => {
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        REDIRECT,
        "sh",
        logPath,
        Deno.execPath(),
        "run",
        "-A",
        "--quiet",
        `--v8-flags=--max-old-space-size=${FUNCTION_MEMORY_MB}`,
        `--preload=${preload}`,
        ...flags,
        extra[name] ?? `${functionsDir}/${name}/index.ts`,
      ],
      cwd: root,
      clearEnv: true,
      // Deno.serve() without options listens where DENO_SERVE_ADDRESS says.
      env: { ...hostEnv(), ...env, DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`, NO_COLOR: "1" },
      stdout: "null",
      stderr: "null",
    }).spawn();
    children.set(name, child);
    pids[name] = child.pid;
    child.status.then((status) => {
      if (stopping || children.get(name) !== child) return;
      Deno.writeTextFile(
        logPath,
        `function ${name} exited (code ${status.code}, signal ${status.signal}); restarting\n`,
        { append: true },
      ).catch(() => {});
      spawn(name, port);
    });
  };

  const stop = async () => {
    stopping = true;
    await Promise.all([...children.values()].map(async (child) => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    }));
  };

  const ready = async () => {
    await Promise.all(
      Object.entries(urls).map(([name, url]) =>
        waitFor(`the function ${name}`, async () => {
          try {
            const res = await fetch(url, { method: "OPTIONS" });
            await res.body?.cancel();
            return true;
          } catch {
            return false;
          }
        }, 60_000)
      ),
    );
  };

  const kill = async () => {
    await Promise.all([...children.values()].map(async (child) => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    }));
  };

  try {
    for (const name of [...await functionNames(), ...Object.keys(extra)]) {
      const port = freePort();
      urls[name] = `http://127.0.0.1:${port}`;
      spawn(name, port);
    }
    await ready();
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls, pids, stop, kill, ready };
}
