// The HTTP conventions every function shares: CORS, request ids, JSON responses and the one
// error shape `{"error": "...", "name": "<field>"}`.
import { locateJsonError } from "./json_error.ts";

export const corsHeaders: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers":
    "authorization, x-client-info, apikey, content-type, idempotency-key, x-request-id",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-expose-headers":
    "x-request-id, idempotent-replayed, ratelimit-limit, ratelimit-remaining, ratelimit-reset, retry-after",
  "access-control-max-age": "86400",
};

/** An error meant for the caller: its message, field and code are safe to show. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
    /** A stable machine-readable reason, where callers need to tell errors apart. */
    readonly code?: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function jsonResponse(
  body: unknown,
  status: number,
  headers: Record<string, string> = {},
): Response {
  return rawJsonResponse(JSON.stringify(body), status, headers);
}

/** A response from JSON text that is already serialised (a stored response, replayed). */
export function rawJsonResponse(
  text: string,
  status: number,
  headers: Record<string, string> = {},
): Response {
  return new Response(text, {
    status,
    headers: { ...corsHeaders, "content-type": "application/json; charset=utf-8", ...headers },
  });
}

export function errorResponse(err: HttpError, requestId: string): Response {
  const body: { error: string; name?: string; code?: string } = { error: err.message };
  if (err.field) body.name = err.field;
  if (err.code) body.code = err.code;
  return jsonResponse(body, err.status, { ...err.headers, "x-request-id": requestId });
}

/** The caller's request id when it is sane, else a fresh one. */
export function requestIdOf(req: Request): string {
  const given = req.headers.get("x-request-id");
  return given && /^[A-Za-z0-9._:-]{8,128}$/.test(given) ? given : crypto.randomUUID();
}

/**
 * The body's bytes, at most `maxBytes`: a larger one (declared or streamed) is `tooLarge()`,
 * thrown without buffering more than the limit.
 */
export async function readBodyBytes(
  req: Request,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const length = req.headers.get("content-length");
  const declared = Number(length ?? "0");
  if (declared > maxBytes) throw tooLarge();
  if (!req.body) return new Uint8Array(0);
  // A declared length is the body's length (HTTP framing): read it in one go.
  if (length !== null) return new Uint8Array(await req.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Reads a JSON body of at most `maxBytes`, without buffering more than that. */
export async function readJsonBody(
  req: Request,
  maxBytes: number,
  options: { emptyAs?: unknown } = {},
): Promise<unknown> {
  const empty = () => {
    if ("emptyAs" in options) return options.emptyAs;
    throw new HttpError(400, "Request body must be a JSON object");
  };
  if (!req.body) return empty();
  const bytes = await readBodyBytes(
    req,
    maxBytes,
    () => new HttpError(413, `Request body is larger than ${Math.floor(maxBytes / 1024)} KiB`),
  );
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "Request body is not valid UTF-8");
  }
  if (!text.trim()) return empty();
  try {
    return JSON.parse(text);
  } catch {
    const where = locateJsonError(text);
    throw new HttpError(
      400,
      where
        ? `Request body is not valid JSON: unexpected ${where.found} at line ${where.line}, ` +
          `column ${where.column}`
        : "Request body is not valid JSON",
    );
  }
}
