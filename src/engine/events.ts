/**
 * Run events: one zod-typed union shared by the engine, the CLI, the server and the browser.
 * Every event carries its run id and a sequence number (0, 1, 2, ... within the run), which is also its
 * id on a server-sent event stream.
 */
import { z } from "zod";

export const metricsSchema = z.object({
  tokensIn: z.number(),
  /** Of `tokensIn`, those evaluated; the rest came from the KV cache. */
  promptTokensEvaluated: z.number().optional(),
  tokensOut: z.number(),
  timeToFirstTokenMs: z.number(),
  tokensPerSecond: z.number(),
  durationMs: z.number(),
});
export type StageMetrics = z.infer<typeof metricsSchema>;

export const loadReportSchema = z.object({
  loaded: z.boolean(),
  loadMs: z.number(),
  gpuLayers: z.number(),
  threads: z.number(),
  fallback: z.string().optional(),
});

/** One model's answer inside a stage (a single stage has one). */
export const modelOutputSchema = z.object({
  model: z.string(),
  prompt: z.string(),
  answer: z.string(),
  params: z.record(z.string(), z.unknown()),
  metrics: metricsSchema,
  stopReason: z.string(),
  chat: z.boolean(),
  load: loadReportSchema.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type ModelOutput = z.infer<typeof modelOutputSchema>;

export const aggregationResultSchema = z.discriminatedUnion("method", [
  z.object({ method: z.literal("concat") }),
  z.object({
    method: z.literal("vote"),
    /** Normalised answer -> number of votes, in first-seen order. */
    tallies: z.array(z.object({ answer: z.string(), votes: z.number(), models: z.array(z.string()) })),
    winner: z.string(),
    tie: z.boolean(),
  }),
  z.object({ method: z.literal("synthesis"), output: modelOutputSchema }),
  z.object({ method: z.literal("template") }),
]);
export type AggregationResult = z.infer<typeof aggregationResultSchema>;

const base = { runId: z.string(), seq: z.number().int().min(0), at: z.number() };

/** The values an error's or a warning's message names, so that a page can say it in its own language. */
export const messageParamsSchema = z.record(z.string(), z.union([z.string(), z.number()]));

/**
 * A config warning carried by a run (the shape of a config issue): where it is, what it says, and, for
 * the pages' languages, its code and the values its message names.
 */
export const runWarningSchema = z.object({
  file: z.string(),
  line: z.number(),
  column: z.number(),
  path: z.string(),
  message: z.string(),
  expected: z.string().optional(),
  suggestion: z.string().optional(),
  stageId: z.string().optional(),
  code: z.string().optional(),
  params: messageParamsSchema.optional(),
});
export type RunWarning = z.infer<typeof runWarningSchema>;

export const stageSummarySchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  type: z.enum(["single", "multi"]),
  models: z.array(z.string()),
  inputFrom: z.array(z.string()),
  aggregation: z.string().optional(),
});

export const runEventSchema = z.discriminatedUnion("type", [
  /**
   * The run waits for a place in the server's run queue (see `runtime.runs_in_flight`): sent when it is
   * let in and whenever its place changes, before `run-start`.
   */
  z.object({ ...base, type: z.literal("run-queued"), ahead: z.number().int().min(0) }),
  z.object({
    ...base,
    type: z.literal("run-start"),
    pipeline: z.string(),
    input: z.string(),
    stages: z.array(stageSummarySchema),
    parentRunId: z.string().optional(),
    /** Stages whose stored output is reused (rerun from a later stage). */
    reusedStageIds: z.array(z.string()),
    /** Config warnings of the pipeline that ran (a prompt with `{input}` in single braces, ...). */
    warnings: z.array(runWarningSchema).optional(),
    /** The pipeline was sent with the run (the editor's unsaved canvas), not read from its file. */
    inlinePipeline: z.boolean().optional(),
  }),
  z.object({ ...base, type: z.literal("stage-start"), stageId: z.string(), input: z.string(), reused: z.boolean() }),
  z.object({
    ...base,
    type: z.literal("stage-load"),
    stageId: z.string(),
    model: z.string(),
    /** 0..1 while loading; 1 with `done` when the model is in memory. */
    progress: z.number(),
    done: z.boolean(),
  }),
  z.object({
    ...base,
    type: z.literal("stage-delta"),
    stageId: z.string(),
    /** The model that wrote this text (a multi stage runs several at once). */
    model: z.string(),
    /** `model`: one model's answer; `aggregation`: the synthesis model writing the stage's answer. */
    part: z.enum(["model", "aggregation"]),
    text: z.string(),
  }),
  z.object({
    ...base,
    type: z.literal("stage-end"),
    stageId: z.string(),
    reused: z.boolean(),
    /** Served from the stage cache: a stage computed before with the same signature; no model was called. */
    cached: z.boolean().optional(),
    /** What the stage passes on (per its output_mode). */
    output: z.string(),
    /** The stage's answer alone. */
    answer: z.string(),
    metrics: metricsSchema,
    models: z.array(modelOutputSchema),
    aggregation: aggregationResultSchema.optional(),
  }),
  z.object({
    ...base,
    type: z.literal("stage-error"),
    stageId: z.string(),
    /** An ErrorCode: `cancelled` marks a cancelled stage (not a failure). */
    code: z.string(),
    message: z.string(),
    model: z.string().optional(),
    /** For `upstream-failed`: the stage whose failure stopped this one. */
    causeStageId: z.string().optional(),
    /** The values `message` names (a model, token counts, a path...); see `ProjectLlmError`'s `details.params`. */
    params: messageParamsSchema.optional(),
  }),
  z.object({
    ...base,
    type: z.literal("run-end"),
    // `interrupted`: the server stopped mid-run (the engine itself ends a run as `cancelled`; the studio,
    // which knows why, records it as `interrupted`).
    status: z.enum(["completed", "failed", "cancelled", "interrupted"]),
    finalAnswer: z.string().optional(),
    durationMs: z.number(),
    error: z.object({ code: z.string(), message: z.string(), stageId: z.string().optional(), params: messageParamsSchema.optional() }).optional(),
  }),
]);
export type RunEvent = z.infer<typeof runEventSchema>;
export type RunEventType = RunEvent["type"];
/** An event before the engine stamps it with run id, sequence number and time. */
export type RunEventBody = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, "runId" | "seq" | "at"> : never) : never;

/** The stored result of one stage: its last `stage-end`, or its error. */
export const stageRecordSchema = z.object({
  stageId: z.string(),
  status: z.enum(["completed", "failed", "cancelled", "skipped"]),
  reused: z.boolean(),
  /** Served from the stage cache (see the `stage-end` event's `cached`). */
  cached: z.boolean().optional(),
  input: z.string().optional(),
  output: z.string().optional(),
  answer: z.string().optional(),
  metrics: metricsSchema.optional(),
  models: z.array(modelOutputSchema),
  aggregation: aggregationResultSchema.optional(),
  error: z.object({ code: z.string(), message: z.string(), causeStageId: z.string().optional(), params: messageParamsSchema.optional() }).optional(),
  startedAt: z.number().optional(),
  endedAt: z.number().optional(),
});
export type StageRecord = z.infer<typeof stageRecordSchema>;
