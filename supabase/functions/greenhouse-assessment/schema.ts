// Greenhouse's Assessment Partner API as its public documentation describes it: the requests
// Greenhouse sends and the answers it expects. openapi/greenhouse.json is the same contract.
import { z } from "zod";

const text = (max: number) =>
  z.string({ error: "must be a string" }).max(max, {
    error: `must be at most ${max} characters`,
  });

export const sendTestRequestSchema = z.object({
  partner_test_id: z.string({ error: "is required: an id from list_tests" }).min(1, {
    error: "is required: an id from list_tests",
  }).max(100),
  candidate: z.object({
    first_name: text(200).nullish(),
    last_name: text(200).nullish(),
    preferred_name: text(200).nullish(),
    email: text(320).nullish(),
    resume_url: text(4096).nullish(),
    phone_number: text(100).nullish(),
    greenhouse_profile_url: text(4096).nullish(),
  }, { error: "is required: the candidate's names and email" }),
  sent_by: text(320).nullish(),
  url: text(4096).nullish(),
}, { error: "Request body must be a JSON object" });

export const responseErrorRequestSchema = z.object({
  api_call: text(100),
  errors: z.array(text(2000)).max(100),
  partner_test_id: text(100).nullish(),
  partner_test_name: text(300).nullish(),
  partner_interview_id: text(100).nullish(),
  candidate_email: text(320).nullish(),
}, { error: "Request body must be a JSON object" });

export type SendTestRequest = z.infer<typeof sendTestRequestSchema>;
export type ResponseErrorRequest = z.infer<typeof responseErrorRequestSchema>;

export interface PartnerTest {
  partner_test_id: string;
  partner_test_name: string;
}

export interface TestStatus {
  partner_status: "not_started" | "started" | "complete" | "abandoned";
  partner_profile_url: string;
  partner_score: number | null;
  metadata: Record<string, string>;
}
