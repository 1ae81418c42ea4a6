/**
 * The CLI's exit codes: 0 success, 1 the work failed (a run, a download), 2 bad config or usage, 130 the
 * work was cancelled by Ctrl+C.
 */
import { ProjectLlmError, type ErrorCode } from "../common/index.js";
import type { SessionStatus } from "../store/index.js";

/**
 * The exit code of a command that Ctrl+C cancelled cleanly (what it did is kept: a run's session, a
 * download's bytes): 128 + SIGINT, as a shell reports a command that Ctrl+C ended.
 */
export const cancelledExitCode = 130;

/** The exit code of a run (or a rerun) that ended: a CLI run is cancelled by Ctrl+C only. */
export function exitCodeOfRun(status: SessionStatus): 0 | 1 | typeof cancelledExitCode {
  if (status === "completed") return 0;
  return status === "cancelled" ? cancelledExitCode : 1;
}

/** Codes that say the configs or the command line are wrong: exit 2. */
const configCodes = new Set<ErrorCode>(["config-not-found", "config-parse", "config-schema", "config-invalid", "config-too-large", "pipeline-not-found", "model-missing", "model-outside-directory", "model-not-gguf", "plan-does-not-fit", "usage", "invalid-id", "session-not-found"]);

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
