/**
 * The scheduler: runs a pipeline's stages as a DAG. Each stage starts as soon as all of its inputs are
 * done, so independent stages run at once (the runtime queues what it cannot run in parallel); a multi
 * stage calls every one of its models at once, then aggregates their answers.
 */
import { ProjectLlmError, errorMessage, errorParams, isAbortError, mergeSignals, type ErrorParams } from "../common/index.js";
import type { GenerationParams, Pipeline, Stage } from "../config/schema.js";
import { aggregateWithoutModel } from "./aggregate.js";
import type { AggregationResult, ModelOutput, RunEvent, RunEventBody, RunWarning, StageMetrics, StageRecord } from "./events.js";
import { findCycle, inputIds, maxPipelineStages, mayRunTogether, sinkIds, stageModels, topologicalOrder } from "./graph.js";
import type { InferencePort, ResolvedGenerationParams, ResolvedModel } from "./ports.js";
import { stageCacheKey, type StageCacheCall, type StageCacheKey, type StageCachePort } from "./stage-cache.js";
import { answerValues, checkStageTemplates, defaultSynthesisPrompt, mergeInputs, renderTemplate } from "./templates.js";

/** Multi stages called in this process: names each one's groups of calls (see `GenerateRequest.group`). */
let stageCalls = 0;

export interface RunPipelineOptions {
  runId: string;
  pipeline: Pipeline;
  /** The name shown for the pipeline in `run-start`. */
  pipelineName: string;
  /** The user's input: the input of every stage without `input_from`. */
  input: string;
  port: InferencePort;
  /** The model entry of `name`; may throw a ProjectLlmError (`model-missing`), which fails the stage. */
  resolveModel: (name: string) => ResolvedModel;
  /** Generation parameters of `modelName` with the stage's own on top. */
  resolveParams: (modelName: string, stageParams: GenerationParams) => ResolvedGenerationParams;
  /** Called synchronously with every event, in `seq` order. It must not throw. */
  onEvent: (event: RunEvent) => void;
  /**
   * Called synchronously with each stage's record once the stage has ended (completed, failed, cancelled
   * or not run), right after its `stage-end` or `stage-error`: what a run's session keeps while it runs.
   * It must not throw.
   */
  onStageRecord?: (record: StageRecord) => void;
  /** Aborting it cancels the run: calls in flight get the abort and unfinished stages end `cancelled`. */
  signal?: AbortSignal;
  /**
   * Stored records of stages not to recompute (a rerun from a later stage), by stage id. Only completed
   * records are reused; their stored output feeds the stages downstream and the port is never called.
   */
  reuse?: Record<string, StageRecord>;
  /**
   * The stage cache: a stage to compute whose sampling is deterministic is first looked up there (served
   * from it, `cached`, without calling a model, when found) and stored there once it completed. Absent:
   * every stage is computed.
   */
  cache?: StageCachePort;
  parentRunId?: string;
  /** Config warnings to carry in `run-start` (the run goes on: they are not errors). */
  warnings?: RunWarning[];
  /** The pipeline was sent with the run, not read from its file: said in `run-start`. */
  inlinePipeline?: boolean;
  /** The sequence number of the first event (default 0): events sent before the run began (`run-queued`) come first. */
  firstSeq?: number;
  /** Clock in ms (default `Date.now`); stamps `at` on events and the times in records. */
  now?: () => number;
}

export type RunStatus = "completed" | "failed" | "cancelled";

export interface RunResult {
  runId: string;
  status: RunStatus;
  /** The sink stage's output; with several sinks, their outputs merged as by `mergeInputs`. Set only when completed. */
  finalAnswer?: string;
  stages: Record<string, StageRecord>;
  startedAt: number;
  endedAt: number;
  /** The sequence number after the last event (`run-end` has `eventCount - 1`): with `firstSeq`, counting those before. */
  eventCount: number;
  /** Set when failed (naming the first failed stage) or cancelled; `params`: the values its message names. */
  error?: { code: string; message: string; stageId?: string; params?: ErrorParams };
}

/**
 * What a stage passes on, by its `output_mode`. `answer_only`: its answer. `input_plus_answer`: its input,
 * a blank line, then its answer (`${input}\n\n${answer}`).
 */
export function stageOutput(stage: Pick<Stage, "output_mode">, input: string, answer: string): string {
  return stage.output_mode === "input_plus_answer" ? `${input}\n\n${answer}` : answer;
}

/**
 * Why a pipeline cannot run at all, one line per problem: a duplicate stage id, an `input_from` naming
 * itself or no stage, a cycle, an unknown placeholder in a template; or, alone, more stages than
 * `maxPipelineStages`. Empty when it can run.
 */
export function pipelineProblems(pipeline: Pick<Pipeline, "stages">): string[] {
  if (pipeline.stages.length > maxPipelineStages) return [`the pipeline has ${pipeline.stages.length} stages; a pipeline may have at most ${maxPipelineStages}`];
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const stage of pipeline.stages) {
    if (ids.has(stage.id)) problems.push(`stage id "${stage.id}" is used twice`);
    ids.add(stage.id);
  }
  for (const stage of pipeline.stages) {
    for (const id of inputIds(stage)) {
      if (id === stage.id) problems.push(`stage ${stage.id} takes its input from itself`);
      else if (!ids.has(id)) problems.push(`stage ${stage.id} reads unknown stage "${id}"`);
    }
    problems.push(...checkStageTemplates(stage).map((issue) => issue.message));
  }
  const cycle = findCycle(pipeline.stages);
  if (cycle && cycle.length > 2) problems.push(`the stages form a cycle: ${cycle.join(" → ")}`);
  return problems;
}

const zeroMetrics: StageMetrics = { tokensIn: 0, tokensOut: 0, timeToFirstTokenMs: 0, tokensPerSecond: 0, durationMs: 0 };

/**
 * Runs a pipeline to its end and resolves with the result; it resolves, never rejects, when a stage
 * fails or the run is cancelled. It rejects (with `config-invalid`, before any event) only when the
 * pipeline cannot run at all (see `pipelineProblems`).
 *
 * Events: `run-start`; per stage `stage-start`, `stage-load` (while a call loads its model, then
 * `done: true`), `stage-delta` (part `model` per model, part `aggregation` for a synthesis) and
 * `stage-end`, or `stage-error`; then `run-end`. A failed stage's dependents end with `upstream-failed`
 * naming it (`causeStageId`); independent branches keep running.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<RunResult> {
  const { pipeline, runId, port } = options;
  const problems = pipelineProblems(pipeline);
  if (problems.length > 0) {
    throw new ProjectLlmError("config-invalid", `pipeline ${options.pipelineName} cannot run: ${problems.join("; ")}`, { details: { problems } });
  }
  const now = options.now ?? Date.now;
  const reuse = Object.fromEntries(Object.entries(options.reuse ?? {}).filter(([, record]) => record.status === "completed"));
  let seq = options.firstSeq ?? 0;
  const emit = (body: RunEventBody) => options.onEvent({ ...body, runId, seq: seq++, at: now() } as RunEvent);
  const run = mergeSignals(options.signal);
  const startedAt = now();
  const records: Record<string, StageRecord> = {};
  let firstFailure: { code: string; message: string; stageId: string; params?: ErrorParams } | undefined;
  const cache = options.cache;
  /** Stores into the cache under way: the run ends once they have, so that the next run finds them. */
  const storing: Array<Promise<void>> = [];

  const byId = new Map(pipeline.stages.map((stage) => [stage.id, stage]));
  const order = topologicalOrder(pipeline);
  /** A local model's loaded model (its file and load settings): the models of a multi stage with the same one are called together. */
  const loadKey = (model: ResolvedModel): string | undefined => (model.remote ? undefined : JSON.stringify([model.path, model.load]));
  const loadKeyOf = (modelName: string): string | undefined => {
    try {
      return loadKey(options.resolveModel(modelName));
    } catch {
      return undefined;
    }
  };
  /**
   * By loaded model, how many calls the stages still to compute may make on it at once (see
   * `GenerateRequest.runTogether`): a stage's own (a multi stage's models, or its synthesis, which comes
   * after them) with those of the stages that may run beside it (neither upstream nor downstream: two
   * branches that read one draft, say). An upper bound (stages beside one stage may not be beside each
   * other), above 1 exactly when two calls may overlap. A stage the stage cache will serve counts too (that
   * is known only when it is reached).
   */
  const runTogether = new Map<string, number>();
  const callsAtOnce = new Map<string, Map<string, number>>();
  for (const stage of pipeline.stages) {
    if (stage.id in reuse) continue;
    const counts = new Map<string, number>();
    for (const key of (stage.type === "multi" ? stage.models : [stage.model]).map(loadKeyOf)) if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
    const synthesis = stage.type === "multi" && stage.aggregation.method === "synthesis" ? loadKeyOf(stage.aggregation.model) : undefined;
    if (synthesis !== undefined && !counts.has(synthesis)) counts.set(synthesis, 1);
    callsAtOnce.set(stage.id, counts);
  }
  const overlap = mayRunTogether(pipeline, order);
  for (const [stageId, counts] of callsAtOnce) {
    const beside = [...callsAtOnce].filter(([other]) => overlap(stageId, other)).map(([, theirs]) => theirs);
    for (const [key, count] of counts) {
      const most = beside.reduce((sum, theirs) => sum + (theirs.get(key) ?? 0), count);
      runTogether.set(key, Math.max(most, runTogether.get(key) ?? 1));
    }
  }
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
    ...(options.warnings && options.warnings.length > 0 ? { warnings: options.warnings } : {}),
    ...(options.inlinePipeline ? { inlinePipeline: true } : {}),
  });

  const finish = (record: StageRecord): StageRecord => {
    records[record.stageId] = record;
    options.onStageRecord?.(record);
    return record;
  };

  const fail = (stageId: string, error: unknown, stageStart: number, input?: string, models: ModelOutput[] = []): StageRecord => {
    // Only the run's own signal makes a stage "cancelled"; an abort nobody asked for is a failure.
    const cancelled = run.signal.aborted;
    const aborted = !cancelled && isAbortError(error);
    const code = cancelled ? "cancelled" : ProjectLlmError.isInstance(error) && error.code !== "cancelled" ? error.code : "generation-failed";
    const message = cancelled ? `stage ${stageId} was cancelled before it finished` : aborted ? `aborted unexpectedly: ${errorMessage(error)}` : errorMessage(error);
    const params: ErrorParams | undefined = cancelled
      ? { reason: "running", stage: stageId }
      : aborted
        ? { reason: "aborted", detail: errorMessage(error) }
        : errorParams(error);
    const model = ProjectLlmError.isInstance(error) && typeof error.details?.model === "string" ? error.details.model : undefined;
    emit({ type: "stage-error", stageId, code, message, model, ...(params ? { params } : {}) });
    if (!cancelled) firstFailure ??= { code, message: `stage ${stageId} failed: ${message}`, stageId, params: { ...params, stage: stageId } };
    return finish({ stageId, status: cancelled ? "cancelled" : "failed", reused: false, input, models, error: { code, message, ...(params ? { params } : {}) }, startedAt: stageStart, endedAt: now() });
  };

  const callModel = async (
    stage: Stage,
    modelName: string,
    prompt: string,
    stageParams: GenerationParams,
    part: "model" | "aggregation",
    signal: AbortSignal,
    together = 1,
    group?: string,
  ): Promise<ModelOutput> => {
    try {
      const model = options.resolveModel(modelName);
      const params = options.resolveParams(modelName, stageParams);
      let loading = false;
      let loaded = false;
      const markLoaded = () => {
        if (loaded) return;
        loaded = true;
        emit({ type: "stage-load", stageId: stage.id, model: modelName, progress: 1, done: true });
      };
      const many = runTogether.get(loadKey(model) ?? "") ?? 1;
      const result = await port.generate(
        { model, prompt, system: stage.system, ...(part === "model" && stage.history?.length ? { history: stage.history } : {}), params, ...(together > 1 ? { together, ...(group === undefined ? {} : { group }) } : {}), ...(many > 1 ? { runTogether: many } : {}), ...(options.cache ? {} : { fresh: true }) },
        {
          signal,
          onText: (text) => {
            // The first text after load progress means the model is in memory: say so before the text.
            if (loading) markLoaded();
            emit({ type: "stage-delta", stageId: stage.id, model: modelName, part, text });
          },
          onLoadProgress: (progress) => {
            if (loaded) return;
            loading = true;
            emit({ type: "stage-load", stageId: stage.id, model: modelName, progress, done: false });
          },
        },
      );
      if (result.load.loaded || loading) markLoaded();
      return {
        model: modelName,
        prompt,
        answer: result.text,
        params,
        metrics: {
          tokensIn: result.tokensIn,
          ...(result.promptTokensEvaluated !== undefined ? { promptTokensEvaluated: result.promptTokensEvaluated } : {}),
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
      // The message and its values name the model that failed.
      if (ProjectLlmError.isInstance(error) && error.details?.model === undefined) {
        const params = errorParams(error);
        throw new ProjectLlmError(error.code, `${modelName}: ${error.message}`, {
          cause: error,
          details: { ...error.details, model: modelName, ...(params ? { params: { ...params, model: modelName } } : {}) },
        });
      }
      if (!ProjectLlmError.isInstance(error) && !isAbortError(error)) {
        throw new ProjectLlmError("generation-failed", `${modelName}: ${errorMessage(error)}`, {
          cause: error,
          details: { model: modelName, params: { reason: "error", model: modelName, detail: errorMessage(error) } },
        });
      }
      throw error;
    }
  };

  /** Calls every model of a multi stage at once; the first failure aborts the others and is the one reported. */
  const callModels = async (stage: Stage & { type: "multi" }, prompt: string, signal: AbortSignal): Promise<ModelOutput[]> => {
    const stageAbort = new AbortController();
    const siblings = mergeSignals(signal, stageAbort.signal);
    let firstError: { error: unknown } | undefined;
    // The stage's models on one loaded model (a local file with the same load settings) are called together.
    const loadKeys = stage.models.map(loadKeyOf);
    const together = (index: number) => (loadKeys[index] === undefined ? 1 : loadKeys.filter((key) => key === loadKeys[index]).length);
    // One group per loaded model: its calls are timed together (see `GenerateRequest.group`).
    const stageCall = `${stage.id}#${++stageCalls}`;
    try {
      const settled = await Promise.allSettled(
        stage.models.map((modelName, index) =>
          callModel(stage, modelName, prompt, stage.params, "model", siblings.signal, together(index), `${stageCall}/${loadKeys[index] ?? index}`).catch((error: unknown) => {
            if (firstError === undefined) {
              firstError = { error };
              stageAbort.abort(error);
            }
            throw error;
          }),
        ),
      );
      if (firstError !== undefined) throw firstError.error;
      return settled.map((result) => (result as PromiseFulfilledResult<ModelOutput>).value);
    } finally {
      siblings.dispose();
    }
  };

  const cacheKeyOf = (stage: Stage, input: string, inputs: StageRecord[], prompt: string): StageCacheKey | undefined =>
    cache ? cacheKeyFor(stage, { input, inputs, prompt }, options) : undefined;

  /** The cache's record for `key` as this run's own, or undefined on a miss (a cache that fails is a miss). */
  const fromCache = async (stage: Stage, key: StageCacheKey, input: string, stageStart: number): Promise<StageRecord | undefined> => {
    const stored = await cache!.get(key).catch(() => undefined);
    if (!servable(stored)) return undefined;
    const endedAt = now();
    // The models' figures say how the answer was made; the stage's own say what this run spent on it.
    // No prompt token was evaluated for this run: the stage's "evaluated" figure says 0, not the stored run's.
    const metrics: StageMetrics = { ...(stored.metrics ?? zeroMetrics), timeToFirstTokenMs: 0, tokensPerSecond: 0, durationMs: endedAt - stageStart, promptTokensEvaluated: 0 };
    const models = stored.models.map(withoutLoad);
    const aggregation = stored.aggregation?.method === "synthesis" ? { method: "synthesis" as const, output: withoutLoad(stored.aggregation.output) } : stored.aggregation;
    const record: StageRecord = {
      stageId: stage.id,
      status: "completed",
      reused: false,
      cached: true,
      input,
      output: stored.output,
      answer: stored.answer ?? stored.output,
      metrics,
      models,
      ...(aggregation ? { aggregation } : {}),
      startedAt: stageStart,
      endedAt,
    };
    return record;
  };

  const runStage = async (stage: Stage, upstream: Array<Promise<StageRecord>>): Promise<StageRecord> => {
    const inputs = await Promise.all(upstream);
    const stageStart = now();
    const input = stageInput(inputs, options.input);

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
        metrics: record.metrics ?? zeroMetrics,
        models: record.models,
        aggregation: record.aggregation,
      });
      return finish(record);
    }

    const broken = inputs.find((record) => record.status !== "completed");
    if (run.signal.aborted || broken?.status === "cancelled") {
      const message = `stage ${stage.id} was cancelled before it started`;
      const params = { reason: "waiting", stage: stage.id };
      emit({ type: "stage-error", stageId: stage.id, code: "cancelled", message, params });
      return finish({ stageId: stage.id, status: "cancelled", reused: false, models: [], error: { code: "cancelled", message, params } });
    }
    if (broken) {
      const cause = broken.error?.causeStageId ?? broken.stageId;
      const message = `stage ${stage.id} did not run: stage ${cause} failed${cause !== broken.stageId ? ` (so its input ${broken.stageId} did not run)` : ""}`;
      // `input`: the stage it reads, which is `cause` itself or a stage that did not run because of it.
      const params = { stage: stage.id, cause, input: broken.stageId };
      emit({ type: "stage-error", stageId: stage.id, code: "upstream-failed", message, causeStageId: cause, params });
      return finish({ stageId: stage.id, status: "skipped", reused: false, models: [], error: { code: "upstream-failed", message, causeStageId: cause, params } });
    }

    emit({ type: "stage-start", stageId: stage.id, input, reused: false });
    let models: ModelOutput[] = [];
    try {
      const prompt = stagePrompt(stage, input, inputs);
      const key = cacheKeyOf(stage, input, inputs, prompt);
      const cached = key && (await fromCache(stage, key, input, stageStart));
      if (cached) {
        emit({
          type: "stage-end",
          stageId: stage.id,
          reused: false,
          cached: true,
          output: cached.output!,
          answer: cached.answer!,
          metrics: cached.metrics!,
          models: cached.models,
          aggregation: cached.aggregation,
        });
        return finish(cached);
      }
      let answer: string;
      let aggregation: AggregationResult | undefined;
      if (stage.type === "single") {
        models = [await callModel(stage, stage.model, prompt, stage.params, "model", run.signal)];
        answer = models[0]!.answer;
      } else {
        models = await callModels(stage, prompt, run.signal);
        const answers = models.map((output) => ({ model: output.model, answer: output.answer }));
        if (stage.aggregation.method === "synthesis") {
          const template = stage.aggregation.prompt ?? defaultSynthesisPrompt;
          const synthesisPrompt = renderTemplate(template, answerValues(input, answers), `stage ${stage.id} synthesis prompt`);
          const params = { ...stage.params, ...stage.aggregation.params };
          const output = await callModel(stage, stage.aggregation.model, synthesisPrompt, params, "aggregation", run.signal);
          answer = output.answer;
          aggregation = { method: "synthesis", output };
        } else {
          const aggregated = aggregateWithoutModel(stage.aggregation, input, answers, `stage ${stage.id}`);
          answer = aggregated.answer;
          aggregation = aggregated.result;
        }
      }
      const calls = aggregation?.method === "synthesis" ? [...models, aggregation.output] : models;
      const endedAt = now();
      const metrics = stageMetrics(calls, endedAt - stageStart);
      const output = stageOutput(stage, input, answer);
      emit({ type: "stage-end", stageId: stage.id, reused: false, output, answer, metrics, models, aggregation });
      const record = finish({ stageId: stage.id, status: "completed", reused: false, input, output, answer, metrics, models, aggregation, startedAt: stageStart, endedAt });
      if (key) storing.push(cache!.put(key, record).catch(() => undefined));
      return record;
    } catch (error) {
      return fail(stage.id, error, stageStart, input, models);
    }
  };

  const promises = new Map<string, Promise<StageRecord>>();
  for (const id of order) {
    const stage = byId.get(id)!;
    promises.set(id, runStage(stage, inputIds(stage).map((upstream) => promises.get(upstream)!)));
  }
  await Promise.all(promises.values());
  await Promise.all(storing);
  run.dispose();

  const cancelled = Object.values(records).some((record) => record.status === "cancelled");
  const status: RunStatus = firstFailure ? "failed" : cancelled ? "cancelled" : "completed";
  const finalAnswer =
    status === "completed" ? mergeInputs(sinkIds(pipeline).map((stageId) => ({ stageId, output: records[stageId]?.output ?? "" }))) : undefined;
  const endedAt = now();
  const error = firstFailure ?? (status === "cancelled" ? { code: "cancelled", message: "the run was cancelled" } : undefined);
  emit({ type: "run-end", status, finalAnswer, durationMs: endedAt - startedAt, error });
  return { runId, status, finalAnswer, stages: records, startedAt, endedAt, eventCount: seq, error };
}

/** A stage's input: the user's for a stage without `input_from`, else its inputs' outputs merged. */
function stageInput(inputs: readonly StageRecord[], userInput: string): string {
  return inputs.length === 0 ? userInput : mergeInputs(inputs.map((record) => ({ stageId: record.stageId, output: record.output ?? "" })));
}

/** A stage's prompt: its template over its input and its inputs' outputs, or its input. Throws on a bad template. */
function stagePrompt(stage: Stage, input: string, inputs: readonly StageRecord[]): string {
  if (stage.prompt === undefined) return input;
  const values: Record<string, string> = { input };
  for (const record of inputs) values[`stage.${record.stageId}`] = record.output ?? "";
  return renderTemplate(stage.prompt, values, `stage ${stage.id} prompt`);
}

/**
 * A stage's cache key, or undefined when it is not to be cached: sampling at random, or a model that
 * cannot be resolved (the stage then runs, and fails saying why).
 */
function cacheKeyFor(
  stage: Stage,
  parts: { input: string; inputs: readonly StageRecord[]; prompt: string },
  options: Pick<RunPipelineOptions, "resolveModel" | "resolveParams">,
): StageCacheKey | undefined {
  const call = (part: StageCacheCall["part"], name: string, stageParams: GenerationParams): StageCacheCall => ({
    part,
    name,
    model: options.resolveModel(name),
    params: options.resolveParams(name, stageParams),
  });
  let calls: StageCacheCall[];
  try {
    calls = stage.type === "single" ? [call("model", stage.model, stage.params)] : stage.models.map((name) => call("model", name, stage.params));
    if (stage.type === "multi" && stage.aggregation.method === "synthesis") {
      calls.push(call("aggregation", stage.aggregation.model, { ...stage.params, ...stage.aggregation.params }));
    }
  } catch {
    return undefined;
  }
  return stageCacheKey(stage, { input: parts.input, inputs: parts.inputs.map((record) => ({ stageId: record.stageId, output: record.output ?? "" })), prompt: parts.prompt, calls });
}

/** Whether a record the cache holds can serve a stage: a completed one, with its output. */
function servable(stored: StageRecord | undefined): stored is StageRecord & { output: string } {
  return stored?.status === "completed" && stored.output !== undefined;
}

/**
 * The stages a run would serve from the stage cache, found before it starts, as the run looks them up:
 * in the DAG's order, a stage whose inputs are all known (reused, or found here) is looked up by the key
 * the run would compute. A stage downstream of one that has to run cannot be known before that one has
 * run, and is left out; so is every stage that samples at random.
 */
export async function stagesInCache(
  options: Pick<RunPipelineOptions, "pipeline" | "input" | "reuse" | "resolveModel" | "resolveParams"> & { cache: Pick<StageCachePort, "get"> },
): Promise<Set<string>> {
  const known = new Map<string, StageRecord>(Object.entries(options.reuse ?? {}).filter(([, record]) => record.status === "completed"));
  const found = new Set<string>();
  const byId = new Map(options.pipeline.stages.map((stage) => [stage.id, stage]));
  for (const id of topologicalOrder(options.pipeline)) {
    if (known.has(id)) continue;
    const stage = byId.get(id)!;
    const inputs = inputIds(stage).map((upstream) => known.get(upstream));
    if (!inputs.every((record) => record !== undefined)) continue;
    const input = stageInput(inputs, options.input);
    let key: StageCacheKey | undefined;
    try {
      key = cacheKeyFor(stage, { input, inputs, prompt: stagePrompt(stage, input, inputs) }, options);
    } catch {
      // A template that does not render fails the stage when it runs; it is not served from the cache.
      continue;
    }
    const stored = key && (await options.cache.get(key).catch(() => undefined));
    if (!servable(stored)) continue;
    known.set(id, stored);
    found.add(id);
  }
  return found;
}

function withoutLoad({ load: _, ...output }: ModelOutput): ModelOutput {
  return output;
}

/**
 * A stage's figures from its model calls (a synthesis call included). One call: that call's figures,
 * with the stage's wall time as `durationMs`. Several: tokens in and out summed, time to first token the
 * first model's (the stage's first in `models` order), tokens/s the tokens out over the stage's wall time.
 */
function stageMetrics(calls: readonly ModelOutput[], wallMs: number): StageMetrics {
  if (calls.length === 1) return { ...calls[0]!.metrics, durationMs: wallMs };
  const tokensOut = calls.reduce((sum, call) => sum + call.metrics.tokensOut, 0);
  const evaluated = calls.map((call) => call.metrics.promptTokensEvaluated);
  return {
    tokensIn: calls.reduce((sum, call) => sum + call.metrics.tokensIn, 0),
    // Known for the stage only when known for every call.
    ...(evaluated.every((value) => value !== undefined) ? { promptTokensEvaluated: evaluated.reduce((sum, value) => sum + value!, 0) } : {}),
    tokensOut,
    timeToFirstTokenMs: calls[0]?.metrics.timeToFirstTokenMs ?? 0,
    tokensPerSecond: wallMs > 0 ? tokensOut / (wallMs / 1000) : 0,
    durationMs: wallMs,
  };
}
