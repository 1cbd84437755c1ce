// Which checkout's local stack holds a port: every `local:start` stack leaves a note per port in
// the machine's temporary folder, so that a second checkout can say whose stack is in its way and
// how to reach or stop it, instead of only "port in use".
import { portAnswers } from "./ports.ts";

export interface PortClaim {
  /** The checkout (repository folder) whose stack listens there. */
  root: string;
  pid: number;
  port: number;
  what: string;
  apiUrl: string;
}

const claimsDir = () => `${Deno.env.get("TMPDIR") ?? "/tmp"}/job-interview-local-stacks`;
const claimPath = (port: number) => `${claimsDir()}/${port}.json`;

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

export async function claimPorts(claims: PortClaim[]): Promise<() => Promise<void>> {
  await Deno.mkdir(claimsDir(), { recursive: true });
  for (const claim of claims) {
    await Deno.writeTextFile(claimPath(claim.port), JSON.stringify(claim));
  }
  return async () => {
    for (const claim of claims) await Deno.remove(claimPath(claim.port)).catch(() => {});
  };
}

/** The live stack that claimed `port`, if any. */
export async function claimOf(port: number): Promise<PortClaim | null> {
  try {
    const claim = JSON.parse(await Deno.readTextFile(claimPath(port))) as PortClaim;
    return alive(claim.pid) ? claim : null;
  } catch {
    return null;
  }
}

/** Why `port` cannot be used, in words that say what to do; null when it is free. */
export async function describePortHolder(
  port: number,
  what: string,
  root: string,
): Promise<string | null> {
  if (!await portAnswers("127.0.0.1", port)) return null;
  const claim = await claimOf(port);
  const otherPorts = "or start this checkout's stack on other ports: " +
    "'./deno task start --port 54331 --inbox-port 54334' (or LOCAL_API_PORT and LOCAL_INBOX_PORT)";
  if (!claim) {
    return `port ${port} (${what}) is in use by another program; stop it, ${otherPorts}`;
  }
  if (claim.root === root) {
    return `port ${port} (${what}) is held by this checkout's own stack (pid ${claim.pid}), ` +
      `whose state file is gone; stop it with 'kill ${claim.pid}', ${otherPorts}`;
  }
  return `port ${port} (${what}) is held by the local stack of another checkout, ${claim.root} ` +
    `(pid ${claim.pid}, ${claim.apiUrl}). Use it: 'cd ${claim.root} && ./deno task local:status' ` +
    `prints its URLs and keys; stop it: 'cd ${claim.root} && ./deno task local:stop'; ${otherPorts}`;
}
