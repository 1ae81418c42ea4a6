/**
 * A session: the complete, durable record of one run, and the helpers around it (run ids, model
 * identity, plain-text export).
 */
import { createHash } from "node:crypto";
import { isValidRunId } from "./run-id.js";
import { open } from "node:fs/promises";
import nodePath from "node:path";
import { z } from "zod";
import { ProjectLlmError, fileMemo } from "../common/index.js";
import { messageParamsSchema, runEventSchema, stageRecordSchema } from "../engine/index.js";
import { pipelineHistories, turnsTranscript } from "../runtime/conversation.js";
import { describeMetrics } from "./session-export.js";
import { sessionOwnerSchema } from "./session-owner.js";

export const sessionStatuses = ["running", "completed", "failed", "cancelled", "interrupted"] as const;
export type SessionStatus = (typeof sessionStatuses)[number];

/** How many bytes of a model file `headerSha256` covers: the GGUF header and its metadata. */
export const modelHeaderBytes = 1024 * 1024;

export const modelIdentitySchema = z
  .object({
    /** The file name as written in models.yaml ("" for a remote model). */
    file: z.string(),
    /** The absolute path the run loaded ("" for a remote model). */
    path: z.string(),
    /** Set for a model served by an OpenAI-compatible server: it has no file, so no size, time or hash. */
    remote: z.object({ baseUrl: z.string(), model: z.string() }).optional(),
    size: z.number().optional(),
    mtimeMs: z.number().optional(),
    /**
     * sha256 (hex) of the file's first `min(size, 1 MiB)` bytes. That span holds the GGUF magic, version,
     * tensor count and the metadata (architecture, tokenizer, quantization), so a different model almost
     * always hashes differently, while hashing a multi-GiB file whole would cost seconds per run. It does
     * not prove the weights are bit-identical: together with `size` it identifies the model, not its bytes.
     */
    headerSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    /** How the model was loaded (GPU layers, context size, ...), as resolved for this run. */
    load: z.record(z.string(), z.unknown()).optional(),
    /** The generation parameters the model's config gave it. */
    params: z.record(z.string(), z.unknown()).optional(),
  })
  // A local model's file is identified by all three; only a remote model goes without them.
  .refine((identity) => identity.remote !== undefined || (identity.size !== undefined && identity.mtimeMs !== undefined && identity.headerSha256 !== undefined), {
    message: "a local model's identity has its size, mtimeMs and headerSha256",
  });
export type ModelIdentity = z.infer<typeof modelIdentitySchema>;

const isoTime = z.iso.datetime({ offset: true });

/** See `SessionRecord.api`. */
const apiCallSchema = z.object({ model: z.string().max(512) });

export const sessionSchema = z.object({
  version: z.literal(1),
  id: z.string().refine((id) => isValidRunId(id), { message: "not a run id (like 20261124-120102-3fa9c1)" }),
  /** The session this one was rerun from (a branch of it). */
  parentRunId: z.string().optional(),
  /** The stage the rerun started from: the stages before it were reused from the parent. */
  rerunFromStage: z.string().optional(),
  /** A rerun whose input differs from its parent's (the stages that read it were computed again). */
  inputEdited: z.boolean().optional(),
  pipelineName: z.string(),
  /**
   * The pipeline was sent with the run (the editor's canvas, unsaved), not read from a file:
   * `pipelineName` is then the pipeline it was edited from, or "unsaved".
   */
  inlinePipeline: z.boolean().optional(),
  /**
   * The run was a call of the OpenAI-compatible API (`POST /v1/chat/completions`), for `model` as the
   * client named it: a model's name (run as a one-stage pipeline, `inlinePipeline` and "unsaved") or
   * `pipeline/NAME`.
   */
  api: apiCallSchema.optional(),
  input: z.string(),
  /** Who ran it: a user of the studio's access control, or "local" (absent in sessions of earlier versions). */
  user: z.string().optional(),
  status: z.enum(sessionStatuses),
  /** The process that runs it, while it is `running` (absent in sessions of earlier versions). */
  owner: sessionOwnerSchema.optional(),
  startedAt: isoTime,
  /**
   * While it runs: when this record was last written (the stages that ended and the text streamed so far).
   * A run its process never ended (a server killed mid-run) is known to have gone on until then.
   */
  checkpointAt: isoTime.optional(),
  endedAt: isoTime.optional(),
  durationMs: z.number().optional(),
  /** The pipeline as it ran (a snapshot: later edits of its file do not change it). */
  pipeline: z.unknown(),
  /** models.yaml as it was when the run started. */
  modelsConfig: z.unknown(),
  models: z.record(z.string(), modelIdentitySchema),
  stages: z.record(z.string(), stageRecordSchema),
  finalAnswer: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string(), stageId: z.string().optional(), params: messageParamsSchema.optional() }).optional(),
  /** Every event of the run, so a client can replay it. */
  events: z.array(runEventSchema).optional(),
});
export type SessionRecord = z.infer<typeof sessionSchema>;

/** How many characters of the input and of the final answer a summary keeps (and search looks at). */
export const previewLength = 200;

/** What the index keeps of a session: enough to list, search and filter without opening its file. */
export const sessionSummarySchema = z.object({
  id: z.string().refine((id) => isValidRunId(id)),
  parentRunId: z.string().optional(),
  rerunFromStage: z.string().optional(),
  /** See `SessionRecord.inputEdited`. */
  inputEdited: z.boolean().optional(),
  pipelineName: z.string(),
  /** See `SessionRecord.inlinePipeline`. */
  inlinePipeline: z.boolean().optional(),
  /** See `SessionRecord.api`. */
  api: apiCallSchema.optional(),
  /** See `SessionRecord.user`. */
  user: z.string().optional(),
  status: z.enum(sessionStatuses),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  /** The first 200 characters of the input. */
  inputPreview: z.string(),
  /** The first 200 characters of the final answer. */
  finalPreview: z.string().optional(),
});
export type SessionSummary = z.infer<typeof sessionSummarySchema>;

/** The summary of a session, as the index keeps it (absent fields are left out, not `undefined`). */
export function summarize(session: SessionRecord): SessionSummary {
  const summary: SessionSummary = {
    id: session.id,
    pipelineName: session.pipelineName,
    status: session.status,
    startedAt: session.startedAt,
    inputPreview: session.input.slice(0, previewLength),
  };
  if (session.inlinePipeline) summary.inlinePipeline = true;
  if (session.api !== undefined) summary.api = { model: session.api.model };
  if (session.user !== undefined) summary.user = session.user;
  if (session.parentRunId !== undefined) summary.parentRunId = session.parentRunId;
  if (session.rerunFromStage !== undefined) summary.rerunFromStage = session.rerunFromStage;
  if (session.inputEdited) summary.inputEdited = true;
  if (session.endedAt !== undefined) summary.endedAt = session.endedAt;
  if (session.durationMs !== undefined) summary.durationMs = session.durationMs;
  if (session.finalAnswer !== undefined) summary.finalPreview = session.finalAnswer.slice(0, previewLength);
  return summary;
}

export { isValidRunId, newRunId } from "./run-id.js";

/** Returns `id` when it is a run id; otherwise throws `invalid-id` (before the id is used to build a path). */
export function assertRunId(id: unknown): string {
  if (!isValidRunId(id)) {
    const shown = typeof id === "string" ? `"${id.slice(0, 80)}"` : String(id);
    throw new ProjectLlmError("invalid-id", `${shown} is not a session id (they look like 20261124-120102-3fa9c1)`);
  }
  return id;
}

/**
 * The identity of a model file, to record which model a run used: its size, modification time and the
 * sha256 of its first `min(size, 1 MiB)` bytes (see `modelIdentitySchema.headerSha256`).
 */
export const modelIdentity = fileMemo(async (path: string): Promise<Pick<ModelIdentity, "path" | "size" | "mtimeMs" | "headerSha256">> => {
  const handle = await open(path, "r");
  try {
    const info = await handle.stat();
    const buffer = Buffer.alloc(Math.min(info.size, modelHeaderBytes));
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const headerSha256 = createHash("sha256").update(buffer.subarray(0, filled)).digest("hex");
    return { path: nodePath.resolve(path), size: info.size, mtimeMs: info.mtimeMs, headerSha256 };
  } finally {
    await handle.close();
  }
});

export interface SessionTextOptions {
  /** `full` (default): header, input, each stage's output and figures, final answer. `answer`: the final answer alone. */
  detail?: "full" | "answer";
}

/** A session as plain text, for export: the final answer alone, or the whole run (`detail: "full"`). */
export function sessionToText(session: SessionRecord, options: SessionTextOptions = {}): string {
  if (options.detail === "answer") return session.finalAnswer ?? "";
  const lines = [
    `session ${session.id}  ${session.status}  pipeline ${session.pipelineName}  ${session.startedAt}`,
    ...(session.parentRunId ? [`branch of ${session.parentRunId}, rerun from stage ${session.rerunFromStage ?? "?"}`] : []),
    ...(session.api ? [`a call of the OpenAI-compatible API, for ${session.api.model}`] : []),
  ];
  // A conversation's earlier turns, before its input.
  for (const { stageId, turns } of pipelineHistories(session.pipeline)) {
    lines.push("", `## conversation before stage ${stageId}`, turnsTranscript(turns));
  }
  lines.push("", "## input", session.input);
  for (const record of Object.values(session.stages)) {
    lines.push("", `## stage ${record.stageId} (${record.status}${record.reused ? ", reused" : ""}${record.cached ? ", cached" : ""})`);
    if (record.models.length > 1) {
      for (const output of record.models) lines.push(`### ${output.model}`, output.answer);
      if (record.aggregation) lines.push(`### ${record.aggregation.method}`);
    }
    if (record.aggregation?.method === "vote") {
      lines.push(record.aggregation.tallies.map((tally) => `${tally.votes} vote(s) "${tally.answer}" (${tally.models.join(", ")})`).join("\n"));
    }
    if (record.output !== undefined) lines.push(record.output);
    if (record.error) lines.push(`error: ${record.error.message}`);
    if (record.metrics) lines.push(`(${describeMetrics(record.metrics)})`);
  }
  if (session.error) lines.push("", `## error`, `${session.error.code}: ${session.error.message}`);
  lines.push("", "## final answer", session.finalAnswer ?? `(none: the run ${session.status})`);
  return lines.join("\n");
}
