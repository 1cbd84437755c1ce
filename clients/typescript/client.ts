// A typed client for the registration API, from the OpenAPI document (openapi-fetch over the
// types openapi-typescript generates into schema.ts; `deno task openapi` refreshes them).
import createClient from "npm:openapi-fetch@0.17.0";
import type { components, paths } from "./schema.ts";

export type RegistrationApi = ReturnType<typeof createRegistrationClient>;
export type ApiError = components["schemas"]["Error"];

/**
 * `functionsUrl` is the project's `/functions/v1` URL; `credential` a merchant API key
 * (`jm_live_...`), a user access token or the service key. Merchant API keys and tokens go in
 * Authorization, the project's `sb_` keys in `apikey`, as Supabase's gateway expects (it does not
 * pass an `sb_` key in Authorization on to a function unless `apikey` holds it too).
 */
export function createRegistrationClient(options: { functionsUrl: string; credential: string }) {
  const isApiKey = options.credential.startsWith("sb_");
  return createClient<paths>({
    baseUrl: options.functionsUrl.replace(/\/+$/, ""),
    headers: isApiKey
      ? { apikey: options.credential }
      : { authorization: `Bearer ${options.credential}` },
  });
}
