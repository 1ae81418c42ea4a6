/**
 * Request bodies read with a limit: the declared length is checked first, then the bytes are counted as
 * they come, and reading stops (the stream is cancelled) at the first byte past the limit. Nothing past
 * the limit is ever held in memory, whether the client declared a length, lied about it, or sent its
 * body in chunks without one.
 */
import { ProjectLlmError } from "../common/index.js";

const mebibyte = 1024 * 1024;

/** The most a request that starts runs may send (the input is at most a million characters). */
export const runBodyLimit = mebibyte;
/** The most a pipeline save (or a check of a pipeline being edited) may send. */
export const pipelineBodyLimit = 2 * mebibyte;

/** "1 MiB", "512 KiB": the limit as its message says it. */
export function formatLimit(bytes: number): string {
  return bytes % mebibyte === 0 ? `${bytes / mebibyte} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

export function bodyTooLarge(limit: number): ProjectLlmError {
  const shown = formatLimit(limit);
  return new ProjectLlmError("body-too-large", `the request body is larger than ${shown}, the most the server reads for this request`, { details: { params: { limit: shown } } });
}

/** The body's bytes, at most `limit` of them; `body-too-large` past it. */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    // Unread: the server drops the connection's rest (see `refusedBody`), it is never buffered.
    throw bodyTooLarge(limit);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw bodyTooLarge(limit);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** The body as text (UTF-8), at most `limit` bytes of it. */
export async function readText(request: Request, limit: number): Promise<string> {
  return new TextDecoder().decode(await readBody(request, limit));
}
