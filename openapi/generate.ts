// Writes openapi/openapi.json from the handlers' schemas and the typed client's types
// (clients/typescript/schema.ts, by openapi-typescript); with --check, fails when either
// committed file is stale instead.
import { buildOpenApiDocument } from "./document.ts";

const root = new URL("../", import.meta.url);
const documentPath = new URL("openapi/openapi.json", root).pathname;
const typesPath = new URL("clients/typescript/schema.ts", root).pathname;
const check = Deno.args.includes("--check");

async function clientTypes(fromDocument: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/openapi.json`, fromDocument);
    const out = await new Deno.Command("npx", {
      args: ["-y", "openapi-typescript@7.13.0", `${dir}/openapi.json`, "-o", `${dir}/schema.ts`],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return await Deno.readTextFile(`${dir}/schema.ts`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const document = JSON.stringify(buildOpenApiDocument(), null, 2) + "\n";
const types = await clientTypes(document);
if (check) {
  const stale = [
    [documentPath, document],
    [typesPath, types],
  ].filter(([path, text]) => Deno.readTextFileSync(path) !== text).map(([path]) => path);
  if (stale.length) {
    console.error(`stale: ${stale.join(", ")}: run 'deno task openapi'`);
    Deno.exit(1);
  }
  console.log("openapi/openapi.json and clients/typescript/schema.ts are current");
} else {
  await Deno.writeTextFile(documentPath, document);
  await Deno.writeTextFile(typesPath, types);
  console.log("wrote openapi/openapi.json and clients/typescript/schema.ts");
}
