// The README's examples run as written against the stack: every code block after an
// `<!-- example -->` marker, shell blocks with bash and TypeScript blocks with Deno, from the
// repository's root folder, as the README tells readers to (TypeScript examples saved there, so
// that the typed client's `./clients/...` import resolves).
import assert from "node:assert/strict";
import { info, tokenFor } from "../support/stack.ts";

const root = new URL("../../", import.meta.url).pathname;
const readme = await Deno.readTextFile(`${root}README.md`);
const examples = [...readme.matchAll(/<!-- example -->\s*```(\w+)\n([\s\S]*?)```/g)]
  .map(([, lang, code]) => ({ lang, code }));

async function run(lang: string, code: string, env: Record<string, string>) {
  const file = `${root}.readme-example-${crypto.randomUUID().slice(0, 8)}.${
    lang === "ts" ? "ts" : "sh"
  }`;
  try {
    await Deno.writeTextFile(file, code);
    const [cmd, args] = lang === "ts"
      ? [Deno.execPath(), ["run", "-A", "--quiet", file]]
      : ["bash", ["-euo", "pipefail", file]];
    const out = await new Deno.Command(cmd, {
      args,
      env,
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { ok: out.success, stdout: text(out.stdout), stderr: text(out.stderr) };
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

Deno.test("the README's examples run as written", async (t) => {
  assert.ok(examples.length >= 5, `found ${examples.length} examples`);
  assert.ok(
    examples.some((example) => example.code.includes("createRegistrationClient")),
    "the typed client example is among them",
  );
  const env = {
    API_URL: info.API_URL,
    FUNCTIONS_URL: info.FUNCTIONS_URL,
    ANON_KEY: info.ANON_KEY,
    SECRET_KEY: info.SECRET_KEY,
    DEMO_API_KEY: info.DEMO_API_KEY,
    ACCESS_TOKEN: await tokenFor("owner"),
  };
  for (const [i, example] of examples.entries()) {
    await t.step(`example ${i + 1} (${example.lang})`, async () => {
      const result = await run(example.lang, example.code, env);
      assert.ok(result.ok, result.stderr);
      assert.match(result.stdout, /\bok\b/, result.stdout + result.stderr);
    });
  }
});
