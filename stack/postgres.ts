// Finds a PostgreSQL server for a stack and gives the stack a fresh database on it:
// DATABASE_URL when set, else the server on 127.0.0.1:5432, else a private throwaway cluster.
import postgres from "postgres";
import { freePort, portAnswers, waitFor } from "./ports.ts";

export interface Database {
  /** Superuser URL of the stack's own database. */
  url: string;
  /** Where the server came from, for status output. */
  source: "DATABASE_URL" | "127.0.0.1:5432" | "private cluster";
  stop(): Promise<void>;
}

const isRoot = () => Deno.uid?.() === 0;

/** The role that owns a stack's database and applies its migrations (see stack/bootstrap.sql). */
export const OWNER_ROLE = "stack_postgres";

/** The same database as `databaseUrl`, as its owner: the platform's `postgres`, not a superuser. */
export function ownerUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.username = OWNER_ROLE;
  url.password = "postgres";
  return url.toString();
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function createDatabase(serverUrl: string, name: string): Promise<void> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end();
  }
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await sql.end();
  }
}

async function findPgBin(name: string): Promise<string | null> {
  const candidates: string[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      candidates.push(`/usr/lib/postgresql/${entry.name}/bin/${name}`);
    }
  } catch { /* not a Debian layout */ }
  candidates.sort().reverse();
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) candidates.push(`${dir}/${name}`);
  for (const path of candidates) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch { /* keep looking */ }
  }
  return null;
}

/** Runs a command as the `postgres` user when we are root (initdb and postgres refuse root). */
function asPostgresUser(cmd: string, args: string[]): Deno.Command {
  if (!isRoot()) return new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" });
  return new Deno.Command("runuser", {
    args: ["-u", "postgres", "--", cmd, ...args],
    stdout: "piped",
    stderr: "piped",
  });
}

async function startPrivateCluster(): Promise<{ serverUrl: string; stop(): Promise<void> }> {
  const initdb = await findPgBin("initdb");
  if (!initdb) {
    throw new Error(
      "no PostgreSQL found: set DATABASE_URL, start a server on 127.0.0.1:5432, or install " +
        "PostgreSQL so that a private cluster can be created (initdb and postgres)",
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "jm-pg-" });
  if (isRoot()) await new Deno.Command("chown", { args: ["-R", "postgres", dir] }).output();
  const init = await asPostgresUser(initdb, [
    "-D",
    `${dir}/data`,
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--no-sync",
  ]).output();
  if (!init.success) {
    throw new Error(`initdb failed: ${new TextDecoder().decode(init.stderr)}`);
  }
  const port = freePort();
  const pgCtl = await findPgBin("pg_ctl") ?? "pg_ctl";
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const started = await asPostgresUser(pgCtl, [
    "-D",
    `${dir}/data`,
    "-o",
    options,
    "-l",
    `${dir}/postgres.log`,
    "-w",
    "start",
  ]).output();
  const stop = async () => {
    await asPostgresUser(pgCtl, ["-D", `${dir}/data`, "-m", "fast", "-w", "stop"]).output();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  if (!started.success) {
    const log = await Deno.readTextFile(`${dir}/postgres.log`).catch(() => "");
    await stop();
    throw new Error(`the private PostgreSQL cluster did not start:\n${log}`);
  }
  try {
    await waitFor("private PostgreSQL cluster", () => portAnswers("127.0.0.1", port), 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { serverUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
}

export async function provisionDatabase(label: string): Promise<Database> {
  const name = `jm_${label}_${crypto.randomUUID().slice(0, 8)}`;
  const fromEnv = Deno.env.get("DATABASE_URL");
  let serverUrl: string;
  let source: Database["source"];
  let stopServer = async () => {};
  if (fromEnv) {
    serverUrl = fromEnv;
    source = "DATABASE_URL";
  } else if (await portAnswers("127.0.0.1", 5432)) {
    serverUrl = "postgres://postgres@127.0.0.1:5432/postgres";
    source = "127.0.0.1:5432";
  } else {
    const cluster = await startPrivateCluster();
    serverUrl = cluster.serverUrl;
    stopServer = cluster.stop;
    source = "private cluster";
  }
  try {
    await createDatabase(serverUrl, name);
  } catch (err) {
    await stopServer();
    throw new Error(`could not create database ${name} (${source}): ${(err as Error).message}`);
  }
  return {
    url: withDatabase(serverUrl, name),
    source,
    async stop() {
      await dropDatabase(serverUrl, name).catch(() => {});
      await stopServer();
    },
  };
}
