// What integration tests know of the stack `deno task test` started for them.
import postgres from "postgres";
import type { StackKeys } from "../../stack/keys.ts";
import { userAccessToken } from "../../stack/keys.ts";
import { assertMatchesContract } from "./contract.ts";
import { type Config, loadConfig } from "../../supabase/functions/_shared/config.ts";
import { functionEnvironment, type StackInfo } from "../../stack/stack.ts";

const raw = Deno.env.get("TEST_STACK");
if (!raw) {
  throw new Error("integration tests run through 'deno task test', which starts their stack");
}
export const { info, keys } = JSON.parse(raw) as { info: StackInfo; keys: StackKeys };

/** Each function's current process id, by name (fault tests kill them; they start again). */
export async function functionPids(): Promise<Record<string, number>> {
  const res = await fetch(`${info.API_URL}/_stack/stats`);
  return (await res.json()).functionPids;
}

export const REGISTER_URL = `${info.FUNCTIONS_URL}/job-interview-register-users`;

export const seed = {
  demoMerchant: "b5201178-46dd-4a20-a1af-7ffd647f834b",
  subMerchant: "c7d1e2f3-0a1b-4c2d-9e3f-4a5b6c7d8e9f",
  otherMerchant: "e4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8",
  activeInterview: "04e09fa5-3fb8-4236-b37d-fca2bcd1cb66",
  draftInterview: "5e0c1a4e-7d43-4c36-9d3e-2b7a1f0d9c11",
  position: "8a3f2b10-5c6d-4e7f-8a9b-0c1d2e3f4a5b",
  subInterview: "d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60",
  otherInterview: "f6a7b8c9-d0e1-4f2a-b3c4-d5e6f7a8b9c0",
  users: {
    admin: {
      id: "a0000000-0000-4000-8000-000000000001",
      email: "admin@demo.test",
      merchantId: null,
    },
    owner: {
      id: "a0000000-0000-4000-8000-000000000002",
      email: "owner@demo.test",
      merchantId: "b5201178-46dd-4a20-a1af-7ffd647f834b",
    },
    recruiter: {
      id: "a0000000-0000-4000-8000-000000000003",
      email: "recruiter@demo.test",
      merchantId: "b5201178-46dd-4a20-a1af-7ffd647f834b",
    },
    selection: {
      id: "a0000000-0000-4000-8000-000000000004",
      email: "selection@demo.test",
      merchantId: "b5201178-46dd-4a20-a1af-7ffd647f834b",
    },
    candidate: {
      id: "a0000000-0000-4000-8000-000000000005",
      email: "candidate@demo.test",
      merchantId: null,
    },
    subOwner: {
      id: "a0000000-0000-4000-8000-000000000006",
      email: "sub-owner@demo.test",
      merchantId: "c7d1e2f3-0a1b-4c2d-9e3f-4a5b6c7d8e9f",
    },
    otherOwner: {
      id: "a0000000-0000-4000-8000-000000000007",
      email: "other-owner@demo.test",
      merchantId: "e4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8",
    },
  },
} as const;

export type SeedUser = keyof typeof seed.users;

export function tokenFor(
  user: SeedUser,
  options: { expiresInSeconds?: number; legacy?: boolean } = {},
): Promise<string> {
  return userAccessToken(keys, `${info.API_URL}/auth/v1`, seed.users[user], options);
}

/** A superuser connection to the test database, for arranging and asserting from the SQL side. */
export function database(): postgres.Sql {
  return postgres(info.DB_URL, { max: 4, onnotice: () => {} });
}

/** Posts to the register endpoint; the body is parsed JSON (tests assert its shape). */
export async function postRegister(
  body: unknown,
  headers: Record<string, string>,
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(REGISTER_URL, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* keep the text */ }
  assertMatchesContract("/job-interview-register-users", "POST", res.status, parsed);
  return { status: res.status, body: parsed, headers: res.headers };
}

/** The service key where Supabase's gateway expects an API key: in `apikey`. */
export const asService = { apikey: keys.secretKey };

export async function asUser(user: SeedUser): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(user)}`, apikey: keys.anonKey };
}

/** A unique email, so tests never collide with each other's enrolments. */
export function uniqueEmail(tag = "cand"): string {
  return `${tag}-${crypto.randomUUID().slice(0, 12)}@example.com`;
}

/**
 * A function configuration as the stack's functions get it, with some variables changed
 * (undefined removes one): for handlers called in-process against the real stack.
 */
export async function stackConfig(
  changes: Record<string, string | undefined> = {},
): Promise<Config> {
  const env = { ...functionEnvironment(info, keys), ...changes };
  const saved = new Map(Object.keys(env).map((name) => [name, Deno.env.get(name)]));
  try {
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
    return await Promise.resolve(loadConfig());
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}
