// Merchant API keys as a caller presents them: `jm_live_` or `jm_test_` and 47 base62
// characters. Nothing is compared here: the key is hashed (SHA-256, over every character, so
// the time taken does not depend on its content) and the database resolves the digest in the
// registration's own transaction, so a revoked key fails on its next request.
import { createHash } from "node:crypto";
import { HttpError } from "./http.ts";

export interface ApiKeyCaller {
  kind: "api_key";
  /** SHA-256 of the whole key, hex: all the database ever sees of it. */
  keyHash: string;
  /** From the prefix, for logs; the database decides from its own record. */
  test: boolean;
}

const PREFIXES = ["jm_live_", "jm_test_"];
const KEY = /^jm_(live|test)_[0-9A-Za-z]{47}$/;

/** True for anything that claims to be a merchant API key, so no JWT parsing is tried on it. */
export function looksLikeApiKey(credential: string): boolean {
  return PREFIXES.some((prefix) => credential.startsWith(prefix));
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/**
 * The caller a key stands for. A key of the wrong shape is refused at once: its shape is public
 * knowledge, not part of the secret.
 */
export function apiKeyCaller(credential: string): ApiKeyCaller {
  if (!KEY.test(credential)) {
    throw new HttpError(401, "Invalid API key", undefined, {}, "api_key_invalid");
  }
  return {
    kind: "api_key",
    keyHash: hashApiKey(credential),
    test: credential.startsWith("jm_test_"),
  };
}
