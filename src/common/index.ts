export { ProjectLlmError, errorCodes, errorMessage, errorParams, interruption, isAbortError, isInterruption, type ErrorCode, type ErrorParams } from "./errors.js";
export { mergeSignals, throwIfAborted } from "./signals.js";
export { syncDirectory, tempFileFor, tempSuffix, writeFileDurably } from "./durable-write.js";
export { fileMemo, StatOnce } from "./file-memo.js";
