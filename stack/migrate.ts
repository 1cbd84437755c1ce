// Brings a fresh database to the project's schema: the Supabase bootstrap (vanilla PostgreSQL
// only), every migration in order, then the seed. A failing file is named with the line and the
// statement that failed.
import postgres from "postgres";
import { splitStatements } from "./sql_statements.ts";

const root = new URL("../", import.meta.url);

export async function migrationFiles(
  dir = new URL("supabase/migrations/", root),
): Promise<URL[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".sql")) names.push(entry.name);
  }
  return names.sort().map((name) => new URL(name, dir));
}

async function applyFile(sql: postgres.Sql, file: URL): Promise<void> {
  const path = file.pathname.startsWith(root.pathname)
    ? file.pathname.slice(root.pathname.length)
    : file.pathname;
  const statements = splitStatements(await Deno.readTextFile(file));
  // One transaction per file: a failing migration leaves nothing of itself behind.
  await sql.begin(async (tx) => {
    for (const statement of statements) {
      try {
        await tx.unsafe(statement.text);
      } catch (err) {
        const excerpt = statement.text.split("\n").slice(0, 4).join("\n    ");
        throw new Error(
          `${path}:${statement.line}: ${(err as Error).message}\n  in statement:\n    ${excerpt}`,
        );
      }
    }
  });
}

export async function migrate(
  databaseUrl: string,
  options: { seed?: boolean; migrationsDir?: URL } = {},
) {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [{ has_auth }] = await sql<{ has_auth: boolean }[]>`
      select exists (select 1 from pg_namespace where nspname = 'auth') as has_auth`;
    if (!has_auth) await applyFile(sql, new URL("stack/bootstrap.sql", root));
    for (const file of await migrationFiles(options.migrationsDir)) await applyFile(sql, file);
    if (options.seed ?? true) await applyFile(sql, new URL("supabase/seed.sql", root));
  } finally {
    await sql.end();
  }
}
