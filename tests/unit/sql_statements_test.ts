import assert from "node:assert/strict";
import { splitStatements } from "../../stack/sql_statements.ts";

Deno.test("splits on semicolons outside quotes, dollar quotes and comments", () => {
  const script = `-- header; with a semicolon
create table a (x text default ';');
/* block; comment */
create function f() returns int language sql as $$ select 1; $$;

create function g() returns int language plpgsql as $body$ begin return 2; end $body$;
select 'it''s; fine';`;
  const statements = splitStatements(script);
  assert.deepEqual(statements.map((s) => s.line), [2, 3, 6, 7]);
  assert.match(statements[0].text, /^create table a/);
  assert.match(statements[2].text, /\$body\$ begin return 2; end \$body\$$/);
  assert.equal(statements[3].text, "select 'it''s; fine'");
});

Deno.test("a script of comments only has no statements", () => {
  assert.deepEqual(splitStatements("-- nothing here\n\n-- at all\n"), []);
});
