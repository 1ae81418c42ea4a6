/**
 * Generation parameters (models.yaml's names) as node-llama-cpp's generation options. One mapping, used by
 * the inference worker and by the benchmark's direct script, so that both make exactly the same calls.
 */
import type { LlamaModel, Token } from "node-llama-cpp";
import type { ResolvedGenerationParams } from "../engine/index.js";
import { llamaImports } from "./llama-imports.js";

const { TokenBias } = await llamaImports("TokenBias");

/** The parameters the mapping reads. */
export type SamplingParams = Pick<ResolvedGenerationParams, "max_tokens" | "temperature" | "top_k" | "top_p" | "min_p" | "seed" | "repeat_penalty" | "stop" | "ignore_eos">;

/**
 * `model` is the model the call runs on: `ignore_eos` bans its end-of-generation tokens, and a token
 * bias belongs to one model's tokenizer.
 */
export function samplingOptions(params: SamplingParams, model: LlamaModel) {
  return {
    maxTokens: params.max_tokens,
    temperature: params.temperature,
    topK: params.top_k,
    topP: params.top_p,
    minP: params.min_p,
    seed: params.seed,
    // 1 is no penalty, and then none is set up: left out, LlamaCompletion and LlamaChat would default to
    // one of factor 1 over the last 64 tokens, which changes no logit but gathers those tokens for the
    // sampler at every token (3-5% of stories260K's decode).
    repeatPenalty: params.repeat_penalty !== undefined && params.repeat_penalty !== 1 ? { penalty: params.repeat_penalty } : (false as const),
    ...(params.stop && params.stop.length > 0 ? { customStopTriggers: params.stop } : {}),
    ...(params.ignore_eos ? { tokenBias: endOfGenerationBan(model) } : {}),
  };
}

/** Each model's end-of-generation tokens, found once (a scan of its vocabulary). */
const endTokensByModel = new WeakMap<LlamaModel, readonly Token[]>();

/**
 * Every token llama.cpp ends a generation at: EOS and EOT, and the others its vocabulary marks so
 * (`<|im_end|>`, `<end_of_turn>`, EOM, ...), which node-llama-cpp's `model.tokens` does not list but
 * LlamaCompletion and LlamaChat stop at all the same (`isEogToken`).
 */
export function endOfGenerationTokens(model: LlamaModel): readonly Token[] {
  let tokens = endTokensByModel.get(model);
  if (!tokens) {
    const found = new Set<Token>([model.tokens.eos, model.tokens.eot].filter((token): token is Token => token !== null));
    const vocabularySize = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0;
    for (let token = 0; token < vocabularySize; token++) if (model.isEogToken(token as Token)) found.add(token as Token);
    tokens = [...found];
    endTokensByModel.set(model, tokens);
  }
  return tokens;
}

/**
 * A token bias that makes the model's end-of-generation tokens impossible to sample (a logit of -Infinity).
 * `TokenBias.set` skips exactly these tokens ("setting the bias of the EOS or EOT tokens has no effect"),
 * so the bias is written into the map it hands to llama.cpp's logit-bias sampler, which takes any token:
 * node-llama-cpp 3.22 keeps it in `_biases` (its sampler reads nothing else). The runtime's integration
 * test (`ignore_eos` on stories260K) fails if a later version moves it.
 */
function endOfGenerationBan(model: LlamaModel): InstanceType<typeof TokenBias> {
  const bias = new TokenBias(model.tokenizer);
  const biases = (bias as unknown as { _biases?: unknown })._biases;
  if (!(biases instanceof Map)) throw new Error("ignore_eos: this node-llama-cpp keeps no token bias map (TokenBias._biases); its version is not the one the studio was built for");
  for (const token of endOfGenerationTokens(model)) (biases as Map<Token, number>).set(token, -Infinity);
  return bias;
}
