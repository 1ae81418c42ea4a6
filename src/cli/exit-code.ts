/**
 * The CLI's exit codes: 0 success, 1 the work failed (a run, a download), 2 bad config or usage.
 */
import { ProjectLlmError, type ErrorCode } from "../common/index.js";

/** Codes that say the configs or the command line are wrong: exit 2. */
const configCodes = new Set<ErrorCode>(["config-not-found", "config-parse", "config-schema", "config-invalid", "config-too-large", "pipeline-not-found", "model-missing", "model-outside-directory", "model-not-gguf", "usage", "invalid-id", "session-not-found"]);

/** Errors met while doing the work itself: some carry a config code (a download that is not a GGUF) yet exit 1. */
const failuresOfWork = new WeakSet<object>();

/** Runs `work`; whatever it throws exits 1, whatever its code (a download's failure is never bad usage). */
export async function asFailureOfWork<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (typeof error === "object" && error !== null) failuresOfWork.add(error);
    throw error;
  }
}

/** The exit code of an error that ended a command. */
export function exitCodeOf(error: unknown): 1 | 2 {
  if (!ProjectLlmError.isInstance(error) || failuresOfWork.has(error)) return 1;
  return configCodes.has(error.code) ? 2 : 1;
}
