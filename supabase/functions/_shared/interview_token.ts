// Interview tokens: short JWTs that carry one enrolment into one interview attempt. Signed with
// an asymmetric key (Ed25519 by default) whose `kid` lets keys rotate; only the `jti` is stored.
import {
  createLocalJWKSet,
  errors as joseErrors,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
  SignJWT,
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
  sign(claims: InterviewTokenClaims): Promise<string>;
}

export function createInterviewTokenSigner(
  jwk: JWK,
  options: { issuer: string; audience: string },
): InterviewTokenSigner {
  const alg = jwk.alg ?? (jwk.kty === "OKP" ? "EdDSA" : "ES256");
  const key = importJWK(jwk, alg);
  return {
    async sign(claims) {
      const issuedAt = claims.issuedAt ?? Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        merchant_id: claims.merchantId,
        interview_id: claims.interviewId,
        is_test: claims.isTest,
      };
      if (claims.positionId) payload.position_id = claims.positionId;
      if (claims.hideMenu) payload.view_hm = true;
      if (claims.hideIframe) payload.view_hi = true;
      return await new SignJWT(payload)
        .setProtectedHeader({ alg, kid: jwk.kid, typ: "JWT" })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setSubject(claims.enrolmentId)
        .setJti(claims.jti)
        .setIssuedAt(issuedAt)
        .setExpirationTime(Math.floor(claims.expiresAt.getTime() / 1000))
        .sign(await key);
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
