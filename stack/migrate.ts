// Brings a fresh database to the project's schema: the Supabase bootstrap (vanilla PostgreSQL
// only, applied as a superuser), then every migration in order and the seed, applied as the
// database's owner, a role that is not a superuser (as `supabase db push` applies them as
// `postgres` on the platform). A failing file is named with the line and the statement that failed.
import postgres from "postgres";
import { ownerUrl } from "./postgres.ts";
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
  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  let asOwner = false;
  try {
    const [{ has_auth, superuser, has_owner }] = await admin<
      { has_auth: boolean; superuser: boolean; has_owner: boolean }[]
    >`
      select exists (select 1 from pg_namespace where nspname = 'auth') as has_auth,
        (select rolsuper from pg_roles where rolname = current_user) as superuser,
        exists (select 1 from pg_roles where rolname = 'stack_postgres') as has_owner`;
    if (!has_auth) await applyFile(admin, new URL("stack/bootstrap.sql", root));
    // Given a superuser, never apply migrations with it: they would pass here and fail on the
    // platform wherever they need more than `postgres` has.
    asOwner = superuser && (has_owner || !has_auth);
  } finally {
    await admin.end();
  }
  const sql = postgres(asOwner ? ownerUrl(databaseUrl) : databaseUrl, {
    max: 1,
    onnotice: () => {},
  });
  try {
    for (const file of await migrationFiles(options.migrationsDir)) await applyFile(sql, file);
    if (options.seed ?? true) await applyFile(sql, new URL("supabase/seed.sql", root));
  } finally {
    await sql.end();
  }
}
