/**
 * A FAKE InferencePort for the engine's unit tests (the real one needs a model process): it answers from
 * a script per model, streams the answer in chunks with an optional delay, reports load progress when
 * told, honours abort signals, can be told to fail, and records every call.
 */
import { ProjectLlmError } from "../../common/index.js";
import type { GenerateOptions, GenerateRequest, GenerateResult, InferencePort } from "../ports.js";

type FailureCode = "generation-failed" | "out-of-memory" | "worker-crashed" | "model-load-failed" | "context-overflow";

export interface FakeScript {
  /** The answer of a model to a prompt: a function, or a text per model (default: `<model>(<prompt>)`). */
  answer?: ((model: string, prompt: string) => string) | Record<string, string>;
  /** Characters per streamed chunk (default 4). */
  chunkSize?: number;
  /** Milliseconds before each chunk: one figure, or one per model (default 0). */
  chunkDelayMs?: number | Record<string, number>;
  /**
   * Models whose calls fail with this code, after `afterChunks` chunks (default 0: before any text), with
   * `params` as the values the error's message names (as the real runtime sends them).
   */
  failing?: Record<string, FailureCode | { code: FailureCode; afterChunks: number; params?: Record<string, string | number> }>;
  /** Models that load on their first call, reporting these progress steps (then `load.loaded: true`). */
  loading?: Record<string, number[]>;
  /** Prompt tokens evaluated per model (the rest as if from the KV cache); absent: not reported. */
  promptTokensEvaluated?: Record<string, number>;
}

export interface FakeCall {
  model: string;
  prompt: string;
  system?: string;
  /** The request's `history`. */
  history?: GenerateRequest["history"];
  params: GenerateRequest["params"];
  /** The request's `fresh`: its run's stage cache is off. */
  fresh?: boolean;
  /** The request's `runTogether`. */
  runTogether?: number;
  startedAt: number;
  endedAt?: number;
  /** True when the call ended because its signal aborted. */
  aborted?: boolean;
}

export type FakePort = InferencePort & { calls: FakeCall[] };

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new ProjectLlmError("cancelled", "cancelled"));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ProjectLlmError("cancelled", "cancelled"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Creates a FAKE port following `script` (see FakeScript). Its figures: tokens in = prompt length, tokens
 * out = chunks, time to first token = the model name's length in ms (so each model's differs).
 */
export function createFakePort(script: FakeScript = {}): FakePort {
  const calls: FakeCall[] = [];
  const loadedModels = new Set<string>();
  return {
    calls,
    async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
      const model = request.model.name;
      const call: FakeCall = { model, prompt: request.prompt, system: request.system, ...(request.history ? { history: request.history } : {}), params: request.params, ...(request.fresh ? { fresh: true } : {}), ...(request.runTogether ? { runTogether: request.runTogether } : {}), startedAt: Date.now() };
      calls.push(call);
      const delay = typeof script.chunkDelayMs === "number" ? script.chunkDelayMs : (script.chunkDelayMs?.[model] ?? 0);
      try {
        const steps = script.loading?.[model];
        const loads = steps !== undefined && !loadedModels.has(model);
        if (loads) {
          for (const progress of steps) {
            await sleep(delay, options.signal);
            options.onLoadProgress?.(progress);
          }
          loadedModels.add(model);
        }
        const text =
          typeof script.answer === "function" ? script.answer(model, request.prompt) : (script.answer?.[model] ?? `${model}(${request.prompt})`);
        const size = script.chunkSize ?? 4;
        const chunks: string[] = [];
        for (let index = 0; index < text.length; index += size) chunks.push(text.slice(index, index + size));
        const failure = script.failing?.[model];
        const fail = typeof failure === "string" ? { code: failure, afterChunks: 0 } : failure;
        const broke = () => new ProjectLlmError(fail!.code, `${model} broke`, "params" in fail! ? { details: { params: fail.params } } : undefined);
        for (const [index, chunk] of chunks.entries()) {
          await sleep(delay, options.signal);
          if (fail && index >= fail.afterChunks) throw broke();
          options.onText?.(chunk);
        }
        if (fail) throw broke();
        call.endedAt = Date.now();
        return {
          text,
          tokensIn: request.prompt.length,
          ...(script.promptTokensEvaluated?.[model] !== undefined ? { promptTokensEvaluated: script.promptTokensEvaluated[model] } : {}),
          tokensOut: chunks.length,
          timeToFirstTokenMs: model.length,
          tokensPerSecond: 100,
          durationMs: call.endedAt - call.startedAt,
          stopReason: "eos",
          chat: request.system !== undefined,
          load: { loaded: loads, loadMs: loads ? 5 : 0, gpuLayers: 0, threads: 1 },
        };
      } catch (error) {
        call.endedAt = Date.now();
        call.aborted = options.signal?.aborted === true;
        throw error;
      }
    },
  };
}
