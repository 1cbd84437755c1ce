// Greenhouse authenticates every call with HTTP Basic: the organisation's API key as the user
// name and an empty password. That key is a merchant API key (jm_live_ / jm_test_).
import { type ApiKeyCaller, apiKeyCaller } from "../_shared/api_key.ts";
import { HttpError } from "../_shared/http.ts";

export const CHALLENGE = { "www-authenticate": 'Basic realm="greenhouse-assessment"' };

const refused = (message: string) =>
  new HttpError(401, message, undefined, CHALLENGE, "api_key_invalid");

/** The merchant API key of a Basic Authorization header, or 401. */
export function basicApiKey(authorization: string | null): ApiKeyCaller {
  return apiKeyCaller(basicUserName(authorization));
}

/** The user name of Basic credentials with an empty password, shaped like an API key; or 401. */
export function basicUserName(authorization: string | null): string {
  const match = authorization && /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!match) throw refused("HTTP Basic authentication with the API key is required");
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0)),
    );
  } catch {
    throw refused("Invalid API key");
  }
  const colon = decoded.indexOf(":");
  // The key is the user name; Greenhouse sends no password, so any password is not Greenhouse.
  if (colon < 0 || colon !== decoded.length - 1) throw refused("Invalid API key");
  const key = decoded.slice(0, colon);
  try {
    apiKeyCaller(key);
  } catch {
    throw refused("Invalid API key");
  }
  return key;
}
