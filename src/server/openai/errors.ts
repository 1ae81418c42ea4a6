/**
 * Errors in the OpenAI API's shape, `{"error": {"message", "type", "param", "code"}}`, which OpenAI clients
 * read into their error classes. The studio's own errors keep their status and headers (`Retry-After`)
 * from the one mapping in `../http.ts`; only the body's shape changes.
 */
import { jsonError } from "../http.js";

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** OpenAI's error types by status. */
function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** A request the OpenAI surface refuses itself (a field of a wrong type, a model it does not have). */
export class OpenAiError extends Error {
  readonly status: number;
  readonly param: string | null;
  readonly code: string | null;

  constructor(status: number, message: string, options: { param?: string | null; code?: string | null } = {}) {
    super(message);
    this.name = "OpenAiError";
    this.status = status;
    this.param = options.param ?? null;
    this.code = options.code ?? null;
  }
}

export function openAiErrorBody(status: number, message: string, code: string | null, param: string | null = null): OpenAiErrorBody {
  return { error: { message, type: errorType(status), param, code } };
}

/** The studio's error response (`{"error": {"code", "message"}}`) in the OpenAI shape, with its status and headers. */
export async function toOpenAiResponse(response: Response): Promise<Response> {
  const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return Response.json(openAiErrorBody(response.status, body?.error?.message ?? response.statusText, body?.error?.code ?? null), { status: response.status, headers });
}

/** Any error as an OpenAI error response: an `OpenAiError` as it says, anything else as the studio maps it. */
export async function openAiErrorResponse(error: unknown): Promise<Response> {
  if (error instanceof OpenAiError) return Response.json(openAiErrorBody(error.status, error.message, error.code, error.param), { status: error.status });
  return toOpenAiResponse(jsonError(error));
}
