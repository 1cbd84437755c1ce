// Interview tokens: short JWTs that carry one enrolment into one interview attempt. Signed with
// an Ed25519 key whose `kid` lets keys rotate; only the `jti` is stored.
//
// Signing uses node:crypto directly: it is synchronous and about three times faster per token
// than WebCrypto's async sign (what jose uses), which matters at a thousand tokens a request.
// Only Ed25519: its signature has one encoding, while an ES256 one-shot sign on the Edge Runtime
// ignores `dsaEncoding: "ieee-p1363"` and yields DER, which JOSE verifiers reject. Ed25519 is also
// deterministic, so a retried email carries the very token first sent. Verification stays with
// jose and still accepts ES256, for links signed by an earlier key.
import { Buffer } from "node:buffer";
import { createPrivateKey, type KeyObject, sign as signBytes } from "node:crypto";
import {
  createLocalJWKSet,
  errors as joseErrors,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
} from "jose";
import { HttpError } from "./http.ts";

export interface InterviewTokenClaims {
  jti: string;
  enrolmentId: string;
  merchantId: string;
  interviewId: string;
  positionId: string | null;
  isTest: boolean;
  hideMenu: boolean;
  hideIframe: boolean;
  expiresAt: Date;
  /** Seconds since the epoch; a fixed value makes the token reproducible (Ed25519 is deterministic). */
  issuedAt?: number;
}

export interface InterviewTokenSigner {
  sign(claims: InterviewTokenClaims): string;
}

const base64url = (value: string | Uint8Array) => Buffer.from(value).toString("base64url");

export function createInterviewTokenSigner(
  jwk: JWK,
  options: { issuer: string; audience: string },
): InterviewTokenSigner {
  const alg = "EdDSA";
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || (jwk.alg && jwk.alg !== alg)) {
    throw new Error(
      `interview tokens are signed with Ed25519 (EdDSA) keys only, not ${jwk.alg ?? jwk.kty}`,
    );
  }
  const key: KeyObject = createPrivateKey({ key: jwk as Record<string, string>, format: "jwk" });
  const header = base64url(JSON.stringify({ alg, kid: jwk.kid, typ: "JWT" }));
  return {
    sign(claims) {
      const payload: Record<string, unknown> = {
        merchant_id: claims.merchantId,
        interview_id: claims.interviewId,
        is_test: claims.isTest,
      };
      if (claims.positionId) payload.position_id = claims.positionId;
      if (claims.hideMenu) payload.view_hm = true;
      if (claims.hideIframe) payload.view_hi = true;
      payload.iss = options.issuer;
      payload.aud = options.audience;
      payload.sub = claims.enrolmentId;
      payload.jti = claims.jti;
      payload.iat = claims.issuedAt ?? Math.floor(Date.now() / 1000);
      payload.exp = Math.floor(claims.expiresAt.getTime() / 1000);
      const input = `${header}.${base64url(JSON.stringify(payload))}`;
      const signature = signBytes(null, Buffer.from(input), key);
      return `${input}.${base64url(signature)}`;
    },
  };
}

export interface VerifiedInterviewToken {
  jti: string;
  enrolmentId: string;
  isTest: boolean;
  hideMenu: boolean;
  hideIframe: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Verifies a token against the published keys: known `kid`, pinned algorithm, iss, aud, exp. */
export function createInterviewTokenVerifier(
  publicKeys: JSONWebKeySet,
  options: { issuer: string; audience: string },
): (token: string) => Promise<VerifiedInterviewToken> {
  const keys = createLocalJWKSet(publicKeys);
  const invalid = () =>
    new HttpError(401, "This interview link is not valid", undefined, {}, "token_invalid");
  return async (token) => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: ["EdDSA", "ES256"],
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ["jti", "sub", "exp"],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) {
        throw new HttpError(401, "This interview link has expired", undefined, {}, "token_expired");
      }
      throw invalid();
    }
    if (!UUID.test(payload.jti!) || !UUID.test(payload.sub!)) throw invalid();
    return {
      jti: payload.jti!,
      enrolmentId: payload.sub!,
      isTest: payload.is_test === true,
      hideMenu: payload.view_hm === true,
      hideIframe: payload.view_hi === true,
    };
  };
}
