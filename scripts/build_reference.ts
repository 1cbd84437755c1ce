// Builds the static API references from openapi/openapi.json into docs/reference.html, and
// from openapi/greenhouse.json into docs/reference-greenhouse.html: Redoc's
// standalone bundle and the document inlined, so the page works offline. Then photographs it
// with headless Chromium (Debian's `chromium`, when installed): deno task docs:reference
import { screenshot } from "./chromium.ts";

const root = new URL("../", import.meta.url).pathname;
const REDOC = "redoc@2.5.4";

async function run(cmd: string, args: string[], cwd = root) {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** Redoc's browser bundle, from the npm registry's tarball. */
async function redocBundle(): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    await run("npm", ["pack", REDOC, "--silent"], dir);
    const tarball = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".tgz"))!.name;
    await run("tar", ["xzf", tarball, "package/bundles/redoc.standalone.js"], dir);
    return await Deno.readTextFile(`${dir}/package/bundles/redoc.standalone.js`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const inline = (text: string) => text.replaceAll("</script", "<\\/script");
const bundle = await redocBundle();

/** One standalone page: Redoc and the document inlined. */
function page(title: string, spec: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body { margin: 0; }</style>
</head>
<body>
<div id="redoc"></div>
<script>${inline(bundle)}</script>
<script>
Redoc.init(${inline(spec)}, { expandResponses: "200", jsonSampleExpandLevel: 3 },
  document.getElementById("redoc"));
</script>
</body>
</html>
`;
}

// Our own API, and Greenhouse's Assessment Partner API as the adapter serves it.
const pages = [
  ["openapi/openapi.json", "docs/reference.html", "Job interview registration API"],
  ["openapi/greenhouse.json", "docs/reference-greenhouse.html", "Greenhouse Assessment API"],
];
for (const [source, target, title] of pages) {
  await Deno.writeTextFile(`${root}${target}`, page(title, await Deno.readTextFile(root + source)));
  console.log(`wrote ${target}`);
}

try {
  await screenshot(`file://${root}docs/reference.html`, `${root}docs/images/reference.png`, {
    width: 1280,
    height: 1100,
  });
  console.log("wrote docs/images/reference.png");
} catch (err) {
  console.error(`no screenshot: ${(err as Error).message}`);
}
