export { ProjectLlmError, errorCodes, errorMessage, isAbortError, type ErrorCode } from "./errors.js";
export { mergeSignals, throwIfAborted } from "./signals.js";
