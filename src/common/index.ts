export { ProjectLlmError, errorCodes, errorMessage, interruption, isAbortError, isInterruption, type ErrorCode } from "./errors.js";
export { mergeSignals, throwIfAborted } from "./signals.js";
export { syncDirectory, tempSuffix, writeFileDurably } from "./durable-write.js";
export { fileMemo } from "./file-memo.js";
