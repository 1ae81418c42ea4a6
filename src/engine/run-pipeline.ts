/**
 * The scheduler: runs a pipeline's stages as a DAG. Each stage starts as soon as all of its inputs are
 * done, so independent stages run at once (the runtime queues what it cannot run in parallel).
 */
import { ProjectLlmError, errorMessage, isAbortError, mergeSignals } from "../common/index.js";
import type { GenerationParams, Pipeline, Stage } from "../config/schema.js";
import { aggregateWithoutModel } from "./aggregate.js";
import type { AggregationResult, ModelOutput, RunEvent, RunEventBody, StageMetrics, StageRecord } from "./events.js";
import { inputIds, sinkIds, stageModels, topologicalOrder } from "./graph.js";
import type { InferencePort, ResolvedGenerationParams, ResolvedModel } from "./ports.js";
import { answerValues, defaultSynthesisPrompt, mergeInputs, renderTemplate } from "./templates.js";

export interface RunPipelineOptions {
  runId: string;
  pipeline: Pipeline;
  pipelineName: string;
  input: string;
  port: InferencePort;
  resolveModel: (name: string) => ResolvedModel;
  /** Generation parameters of `modelName` with the stage's own on top. */
  resolveParams: (modelName: string, stageParams: GenerationParams) => ResolvedGenerationParams;
  onEvent: (event: RunEvent) => void;
  signal?: AbortSignal;
  /** Stored records of stages not to recompute (a rerun from a later stage). */
  reuse?: Record<string, StageRecord>;
  parentRunId?: string;
  now?: () => number;
}

export type RunStatus = "completed" | "failed" | "cancelled";

export interface RunResult {
  runId: string;
  status: RunStatus;
  finalAnswer?: string;
  stages: Record<string, StageRecord>;
  startedAt: number;
  endedAt: number;
  error?: { code: string; message: string; stageId?: string };
}

/**
 * What a stage passes on. `answer_only`: its answer. `input_plus_answer`: its input, a blank line, then
 * its answer.
 */
export function stageOutput(stage: Pick<Stage, "output_mode">, input: string, answer: string): string {
  return stage.output_mode === "input_plus_answer" ? `${input}\n\n${answer}` : answer;
}

/** Runs a pipeline to its end. It resolves, never rejects, on failure or cancellation. */
export async function runPipeline(options: RunPipelineOptions): Promise<RunResult> {
  const { pipeline, runId, port } = options;
  const now = options.now ?? Date.now;
  const reuse = options.reuse ?? {};
  let seq = 0;
  const emit = (body: RunEventBody) => options.onEvent({ ...body, runId, seq: seq++, at: now() } as RunEvent);
  const run = mergeSignals(options.signal);
  const startedAt = now();
  const records: Record<string, StageRecord> = {};
  let firstFailure: { code: string; message: string; stageId: string } | undefined;

  const byId = new Map(pipeline.stages.map((stage) => [stage.id, stage]));
  const order = topologicalOrder(pipeline);
  emit({
    type: "run-start",
    pipeline: options.pipelineName,
    input: options.input,
    stages: pipeline.stages.map((stage) => ({
      id: stage.id,
      name: stage.name,
      type: stage.type,
      models: stageModels(stage),
      inputFrom: inputIds(stage),
      aggregation: stage.type === "multi" ? stage.aggregation.method : undefined,
    })),
    parentRunId: options.parentRunId,
    reusedStageIds: order.filter((id) => id in reuse),
  });

  const finish = (record: StageRecord): StageRecord => {
    records[record.stageId] = record;
    return record;
  };

  const fail = (stageId: string, error: unknown, startedAtStage: number, input?: string, models: ModelOutput[] = []): StageRecord => {
    const cancelled = run.signal.aborted || isAbortError(error);
    const code = cancelled ? "cancelled" : ProjectLlmError.isInstance(error) ? error.code : "generation-failed";
    const message = cancelled ? "cancelled" : errorMessage(error);
    const model = ProjectLlmError.isInstance(error) && typeof error.details?.model === "string" ? error.details.model : undefined;
    emit({ type: "stage-error", stageId, code, message, model });
    if (!cancelled) firstFailure ??= { code, message: `stage ${stageId} failed: ${message}`, stageId };
    return finish({ stageId, status: cancelled ? "cancelled" : "failed", reused: false, input, models, error: { code, message }, startedAt: startedAtStage, endedAt: now() });
  };

  const callModel = async (
    stage: Stage,
    modelName: string,
    prompt: string,
    stageParams: GenerationParams,
    part: "model" | "aggregation",
    signal: AbortSignal,
  ): Promise<ModelOutput> => {
    const model = options.resolveModel(modelName);
    const params = options.resolveParams(modelName, stageParams);
    try {
      const result = await port.generate(
        { model, prompt, system: stage.system, params },
        {
          signal,
          onText: (text) => emit({ type: "stage-delta", stageId: stage.id, model: modelName, part, text }),
          onLoadProgress: (progress) => emit({ type: "stage-load", stageId: stage.id, model: modelName, progress, done: false }),
        },
      );
      if (result.load.loaded) emit({ type: "stage-load", stageId: stage.id, model: modelName, progress: 1, done: true });
      return {
        model: modelName,
        prompt,
        answer: result.text,
        params,
        metrics: {
          tokensIn: result.tokensIn,
          tokensOut: result.tokensOut,
          timeToFirstTokenMs: result.timeToFirstTokenMs,
          tokensPerSecond: result.tokensPerSecond,
          durationMs: result.durationMs,
        },
        stopReason: result.stopReason,
        chat: result.chat,
        load: result.load,
      };
    } catch (error) {
      if (ProjectLlmError.isInstance(error) && error.details?.model === undefined) {
        throw new ProjectLlmError(error.code, `${modelName}: ${error.message}`, { cause: error, details: { ...error.details, model: modelName } });
      }
      throw error;
    }
  };

  const runStage = async (stage: Stage, upstream: Array<Promise<StageRecord>>): Promise<StageRecord> => {
    const inputs = await Promise.all(upstream);
    const stageStart = now();
    const broken = inputs.find((record) => record.status !== "completed");
    if (broken || run.signal.aborted) {
      if (run.signal.aborted || broken?.status === "cancelled") return fail(stage.id, new ProjectLlmError("cancelled", "cancelled"), stageStart);
      const cause = broken!.error?.code === "upstream-failed" && broken!.error.causeStageId ? broken!.error.causeStageId : broken!.stageId;
      const message = `not run: stage ${broken!.stageId} failed${cause !== broken!.stageId ? ` (because ${cause} failed)` : ""}`;
      emit({ type: "stage-error", stageId: stage.id, code: "upstream-failed", message, causeStageId: cause });
      return finish({ stageId: stage.id, status: "skipped", reused: false, models: [], error: { code: "upstream-failed", message, causeStageId: cause } });
    }

    const input = inputs.length === 0 ? options.input : mergeInputs(inputs.map((record) => ({ stageId: record.stageId, output: record.output ?? "" })));
    const stored = reuse[stage.id];
    if (stored) {
      emit({ type: "stage-start", stageId: stage.id, input: stored.input ?? input, reused: true });
      const record: StageRecord = { ...stored, reused: true };
      emit({
        type: "stage-end",
        stageId: stage.id,
        reused: true,
        output: record.output ?? "",
        answer: record.answer ?? record.output ?? "",
        metrics: record.metrics ?? { tokensIn: 0, tokensOut: 0, timeToFirstTokenMs: 0, tokensPerSecond: 0, durationMs: 0 },
        models: record.models,
        aggregation: record.aggregation,
      });
      return finish(record);
    }

    emit({ type: "stage-start", stageId: stage.id, input, reused: false });
    const values: Record<string, string> = { input };
    for (const record of inputs) values[`stage.${record.stageId}`] = record.output ?? "";
    const models: ModelOutput[] = [];
    const stageSignal = mergeSignals(run.signal);
    try {
      const prompt = stage.prompt === undefined ? input : renderTemplate(stage.prompt, values, `stage ${stage.id} prompt`);
      let answer: string;
      let aggregation: AggregationResult | undefined;
      if (stage.type === "single") {
        models.push(await callModel(stage, stage.model, prompt, stage.params, "model", stageSignal.signal));
        answer = models[0]!.answer;
      } else {
        // The first failing model aborts its siblings; their aborts are not reported as failures.
        const stageAbort = new AbortController();
        const siblings = mergeSignals(stageSignal.signal, stageAbort.signal);
        let firstError: unknown;
        const settled = await Promise.allSettled(
          stage.models.map((modelName) =>
            callModel(stage, modelName, prompt, stage.params, "model", siblings.signal).catch((error: unknown) => {
              if (firstError === undefined) {
                firstError = error;
                stageAbort.abort(error);
              }
              throw error;
            }),
          ),
        );
        siblings.dispose();
        for (const result of settled) if (result.status === "fulfilled") models.push(result.value);
        if (firstError !== undefined) throw firstError;
        const answers = models.map(({ model, answer: text }) => ({ model, answer: text }));
        if (stage.aggregation.method === "synthesis") {
          const template = stage.aggregation.prompt ?? defaultSynthesisPrompt;
          const synthesisPrompt = renderTemplate(template, answerValues(input, answers), `stage ${stage.id} synthesis prompt`);
          const output = await callModel(stage, stage.aggregation.model, synthesisPrompt, { ...stage.params, ...stage.aggregation.params }, "aggregation", stageSignal.signal);
          answer = output.answer;
          aggregation = { method: "synthesis", output };
        } else {
          const aggregated = aggregateWithoutModel(stage.aggregation, input, answers, `stage ${stage.id}`);
          answer = aggregated.answer;
          aggregation = aggregated.result;
        }
      }
      const all = aggregation?.method === "synthesis" ? [...models, aggregation.output] : models;
      const metrics = stageMetrics(all, now() - stageStart);
      const output = stageOutput(stage, input, answer);
      emit({ type: "stage-end", stageId: stage.id, reused: false, output, answer, metrics, models, aggregation });
      return finish({ stageId: stage.id, status: "completed", reused: false, input, output, answer, metrics, models, aggregation, startedAt: stageStart, endedAt: now() });
    } catch (error) {
      return fail(stage.id, error, stageStart, input, models);
    } finally {
      stageSignal.dispose();
    }
  };

  const promises = new Map<string, Promise<StageRecord>>();
  for (const id of order) {
    const stage = byId.get(id)!;
    promises.set(id, runStage(stage, inputIds(stage).map((upstream) => promises.get(upstream)!)));
  }
  await Promise.all(promises.values());
  run.dispose();

  const cancelled = options.signal?.aborted === true || Object.values(records).some((record) => record.status === "cancelled");
  const status: RunStatus = firstFailure ? "failed" : cancelled ? "cancelled" : "completed";
  const finalAnswer =
    status === "completed" ? mergeInputs(sinkIds(pipeline).map((stageId) => ({ stageId, output: records[stageId]?.output ?? "" }))) : undefined;
  const endedAt = now();
  const error = firstFailure ?? (status === "cancelled" ? { code: "cancelled", message: "the run was cancelled" } : undefined);
  emit({ type: "run-end", status, finalAnswer, durationMs: endedAt - startedAt, error });
  return { runId, status, finalAnswer, stages: records, startedAt, endedAt, error };
}

/**
 * A stage's figures from its model calls: tokens summed; time to first token the earliest; tokens/s the
 * tokens out over the stage's wall time when several models ran, else the model's own rate.
 */
function stageMetrics(outputs: readonly ModelOutput[], wallMs: number): StageMetrics {
  if (outputs.length === 1) return { ...outputs[0]!.metrics, durationMs: wallMs };
  const tokensOut = outputs.reduce((sum, output) => sum + output.metrics.tokensOut, 0);
  return {
    tokensIn: outputs.reduce((sum, output) => sum + output.metrics.tokensIn, 0),
    tokensOut,
    timeToFirstTokenMs: Math.min(...outputs.map((output) => output.metrics.timeToFirstTokenMs)),
    tokensPerSecond: wallMs > 0 ? tokensOut / (wallMs / 1000) : 0,
    durationMs: wallMs,
  };
}
