export { FileSessionStore, writeFileDurably } from "./file-session-store.js";
export {
  assertRunId,
  isValidRunId,
  modelIdentity,
  modelIdentitySchema,
  newRunId,
  sessionSchema,
  sessionStatuses,
  sessionToText,
  summarize,
  type ModelIdentity,
  type SessionRecord,
  type SessionStatus,
  type SessionSummary,
} from "./session.js";
export { MemorySessionStore, type ListOptions, type SessionPage, type SessionStore, type SessionTreeNode } from "./session-store.js";
