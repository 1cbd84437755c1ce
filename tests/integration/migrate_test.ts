// A failing migration is reported with its file, line and statement, and leaves nothing behind.
import assert from "node:assert/strict";
import postgres from "postgres";
import { migrate } from "../../stack/migrate.ts";
import { info } from "../support/stack.ts";

Deno.test("a failing migration names the file, the line and the statement", async () => {
  const server = new URL(info.DB_URL);
  const name = `jm_migrate_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(info.DB_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/20260101000000_broken.sql`,
      "create table public.ok_table (id int);\n\n-- the next one is wrong\nselect * from public.missing_table;\n",
    );
    server.pathname = `/${name}`;
    await assert.rejects(
      migrate(server.toString(), { seed: false, migrationsDir: new URL(`file://${dir}/`) }),
      (err: Error) => {
        assert.match(
          err.message,
          /20260101000000_broken\.sql:4: relation "public\.missing_table" does not exist/,
        );
        assert.match(err.message, /select \* from public\.missing_table/);
        return true;
      },
    );
    const db = postgres(server.toString(), { max: 1, onnotice: () => {} });
    const [{ exists }] = await db`select to_regclass('public.ok_table') is not null as exists`;
    await db.end();
    assert.equal(exists, false);
  } finally {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
    await Deno.remove(dir, { recursive: true });
  }
});
