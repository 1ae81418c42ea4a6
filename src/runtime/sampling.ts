/**
 * Generation parameters (models.yaml's names) as node-llama-cpp's generation options. One mapping, used by
 * the inference worker and by the benchmark's direct script, so that both make exactly the same calls.
 */
import type { ResolvedGenerationParams } from "../engine/index.js";

export function samplingOptions(params: Pick<ResolvedGenerationParams, "max_tokens" | "temperature" | "top_k" | "top_p" | "min_p" | "seed" | "repeat_penalty" | "stop">) {
  return {
    maxTokens: params.max_tokens,
    temperature: params.temperature,
    topK: params.top_k,
    topP: params.top_p,
    minP: params.min_p,
    seed: params.seed,
    // 1 is no penalty: node-llama-cpp is not given one at all.
    ...(params.repeat_penalty !== undefined && params.repeat_penalty !== 1 ? { repeatPenalty: { penalty: params.repeat_penalty } } : {}),
    ...(params.stop && params.stop.length > 0 ? { customStopTriggers: params.stop } : {}),
  };
}
