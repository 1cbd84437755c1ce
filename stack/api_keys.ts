// Merchant API keys for the local stack: the demo key `local:status` prints, and
// `deno task local:key <email> [--test]`, which creates a key as that user, through the Data API
// exactly as a merchant owner's own code would (supabase.rpc("create_api_key")).
import postgres from "postgres";
import { createClient } from "@supabase/supabase-js";
import { type StackKeys, userAccessToken } from "./keys.ts";
import { ownerUrl } from "./postgres.ts";

export interface ApiKeyOptions {
  name?: string;
  test?: boolean;
  subMerchants?: boolean;
  /** Another merchant than the user's own (an admin's, or a sub-merchant). */
  merchantId?: string;
}

/** The seeded owner whose demo key `local:status` prints as DEMO_API_KEY. */
const DEMO_OWNER = "a0000000-0000-4000-8000-000000000002";

/**
 * Creates the stack's demo key for Demo Merchant, as its owner (the same SQL function under the
 * same role and claims that PostgREST would use), before PostgREST is up.
 */
export async function createDemoApiKey(databaseUrl: string): Promise<string> {
  const sql = postgres(ownerUrl(databaseUrl), { max: 1, onnotice: () => {} });
  try {
    return await sql.begin(async (tx) => {
      const claims = JSON.stringify({ sub: DEMO_OWNER, role: "authenticated" });
      await tx`select set_config('request.jwt.claims', ${claims}, true)`;
      await tx`set local role authenticated`;
      const [row] = await tx<{ key: string }[]>`
        select public.create_api_key('Demo key (local stack)') ->> 'key' as key`;
      return row.key;
    });
  } finally {
    await sql.end();
  }
}

/** A new key created by the user with this email, through the stack's Data API. */
export async function createApiKeyAs(
  stack: { API_URL: string; DB_URL: string; PUBLISHABLE_KEY: string },
  keys: StackKeys,
  email: string,
  options: ApiKeyOptions = {},
): Promise<{ key: string; prefix: string; merchant_id: string; is_test: boolean }> {
  const sql = postgres(stack.DB_URL, { max: 1, onnotice: () => {} });
  let user;
  try {
    [user] = await sql<{ id: string; email: string; merchant_id: string | null }[]>`
      select u.id, u.email, p.merchant_id
      from auth.users u left join public.profile p on p.id = u.id
      where lower(u.email) = lower(${email})`;
  } finally {
    await sql.end();
  }
  if (!user) throw new Error(`no user with email ${email}`);
  const token = await userAccessToken(keys, `${stack.API_URL}/auth/v1`, {
    id: user.id,
    email: user.email,
    merchantId: user.merchant_id,
  });
  const supabase = createClient(stack.API_URL, stack.PUBLISHABLE_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { headers: { Authorization: `Bearer ${token}` } },
  });
  const { data, error } = await supabase.rpc("create_api_key", {
    name: options.name ?? `local key ${new Date().toISOString()}`,
    merchant_id: options.merchantId ?? null,
    test: options.test ?? false,
    sub_merchants: options.subMerchants ?? false,
  });
  if (error) throw new Error(`create_api_key failed: ${error.message}`);
  return data;
}
