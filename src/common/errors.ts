/**
 * The one error class of project_llm. Every error the program means to show a user carries a code from
 * a closed list, a message that names the values involved and says what to do, and optional details.
 */
export const errorCodes = [
  // configs
  "config-not-found",
  "config-parse",
  "config-schema",
  "config-invalid",
  "config-too-large",
  "pipeline-not-found",
  "model-missing",
  "model-outside-directory",
  "model-not-gguf",
  // runtime
  "worker-crashed",
  "model-load-failed",
  "out-of-memory",
  "context-overflow",
  "generation-failed",
  /**
   * An OpenAI-compatible server (a `backend: openai` model) answered with an error or could not be reached:
   * `reason` (unauthorized, not-found, rate-limited, server-error, bad-request, unreachable, connect-timeout,
   * timeout, stream-cut, not-json, no-key), `status` when it answered, `host` and `model`.
   */
  "remote-failed",
  /** The plan before a run: its models do not fit in free memory; `details.plan` says why and what to change. */
  "plan-does-not-fit",
  // engine
  "cancelled",
  "upstream-failed",
  "aggregation-failed",
  // store and usage
  "session-not-found",
  /** A session file that cannot be read as a session (torn, edited, misnamed). */
  "session-damaged",
  "invalid-id",
  "conflict",
  "usage",
  /** The server cannot take the request now (it is stopping, or its run queue is full). */
  "unavailable",
  /** One client or user has as many runs (or event streams) as it may have at once; try again later. */
  "busy",
  /** A request body over the size the server reads for that request. */
  "body-too-large",
  // model downloads
  /** The server has no file at that address (404 or 410). */
  "download-not-found",
  /** The server refused the file (401 or 403): a gated model or one that needs a token. */
  "download-forbidden",
  /** The transfer failed: the server answered an error, or the connection kept breaking and retries ran out. */
  "download-failed",
  /** Not enough free space in the models folder, checked before the download or hit while writing. */
  "disk-full",
  /** The models folder cannot be written: a read-only file system or mount, or no permission. */
  "folder-not-writable",
  /** A session could not be written (after retries): `reason` read-only, permission, disk-full, missing or error. */
  "storage-failed",
  // access control
  /** The request names no user (no login, a token revoked or mistyped). */
  "unauthenticated",
  /** The user's role may not do this, or the run is another user's. */
  "forbidden",
  "internal",
] as const;
export type ErrorCode = (typeof errorCodes)[number];

const marker = Symbol.for("project-llm.error");

export class ProjectLlmError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  readonly [marker] = true;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProjectLlmError";
    this.code = code;
    this.details = options?.details;
  }

  /** True for a ProjectLlmError, even one made by another copy of this module (Next.js bundles, workers). */
  static isInstance(value: unknown): value is ProjectLlmError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}

/** True when `error` is an abort (from an AbortSignal or our own `cancelled` code). */
export function isAbortError(error: unknown): boolean {
  if (ProjectLlmError.isInstance(error)) return error.code === "cancelled";
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

/** The values an error's message names, for the pages' languages (`details.params`). */
export type ErrorParams = Record<string, string | number>;

/** The values a thrown error's message names (its `details.params`), when it is one of ours and has them. */
export function errorParams(error: unknown): ErrorParams | undefined {
  return ProjectLlmError.isInstance(error) ? (error.details?.params as ErrorParams | undefined) : undefined;
}

/** A one-line message for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The abort reason of a run stopped because its process is stopping: its session is marked `interrupted`. */
export function interruption(message = "the server stopped before the run ended"): ProjectLlmError {
  return new ProjectLlmError("cancelled", message, { details: { interrupted: true } });
}

export function isInterruption(reason: unknown): boolean {
  return ProjectLlmError.isInstance(reason) && reason.details?.interrupted === true;
}
