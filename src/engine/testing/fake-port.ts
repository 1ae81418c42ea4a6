/**
 * A FAKE InferencePort for the engine's unit tests (the real one needs a model process): it answers from
 * a script per model, streams the answer in chunks with an optional delay, honours abort signals, and
 * records every call.
 */
import { ProjectLlmError } from "../../common/index.js";
import type { GenerateOptions, GenerateRequest, GenerateResult, InferencePort } from "../ports.js";

export interface FakeScript {
  /** The answer of a model to a prompt (default: `<model>(<prompt>)`). */
  answer?: (model: string, prompt: string) => string;
  /** Milliseconds between chunks (default 0). */
  chunkDelayMs?: number;
  /** Models whose calls fail with this code. */
  failing?: Record<string, "generation-failed" | "out-of-memory" | "worker-crashed">;
}

export interface FakeCall {
  model: string;
  prompt: string;
  params: GenerateRequest["params"];
  startedAt: number;
  endedAt?: number;
}

export function createFakePort(script: FakeScript = {}): InferencePort & { calls: FakeCall[] } {
  const calls: FakeCall[] = [];
  const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
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
  return {
    calls,
    async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
      const call: FakeCall = { model: request.model.name, prompt: request.prompt, params: request.params, startedAt: Date.now() };
      calls.push(call);
      const text = script.answer ? script.answer(request.model.name, request.prompt) : `${request.model.name}(${request.prompt})`;
      const chunks = text.match(/.{1,4}/gs) ?? [""];
      for (const chunk of chunks) {
        await sleep(script.chunkDelayMs ?? 0, options.signal);
        const failure = script.failing?.[request.model.name];
        if (failure) throw new ProjectLlmError(failure, `${request.model.name} broke`);
        options.onText?.(chunk);
      }
      call.endedAt = Date.now();
      return {
        text,
        tokensIn: request.prompt.length,
        tokensOut: chunks.length,
        timeToFirstTokenMs: 1,
        tokensPerSecond: 100,
        durationMs: call.endedAt - call.startedAt,
        stopReason: "max-tokens",
        chat: false,
        load: { loaded: calls.length === 1, loadMs: 0, gpuLayers: 0, threads: 1 },
      };
    },
  };
}
