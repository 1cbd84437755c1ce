// Writes openapi/openapi.json from the handlers' schemas; with --check, fails when the committed
// file is stale instead.
import { buildOpenApiDocument } from "./document.ts";

const path = new URL("./openapi.json", import.meta.url);
const text = JSON.stringify(buildOpenApiDocument(), null, 2) + "\n";
if (Deno.args.includes("--check")) {
  const committed = await Deno.readTextFile(path).catch(() => "");
  if (committed !== text) {
    console.error("openapi/openapi.json is stale: run 'deno task openapi'");
    Deno.exit(1);
  }
  console.log("openapi/openapi.json is current");
} else {
  await Deno.writeTextFile(path, text);
  console.log("wrote openapi/openapi.json");
}
