// The README's examples run as written against the stack: every code block after an
// `<!-- example -->` marker, shell blocks with bash and TypeScript blocks with Deno.
import assert from "node:assert/strict";
import { info, tokenFor } from "../support/stack.ts";

const root = new URL("../../", import.meta.url).pathname;
const readme = await Deno.readTextFile(`${root}README.md`);
const examples = [...readme.matchAll(/<!-- example -->\s*```(\w+)\n([\s\S]*?)```/g)]
  .map(([, lang, code]) => ({ lang, code }));

async function run(lang: string, code: string, env: Record<string, string>) {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/example.${lang === "ts" ? "ts" : "sh"}`;
    await Deno.writeTextFile(file, code);
    const [cmd, args] = lang === "ts"
      ? [Deno.execPath(), ["run", "-A", "--quiet", file]]
      : ["bash", ["-euo", "pipefail", file]];
    const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { ok: out.success, stdout: text(out.stdout), stderr: text(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the README's examples run as written", async (t) => {
  assert.ok(examples.length >= 3, `found ${examples.length} examples`);
  const env = {
    API_URL: info.API_URL,
    FUNCTIONS_URL: info.FUNCTIONS_URL,
    ANON_KEY: info.ANON_KEY,
    SECRET_KEY: info.SECRET_KEY,
    ACCESS_TOKEN: await tokenFor("owner"),
  };
  for (const [i, example] of examples.entries()) {
    await t.step(`example ${i + 1} (${example.lang})`, async () => {
      const result = await run(example.lang, example.code, env);
      assert.ok(result.ok, result.stderr);
      assert.match(result.stdout, /ok|"result":"ok"/, result.stdout);
    });
  }
});
