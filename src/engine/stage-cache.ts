/**
 * The stage cache's side in the engine: what a stage's answer depends on (its key), which stages may be
 * served from a cache at all, and the port through which the scheduler asks a cache. The engine never
 * stores anything itself; the studio's session store implements the port (src/store/stage-cache.ts).
 */
import type { Aggregation, Stage } from "../config/schema.js";
import type { StageRecord } from "./events.js";
import type { ResolvedGenerationParams, ResolvedModel } from "./ports.js";

/** One model call of a stage as its key names it: a multi stage has one per model, and one for a synthesis. */
export interface StageCacheCall {
  /** `model`: one of the stage's models; `aggregation`: the synthesis model writing the stage's answer. */
  part: "model" | "aggregation";
  /** The model's name in models.yaml: it labels the answers (`concat`, the synthesis prompt). */
  name: string;
  /** Where the model is and how it is loaded; the port adds the file's identity (size, times, header hash). */
  model: ResolvedModel;
  /** Generation parameters after defaults, model overrides and the stage's own. */
  params: ResolvedGenerationParams;
}

/**
 * Everything a completed stage's record follows from, when its sampling is deterministic: two stages with
 * equal keys give the same answer. The port hashes it (with the model files' identity) into a signature.
 */
export interface StageCacheKey {
  /** Raised when the key's meaning changes, so that older entries are no longer found. */
  version: 2;
  type: Stage["type"];
  outputMode: Stage["output_mode"];
  /** The stage's input (the user's input, or its upstream stages' outputs merged). */
  input: string;
  /** The outputs of the stages it reads, by stage id (what `{{stage.ID}}` placeholders see). */
  inputs: Array<{ stageId: string; output: string }>;
  /** The prompt as rendered from the stage's template. */
  prompt: string;
  system?: string;
  /** The stage's conversation before its prompt (see the stage's `history`). */
  history?: Stage["history"];
  calls: StageCacheCall[];
  /** A multi stage's aggregation as configured (a synthesis's template and parameters included). */
  aggregation?: Aggregation;
}

/**
 * Where the scheduler looks up stages computed before. `get` answers the stored record of a completed
 * stage with an equal key, or undefined; `put` stores a stage that completed. Neither may call a model.
 * A failing `get` is a miss and a failing `put` is ignored: a cache never fails a run.
 */
export interface StageCachePort {
  get(key: StageCacheKey): Promise<StageRecord | undefined>;
  put(key: StageCacheKey, record: StageRecord): Promise<void>;
}

/** Whether a call samples deterministically: greedy (temperature 0), or with a fixed seed. */
export function isDeterministic(params: Pick<ResolvedGenerationParams, "temperature" | "seed">): boolean {
  return params.temperature === 0 || params.seed !== undefined;
}

/**
 * Whether a call's answers may come from the cache: a local model, or a remote one that opts in
 * (`cache: true`). A server's weights under a name are out of the studio's sight, and its greedy or
 * seeded sampling is not bit-exact (vLLM batches, OpenAI), so a remote call is cached only when asked.
 */
export function isCacheable(call: StageCacheCall): boolean {
  return isDeterministic(call.params) && (call.model.remote === undefined || call.model.remote.cache === true);
}

/**
 * The key of a stage, or undefined when any of its calls may not be cached (see `isCacheable`): such a
 * stage is neither looked up nor stored.
 */
export function stageCacheKey(
  stage: Stage,
  parts: { input: string; inputs: Array<{ stageId: string; output: string }>; prompt: string; calls: StageCacheCall[] },
): StageCacheKey | undefined {
  if (!parts.calls.every(isCacheable)) return undefined;
  return {
    version: 2,
    type: stage.type,
    outputMode: stage.output_mode,
    input: parts.input,
    inputs: parts.inputs,
    prompt: parts.prompt,
    ...(stage.system !== undefined ? { system: stage.system } : {}),
    ...(stage.history?.length ? { history: stage.history } : {}),
    calls: parts.calls,
    ...(stage.type === "multi" ? { aggregation: stage.aggregation } : {}),
  };
}
