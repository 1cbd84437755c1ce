// Sends candidates to the register endpoint in batches of its maximum, each with its own
// Idempotency-Key, retrying a batch that failed for a passing reason with the same key, so a
// retry can never register or email twice.
import type { RegistrationApi } from "../typescript/client.ts";
import type { CandidateRow } from "./csv.ts";

export interface ImportOptions {
  api: RegistrationApi;
  interviewId: string;
  merchantId?: string;
  sendEmail: boolean;
  /** Part of every batch's Idempotency-Key: the same file imported again replays. */
  runKey: string;
  batchSize?: number;
  maxAttempts?: number;
  onProgress?: (done: number, total: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

export interface ImportedRow {
  row: CandidateRow;
  result: string;
  interview_url: string;
  profile_interview_id: string;
  email_status: string;
}

export class ImportError extends Error {}

const RETRYABLE = new Set([409, 429, 500, 502, 503, 504]);

export async function importCandidates(
  rows: CandidateRow[],
  options: ImportOptions,
): Promise<ImportedRow[]> {
  const batchSize = options.batchSize ?? 1000;
  const maxAttempts = options.maxAttempts ?? 6;
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const results: ImportedRow[] = [];
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize);
    const key = `${options.runKey}-${start / batchSize}`;
    for (let attempt = 1;; attempt++) {
      let status = 0;
      let retryAfter: number | null = null;
      let failure = "";
      try {
        const { data, error, response } = await options.api.POST("/job-interview-register-users", {
          params: { header: { "Idempotency-Key": key } },
          body: {
            users: batch.map((row) => row.candidate),
            interview_id: options.interviewId,
            merchant_id: options.merchantId ?? null,
            send_email: options.sendEmail,
          },
        });
        status = response.status;
        if (data) {
          data.forEach((answer, i) =>
            results.push({
              row: batch[i],
              result: answer.result,
              interview_url: answer.interview_url ?? "",
              profile_interview_id: answer.profile_interview_id ?? "",
              email_status: answer.email_status ?? "",
            })
          );
          break;
        }
        failure = error?.error ?? `HTTP ${status}`;
        retryAfter = Number(response.headers.get("retry-after")) || null;
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
      }
      if (status !== 0 && !RETRYABLE.has(status)) {
        throw new ImportError(`the API refused the import (HTTP ${status}): ${failure}`);
      }
      if (attempt >= maxAttempts) {
        throw new ImportError(
          `lines ${batch[0].line}-${batch.at(-1)!.line} failed ${attempt} times: ${failure}`,
        );
      }
      await sleep(retryAfter !== null ? retryAfter * 1000 : Math.min(500 * 2 ** attempt, 10_000));
    }
    options.onProgress?.(Math.min(start + batchSize, rows.length), rows.length);
  }
  return results;
}
