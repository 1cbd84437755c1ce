// Photographs a page with headless Chromium (Debian's `chromium` package), started the way this
// machine's closed network needs: no background traffic, a fresh profile.
export async function screenshot(
  url: string,
  out: string,
  size: { width: number; height: number },
): Promise<void> {
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
        "--hide-scrollbars",
        `--window-size=${size.width},${size.height}`,
        "--virtual-time-budget=10000",
        `--screenshot=${out}`,
        url,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!result.success) throw new Error(new TextDecoder().decode(result.stderr));
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}
