// The baseline the benchmark compares against: what a developer writes first with supabase-js.
// Per request: look up the interview; per user: look up the enrolment, insert it if new, insert a
// token record, sign the token. Same response shape, no batching. Kept only for the benchmark.
import { createClient } from "@supabase/supabase-js";
import type { Config } from "../supabase/functions/_shared/config.ts";
import { createInterviewTokenSigner } from "../supabase/functions/_shared/interview_token.ts";
import { interviewUrl } from "../supabase/functions/_shared/interview_url.ts";

interface NaiveRequest {
  users: { name?: string | null; email?: string | null; external_id?: string | null }[];
  interview_id: string;
  merchant_id: string;
}

export function createNaiveHandler(cfg: Config): (req: Request) => Promise<Response> {
  const db = createClient(cfg.supabaseUrl, cfg.serviceKey, { auth: { persistSession: false } });
  const signer = createInterviewTokenSigner(cfg.interviewSigningKey, {
    issuer: cfg.interviewTokenIssuer,
    audience: cfg.interviewTokenAudience,
  });
  return async (req) => {
    const body = await req.json() as NaiveRequest;
    const { data: interview } = await db.from("interview_def_set").select("id, merchant_id")
      .eq("id", body.interview_id).eq("merchant_id", body.merchant_id).single();
    if (!interview) return Response.json({ error: "interview not found" }, { status: 422 });
    const results = [];
    for (const user of body.users) {
      const email = (user.email ?? "").trim();
      let { data: enrolment } = await db.from("profile_interview").select("id")
        .eq("interview_def_set_id", interview.id).ilike("email", email).maybeSingle();
      if (!enrolment) {
        ({ data: enrolment } = await db.from("profile_interview").insert({
          merchant_id: interview.merchant_id,
          interview_def_set_id: interview.id,
          name: user.name ?? null,
          email,
          external_id: user.external_id ?? null,
        }).select("id").single());
      }
      const expiresAt = new Date(Date.now() + cfg.interviewTokenTtlSeconds * 1000);
      const { data: token } = await db.from("interview_token").insert({
        profile_interview_id: enrolment!.id,
        merchant_id: interview.merchant_id,
        interview_def_set_id: interview.id,
        expires_at: expiresAt.toISOString(),
      }).select("jti").single();
      const signed = await signer.sign({
        jti: token!.jti,
        enrolmentId: enrolment!.id,
        merchantId: interview.merchant_id,
        interviewId: interview.id,
        positionId: null,
        isTest: false,
        hideMenu: false,
        hideIframe: false,
        expiresAt,
      });
      results.push({
        name: user.name ?? null,
        email: user.email ?? null,
        external_id: user.external_id ?? null,
        result: "ok",
        interview_url: interviewUrl(cfg.interviewFrontendUrl, interview.id, signed, {
          hideMenu: false,
          hideIframe: false,
        }),
        profile_interview_id: enrolment!.id,
      });
    }
    return Response.json(results);
  };
}
