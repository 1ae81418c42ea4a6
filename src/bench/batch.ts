/**
 * The batching part of `npm run bench` (`--batch`): K generations from one prompt on one loaded model
 * (a multi stage whose models share a file), one at a time against all at once as K sequences of a
 * context that node-llama-cpp decodes in one batch, at each thread count. The figure is the K calls'
 * tokens out over their wall time (on a model with random weights a call may end at an end token before
 * its count, so tokens per second, not the time, compares the two).
 *
 * Each way has its runtime, kept over the rounds with its model loaded, as a studio keeps it. A third way
 * takes its turn in each round: `runtime.batch: auto` (see src/runtime/batch-choice.ts), its calls made
 * as a multi stage makes them (one group), so that it chooses between the two by what it measured in the
 * rounds before (its first rounds measure each way in turn). The ways take turns in every round, each
 * first in its turn; each round's prompt is its own, so that no way finds the last round's prompt in its
 * KV cache.
 *
 * `BENCH_BATCH_TWINS=1` adds a twin of each fixed way, a fourth and fifth runtime configured as the first
 * two: what two workers doing the same thing differ by over the same rounds, the floor under which auto's
 * figure against the better way says nothing.
 */
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { GenerateRequest } from "../engine/index.js";
import { firstPairs } from "../runtime/batch-choice.js";
import { createRuntime, type Runtime } from "../runtime/index.js";
import { maxBatchSequences } from "../runtime/threads.js";

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
  /** `batch: auto`, and the way it took, by round. */
  auto: Record<number, number[]>;
  autoWays: Record<number, string[]>;
  /** With `BENCH_BATCH_TWINS=1`: the same two ways again, each in a runtime of its own. */
  twins?: { sequential: Record<number, number[]>; batched: Record<number, number[]> };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const requestFor = (modelPath: string, threads: number, maxTokens: number, round: number): GenerateRequest => ({
  model: { name: "m", path: modelPath, load: { context_size: 512, gpu_layers: 0, threads } },
  prompt: `${round + 1}. ${prompt}`,
  params: { temperature: 0, max_tokens: maxTokens },
});

/** Tokens out per second of K calls made together, as a multi stage's, on a warm model (`group` names them, for `batch: auto`). */
async function timeGroup(runtime: Runtime, request: GenerateRequest, sequences: number, group?: string): Promise<number> {
  // A different seed per model, as the demo's models have: the same prompt, different answers.
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: sequences }, (_, index) =>
      runtime.generate({ ...request, params: { ...request.params, temperature: 0.8, seed: index + 1 }, together: sequences, ...(group === undefined ? {} : { group }) }),
    ),
  );
  const tokens = results.reduce((sum, result) => sum + result.tokensOut, 0);
  return (tokens / (performance.now() - started)) * 1000;
}

const workerPath = path.join(here, "..", "runtime", "worker.js");


export async function benchBatch(modelPath: string, sequences: number, maxTokens: number, rounds: number): Promise<BatchBenchResult> {
  const { size } = await import("node:fs/promises").then((fs) => fs.stat(modelPath));
  // `BENCH_BATCH_THREADS` (a comma-separated list) measures only those thread counts.
  const threadCounts = process.env.BENCH_BATCH_THREADS
    ? process.env.BENCH_BATCH_THREADS.split(",").map(Number)
    : Array.from({ length: os.availableParallelism() }, (_, index) => index + 1);
  const twins = process.env.BENCH_BATCH_TWINS === "1";
  const result: BatchBenchResult = { model: path.basename(modelPath), sizeBytes: size, sequences, maxTokens, sequential: {}, batched: {}, auto: {}, autoWays: {}, ...(twins ? { twins: { sequential: {}, batched: {} } } : {}) };
  // Per thread count, three runtimes kept over the rounds, their model loaded and warm, each with the
  // config that makes it take one way: one at a time (`batch: false`), batched (`batch: 4`, a width: a
  // batch on any model, with the contexts `auto` makes for one), and `batch: auto` with nothing measured
  // yet (no file). None
  // holds its worker to one core (`cpuAffinity: false`): three workers would each keep to a core of its
  // own choosing, and the cores of a virtual machine ran at different speeds.
  const runtime = (options: { parallel?: number; batch: "auto" | false | number }) => createRuntime({ workerPath, gpu: false, cpuAffinity: false, ...options });
  const runtimes = threadCounts.map((threads) => ({
    threads,
    sequential: runtime({ parallel: 1, batch: false }),
    batched: runtime({ parallel: 1, batch: Math.max(sequences, maxBatchSequences) }),
    auto: runtime({ batch: "auto" }),
    ...(twins ? { sequentialTwin: runtime({ parallel: 1, batch: false }), batchedTwin: runtime({ parallel: 1, batch: Math.max(sequences, maxBatchSequences) }) } : {}),
  }));
  try {
    for (const { threads, ...ways } of runtimes) {
      // As a studio's run says it: the sequences a multi stage will want are made while the first call runs.
      for (const runtime of Object.values(ways)) await runtime.generate({ ...requestFor(modelPath, threads, 2, -1), prompt: "Warm", runTogether: sequences });
    }
    for (let round = 0; round < rounds; round++) {
      for (const { threads, sequential, batched, auto, sequentialTwin, batchedTwin } of runtimes) {
        const request = requestFor(modelPath, threads, maxTokens, round);
        const ways = [
          async () => (result.sequential[threads] ??= []).push(await timeGroup(sequential, request, sequences)),
          async () => (result.batched[threads] ??= []).push(await timeGroup(batched, request, sequences)),
          async () => {
            (result.autoWays[threads] ??= []).push(auto.batchFigures(request).next);
            (result.auto[threads] ??= []).push(await timeGroup(auto, request, sequences, `round ${round}`));
          },
          ...(sequentialTwin && batchedTwin
            ? [
                async () => (result.twins!.sequential[threads] ??= []).push(await timeGroup(sequentialTwin, request, sequences)),
                async () => (result.twins!.batched[threads] ??= []).push(await timeGroup(batchedTwin, request, sequences)),
              ]
            : []),
        ];
        // Each way first, second, third… in turn: the one after another may find the cores otherwise.
        for (let index = 0; index < ways.length; index++) await ways[(index + round) % ways.length]!();
      }
    }
  } finally {
    await Promise.all(runtimes.flatMap(({ threads: _threads, ...ways }) => Object.values(ways).map((runtime) => runtime.dispose())));
  }
  return result;
}

/** Rounds in which `batch: auto` measures each way before it chooses (see batch-choice.ts): a model's first batch, then each way in turn for `firstPairs` pairs. */
const learningRounds = 2 + firstPairs;

export function batchReport(results: BatchBenchResult[]): string[] {
  const lines = [
    "| model | K | tokens each | threads | one at a time: tok/s (median) | batched: tok/s (median) | batched / one at a time | auto: tok/s (median) | auto / the better (medians) | auto / the better, paired by round (median) | the same, after auto's first rounds | auto's ways (b: batched, 1: one at a time) | twins: one at a time, batched: the twin over its way (medians; paired, after auto's first rounds) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const result of results) {
    for (const threads of Object.keys(result.sequential).map(Number)) {
      const sequential = median(result.sequential[threads]!);
      const batched = median(result.batched[threads]!);
      const auto = median(result.auto[threads]!);
      // The way faster by its median, round by round against auto's group in the same round (the machine's
      // speed moves between rounds more than the ways differ).
      const better = batched > sequential ? result.batched[threads]! : result.sequential[threads]!;
      const paired = result.auto[threads]!.map((rate, round) => rate / better[round]!);
      const after = paired.length > learningRounds ? median(paired.slice(learningRounds)).toFixed(2) : "–";
      const ways = result.autoWays[threads]!.map((way) => (way === "batched" ? "b" : "1")).join("");
      const twin = (own: number[], twinRates: number[] | undefined) => {
        if (!twinRates) return "–";
        const pairs = twinRates.map((rate, round) => rate / own[round]!).slice(learningRounds);
        return `${(median(twinRates) / median(own)).toFixed(2)} (${pairs.length > 0 ? median(pairs).toFixed(2) : "–"})`;
      };
      const twins = result.twins ? `${twin(result.sequential[threads]!, result.twins.sequential[threads])}, ${twin(result.batched[threads]!, result.twins.batched[threads])}` : "–";
      lines.push(
        `| ${result.model} | ${result.sequences} | ${result.maxTokens} | ${threads} | ${sequential.toFixed(1)} | ${batched.toFixed(1)} | ${(batched / sequential).toFixed(2)} | ${auto.toFixed(1)} | ${(auto / Math.max(sequential, batched)).toFixed(2)} | ${median(paired).toFixed(2)} | ${after} | ${ways} | ${twins} |`,
      );
    }
  }
  return lines;
}
