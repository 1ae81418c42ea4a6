/**
 * A session: the complete, durable record of one run.
 */
import { createHash, randomBytes } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { z } from "zod";
import { ProjectLlmError } from "../common/index.js";
import { runEventSchema, stageRecordSchema } from "../engine/index.js";

export const sessionStatuses = ["running", "completed", "failed", "cancelled", "interrupted"] as const;
export type SessionStatus = (typeof sessionStatuses)[number];

export const modelIdentitySchema = z.object({
  file: z.string(),
  path: z.string(),
  size: z.number(),
  mtimeMs: z.number(),
  /** sha256 of the file's first `min(size, 1 MiB)` bytes: the GGUF header and metadata, cheap to compute. */
  headerSha256: z.string(),
  load: z.record(z.string(), z.unknown()).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});
export type ModelIdentity = z.infer<typeof modelIdentitySchema>;

export const sessionSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  parentRunId: z.string().optional(),
  rerunFromStage: z.string().optional(),
  pipelineName: z.string(),
  input: z.string(),
  status: z.enum(sessionStatuses),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  /** The pipeline as it ran (a snapshot: later edits of the file do not change it). */
  pipeline: z.unknown(),
  /** models.yaml as it was when the run started. */
  modelsConfig: z.unknown(),
  models: z.record(z.string(), modelIdentitySchema),
  stages: z.record(z.string(), stageRecordSchema),
  finalAnswer: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string(), stageId: z.string().optional() }).optional(),
  /** Every event of the run, so a client can replay it. */
  events: z.array(runEventSchema).optional(),
});
export type SessionRecord = z.infer<typeof sessionSchema>;

/** What the index keeps of a session: enough to list, search and filter without opening its file. */
export interface SessionSummary {
  id: string;
  parentRunId?: string;
  rerunFromStage?: string;
  pipelineName: string;
  status: SessionStatus;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  inputPreview: string;
  finalPreview?: string;
}

const previewLength = 200;

export function summarize(session: SessionRecord): SessionSummary {
  return {
    id: session.id,
    parentRunId: session.parentRunId,
    rerunFromStage: session.rerunFromStage,
    pipelineName: session.pipelineName,
    status: session.status,
    startedAt: session.startedAt,
    endedAt: session.endedAt,
    durationMs: session.durationMs,
    inputPreview: session.input.slice(0, previewLength),
    finalPreview: session.finalAnswer?.slice(0, previewLength),
  };
}

const runIdPattern = /^\d{8}-\d{6}-[0-9a-f]{6}$/;

/** A time-sortable, unique run id: UTC date and time, then 6 random hex digits (`20261124-120102-3fa9c1`). */
export function newRunId(date = new Date()): string {
  const stamp = date.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

export function isValidRunId(id: string): boolean {
  return runIdPattern.test(id);
}

/** Refuses anything but a run id, before the id is ever used to build a path. */
export function assertRunId(id: string): string {
  if (!isValidRunId(id)) throw new ProjectLlmError("invalid-id", `"${id.slice(0, 80)}" is not a session id (they look like 20261124-120102-3fa9c1)`);
  return id;
}

const headerBytes = 1024 * 1024;

/** The identity of a model file: size, modification time and a hash of its header. */
export async function modelIdentity(path: string): Promise<Pick<ModelIdentity, "path" | "size" | "mtimeMs" | "headerSha256">> {
  const info = await stat(path);
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(Math.min(info.size, headerBytes));
    await handle.read(buffer, 0, buffer.length, 0);
    return { path, size: info.size, mtimeMs: info.mtimeMs, headerSha256: createHash("sha256").update(buffer).digest("hex") };
  } finally {
    await handle.close();
  }
}

/** The session as plain text: input, each stage's output, then the final answer. */
export function sessionToText(session: SessionRecord): string {
  const lines = [
    `session ${session.id}  ${session.status}  pipeline ${session.pipelineName}  ${session.startedAt}`,
    ...(session.parentRunId ? [`branch of ${session.parentRunId}, rerun from stage ${session.rerunFromStage}`] : []),
    "",
    "## input",
    session.input,
  ];
  for (const record of Object.values(session.stages)) {
    lines.push("", `## stage ${record.stageId} (${record.status}${record.reused ? ", reused" : ""})`);
    if (record.models.length > 1) {
      for (const output of record.models) lines.push(`### ${output.model}`, output.answer);
      if (record.aggregation) lines.push(`### ${record.aggregation.method}`);
    }
    if (record.aggregation?.method === "vote") {
      lines.push(record.aggregation.tallies.map((tally) => `${tally.votes} vote(s) "${tally.answer}" (${tally.models.join(", ")})`).join("\n"));
    }
    if (record.output !== undefined) lines.push(record.output);
    if (record.error) lines.push(`error: ${record.error.message}`);
    if (record.metrics) {
      const metrics = record.metrics;
      lines.push(`(${metrics.tokensIn} tokens in, ${metrics.tokensOut} out, ${metrics.tokensPerSecond.toFixed(0)} tok/s, first token ${metrics.timeToFirstTokenMs.toFixed(0)} ms, ${metrics.durationMs.toFixed(0)} ms)`);
    }
  }
  lines.push("", "## final answer", session.finalAnswer ?? `(none: the run ${session.status})`);
  return lines.join("\n");
}
