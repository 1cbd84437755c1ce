// Sends candidates to the register endpoint in batches of its maximum, each with an
// Idempotency-Key derived from the batch's content, retrying a batch that failed for a passing
// reason with the same key, so a retry (or the same batch sent again by a later run) can never
// register or email twice. A permanent refusal stops the import at once; what was done until then
// is returned with the failure, so the caller can write it and resume later.
import { createHash } from "node:crypto";
import type { RegistrationApi } from "../typescript/client.ts";
import type { CandidateRow } from "./csv.ts";

export interface ImportOptions {
  api: RegistrationApi;
  interviewId: string;
  merchantId?: string;
  sendEmail: boolean;
  /** Mixed into every batch's key: empty replays earlier answers, random sends again. */
  keySalt?: string;
  batchSize?: number;
  maxAttempts?: number;
  /** After each batch: rows done, rows in all, milliseconds since the start. */
  onProgress?: (done: number, total: number, elapsedMs: number) => void;
  /** Before each retry, with the reason. */
  onRetry?: (lines: string, reason: string, waitMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

export interface ImportedRow {
  row: CandidateRow;
  result: string;
  interview_url: string;
  profile_interview_id: string;
  email_status: string;
  email_error: string;
}

/** Why an import stopped: the API's answer, kept whole so the caller can word it. */
export class ImportError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly field?: string,
    readonly code?: string,
    /** First line of the batch that failed. */
    readonly line?: number,
  ) {
    super(message);
  }
}

export interface ImportOutcome {
  results: ImportedRow[];
  /** Set when the import stopped before the end; `results` then holds the batches done. */
  failure?: ImportError;
}

/** Answers worth retrying: the service is busy or briefly failing; 409 only while in use. */
function retryable(status: number, code: string | undefined): boolean {
  if (status === 0) return true; // the network
  if (status === 409) return code === "idempotency_key_in_use";
  return [429, 500, 502, 503, 504].includes(status);
}

export function batchKey(body: unknown, salt = ""): string {
  return "import-" +
    createHash("sha256").update(JSON.stringify(body)).update(salt).digest("hex").slice(0, 40);
}

export async function importCandidates(
  rows: CandidateRow[],
  options: ImportOptions,
): Promise<ImportOutcome> {
  const batchSize = options.batchSize ?? 1000;
  const maxAttempts = options.maxAttempts ?? 6;
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const started = performance.now();
  const results: ImportedRow[] = [];
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize);
    const lines = `lines ${batch[0].line}-${batch.at(-1)!.line}`;
    const body = {
      users: batch.map((row) => row.candidate),
      interview_id: options.interviewId,
      merchant_id: options.merchantId ?? null,
      send_email: options.sendEmail,
    };
    const key = batchKey(body, options.keySalt);
    for (let attempt = 1;; attempt++) {
      let status = 0;
      let retryAfter: number | null = null;
      let failure = "";
      let field: string | undefined;
      let code: string | undefined;
      try {
        const { data, error, response } = await options.api.POST("/job-interview-register-users", {
          params: { header: { "Idempotency-Key": key } },
          body,
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
              email_error: answer.email_error ?? "",
            })
          );
          break;
        }
        failure = error?.error ?? `HTTP ${status}`;
        field = error?.name;
        code = error?.code;
        retryAfter = Number(response.headers.get("retry-after")) || null;
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
      }
      if (!retryable(status, code) || attempt >= maxAttempts) {
        const tries = attempt > 1 ? ` after ${attempt} tries` : "";
        return {
          results,
          failure: new ImportError(
            `${lines} failed${tries}: ${failure}`,
            status,
            field,
            code,
            batch[0].line,
          ),
        };
      }
      const wait = retryAfter !== null ? retryAfter * 1000 : Math.min(500 * 2 ** attempt, 10_000);
      options.onRetry?.(lines, status ? `HTTP ${status}: ${failure}` : failure, wait);
      await sleep(wait);
    }
    options.onProgress?.(
      Math.min(start + batchSize, rows.length),
      rows.length,
      performance.now() - started,
    );
  }
  return { results };
}
