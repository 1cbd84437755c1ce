// Photographs a page with headless Chromium (Debian's `chromium` package), started the way this
// machine's closed network needs: no background traffic, a fresh profile.
export function screenshot(
  url: string,
  out: string,
  size: { width: number; height: number },
): Promise<string> {
  return chromium([
    "--hide-scrollbars",
    `--window-size=${size.width},${size.height}`,
    "--virtual-time-budget=10000",
    `--screenshot=${out}`,
    url,
  ]);
}

/** The page's DOM after its scripts ran, as HTML. */
export function dumpDom(url: string): Promise<string> {
  return chromium(["--virtual-time-budget=1000", "--dump-dom", url]);
}

/** Whether Debian's chromium is installed (`apt-get install chromium`). */
export async function hasChromium(): Promise<boolean> {
  try {
    return (await new Deno.Command("chromium", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output()).success;
  } catch {
    return false;
  }
}

async function chromium(args: string[]): Promise<string> {
  const profile = await Deno.makeTempDir();
  try {
    const result = await new Deno.Command("chromium", {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) throw new Error(new TextDecoder().decode(result.stderr));
    return new TextDecoder().decode(result.stdout);
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}
