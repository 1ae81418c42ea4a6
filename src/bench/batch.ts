/**
 * The batching part of `npm run bench` (`--batch`): K generations from one prompt on one loaded model
 * (a multi stage whose models share a file), one at a time against all at once as K sequences of one
 * context that node-llama-cpp decodes in one batch, at each thread count. Sequential and batched take turns
 * in every round. The figure is the K calls' tokens out over their wall time (on a model with random
 * weights a call may end at an end token before its count, so tokens per second, not the time, compares
 * the two); the rule in `src/runtime/threads.ts` (`batchWidth`) comes from these figures.
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
  /** Tokens out per second of the K calls together, by thread count: one at a time, and batched. */
  sequential: Record<number, number[]>;
  batched: Record<number, number[]>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Tokens out per second of K calls at once, `rounds` times. */
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
    const rates: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // A different seed per model, as the demo's models have: the same prompt, different answers.
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: sequences }, (_, index) => runtime.generate({ ...request, params: { ...request.params, temperature: 0.8, seed: index + 1 } })));
      const tokens = results.reduce((sum, result) => sum + result.tokensOut, 0);
      rates.push((tokens / (performance.now() - started)) * 1000);
    }
    return rates;
  } finally {
    await runtime.dispose();
  }
}

export async function benchBatch(modelPath: string, sequences: number, maxTokens: number, rounds: number): Promise<BatchBenchResult> {
  const { size } = await import("node:fs/promises").then((fs) => fs.stat(modelPath));
  // `BENCH_BATCH_THREADS` (a comma-separated list) measures only those thread counts.
  const threadCounts = process.env.BENCH_BATCH_THREADS
    ? process.env.BENCH_BATCH_THREADS.split(",").map(Number)
    : Array.from({ length: os.availableParallelism() }, (_, index) => index + 1);
  const result: BatchBenchResult = { model: path.basename(modelPath), sizeBytes: size, sequences, maxTokens, sequential: {}, batched: {} };
  for (let round = 0; round < rounds; round++) {
    for (const threads of threadCounts) {
      (result.sequential[threads] ??= []).push(...(await timeCalls(1, threads, modelPath, sequences, maxTokens, 1)));
      (result.batched[threads] ??= []).push(...(await timeCalls(sequences, threads, modelPath, sequences, maxTokens, 1)));
    }
  }
  return result;
}

export function batchReport(results: BatchBenchResult[]): string[] {
  const lines = [
    "| model | K | tokens each | threads | one at a time: tok/s (median) | batched: tok/s (median) | batched / one at a time |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const result of results) {
    for (const threads of Object.keys(result.sequential).map(Number)) {
      const sequential = median(result.sequential[threads]!);
      const batched = median(result.batched[threads]!);
      lines.push(`| ${result.model} | ${result.sequences} | ${result.maxTokens} | ${threads} | ${sequential.toFixed(1)} | ${batched.toFixed(1)} | ${(batched / sequential).toFixed(2)} |`);
    }
  }
  return lines;
}
