/**
 * The batching part of `npm run bench` (`--batch`): K generations from one prompt on one loaded model
 * (a multi stage whose models share a file), one at a time against all at once as K sequences of one
 * context that node-llama-cpp decodes in one batch, at each thread count. Sequential and batched take turns
 * in every round. The figure is the K calls' wall time; the rule in `src/runtime/threads.ts`
 * (`batchWidth`) comes from these figures.
 */
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { GenerateRequest } from "../engine/index.js";
import { createRuntime } from "../runtime/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside";

export interface BatchBenchResult {
  model: string;
  sizeBytes: number;
  sequences: number;
  maxTokens: number;
  /** Wall ms of the K calls, by thread count: one at a time, and batched. */
  sequentialMs: Record<number, number[]>;
  batchedMs: Record<number, number[]>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timeCalls(parallel: number, threads: number, modelPath: string, sequences: number, maxTokens: number, rounds: number): Promise<number[]> {
  // `batch: false`: this runtime's own rule must not decide what is measured; `parallel` alone does.
  const runtime = createRuntime({ workerPath: path.join(here, "..", "runtime", "worker.js"), gpu: false, parallel, batch: false, idleUnloadSeconds: 0 });
  const request: GenerateRequest = {
    model: { name: "m", path: modelPath, load: { context_size: 512, gpu_layers: 0, threads } },
    prompt,
    params: { temperature: 0, max_tokens: maxTokens },
  };
  try {
    await runtime.generate({ ...request, params: { ...request.params, max_tokens: 2 } });
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // A different seed per model, as the demo's models have: the same prompt, different answers.
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: sequences }, (_, index) => runtime.generate({ ...request, params: { ...request.params, temperature: 0.8, seed: index + 1 } })));
      times.push(performance.now() - started);
      if (results.some((result) => result.tokensOut !== maxTokens)) throw new Error("bench: a batched call stopped before its token count; the figures would not compare equal work");
    }
    return times;
  } finally {
    await runtime.dispose();
  }
}

export async function benchBatch(modelPath: string, sequences: number, maxTokens: number, rounds: number): Promise<BatchBenchResult> {
  const { size } = await import("node:fs/promises").then((fs) => fs.stat(modelPath));
  const threadCounts = Array.from({ length: os.availableParallelism() }, (_, index) => index + 1);
  const result: BatchBenchResult = { model: path.basename(modelPath), sizeBytes: size, sequences, maxTokens, sequentialMs: {}, batchedMs: {} };
  for (let round = 0; round < rounds; round++) {
    for (const threads of threadCounts) {
      (result.sequentialMs[threads] ??= []).push(...(await timeCalls(1, threads, modelPath, sequences, maxTokens, 1)));
      (result.batchedMs[threads] ??= []).push(...(await timeCalls(sequences, threads, modelPath, sequences, maxTokens, 1)));
    }
  }
  return result;
}

export function batchReport(results: BatchBenchResult[]): string[] {
  const lines = [
    "| model | K | tokens each | threads | one at a time: ms (median) | batched: ms (median) | batched speed-up |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const result of results) {
    for (const threads of Object.keys(result.sequentialMs).map(Number)) {
      const sequential = median(result.sequentialMs[threads]!);
      const batched = median(result.batchedMs[threads]!);
      lines.push(`| ${result.model} | ${result.sequences} | ${result.maxTokens} | ${threads} | ${sequential.toFixed(0)} | ${batched.toFixed(0)} | ${(sequential / batched).toFixed(2)} |`);
    }
  }
  return lines;
}
