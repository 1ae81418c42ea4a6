export { FileSessionStore, type FileSessionStoreOptions } from "./file-session-store.js";
export { writeFileDurably } from "../common/index.js";
export { writeInCallingThread } from "./write-thread.js";
export { MemorySessionStore } from "./memory-session-store.js";
export {
  assertRunId,
  isValidRunId,
  modelHeaderBytes,
  modelIdentity,
  modelIdentitySchema,
  newRunId,
  previewLength,
  sessionSchema,
  sessionStatuses,
  sessionSummarySchema,
  sessionToText,
  summarize,
  type ModelIdentity,
  type SessionRecord,
  type SessionStatus,
  type SessionSummary,
  type SessionTextOptions,
} from "./session.js";
export { neverSaved, ranName } from "./session-name.js";
export { FileStageCache, installedVersion, stageSignature, type StageCacheRuntime } from "./stage-cache.js";
export { processOwner, type SessionOwner } from "./session-owner.js";
export { describeMetrics, sessionFiles, sessionToMarkdown, sessionZip, type ExportFile, type MarkdownLabels, type MarkdownMessage } from "./session-export.js";
export {
  damageProblems,
  sessionNotFound,
  type DamagedSession,
  type DamageProblem,
  type ListOptions,
  type RebuildOptions,
  type RebuildReport,
  type SessionPage,
  type SessionStore,
  type SessionTreeNode,
} from "./session-store.js";
