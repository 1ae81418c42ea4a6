/**
 * The thread count when the config says `auto`. Measured on 2 cores (BENCHMARKS.md):
 * - stories260K (1 MiB) decodes ~13x faster on 1 thread than on 2: splitting tiny matrices costs more in
 *   synchronisation than it gains. Below `smallModelBytes` one thread is best.
 * - a 400M Q8_0 model (409 MiB) decodes ~15% faster on 1 thread than on 2: one thread already reaches the
 *   memory bandwidth, and a second one competes with the process's own event loop (IPC, streaming).
 * So a large model gets every core but one (kept for the event loop), shared by the generations that
 * run at once, and never fewer than one thread.
 */
import os from "node:os";

export const smallModelBytes = 64 * 1024 * 1024;

export interface ThreadChoice {
  /** What the config says: `auto` or a count (a count always wins). */
  configured: "auto" | number;
  /** Bytes of weights (the GGUF file's size is close enough). */
  weightBytes: number;
  /** Generations that run at once, sharing the cores. */
  parallel: number;
  cores?: number;
}

export function chooseThreads({ configured, weightBytes, parallel, cores = os.availableParallelism() }: ThreadChoice): number {
  if (configured !== "auto") return configured;
  if (weightBytes < smallModelBytes) return 1;
  return Math.max(1, Math.floor((cores - 1) / Math.max(1, parallel)));
}

/**
 * Generations at once when the config says `auto`: on a CPU one at a time (a second generation only
 * splits the same cores and memory bandwidth); on a GPU four, as sequences of one context, since a GPU
 * decodes several sequences in a batch for little more than the cost of one.
 */
export function resolveParallel(configured: "auto" | number, gpu: string | false): number {
  if (configured !== "auto") return configured;
  return gpu === false ? 1 : 4;
}

/** Sequences a batch takes at most: a multi stage's models beyond it wait for the next free sequence. */
export const maxBatchSequences = 4;

/**
 * Below this many bytes of weights a batch does not pay on a CPU (BENCHMARKS.md, "Batching"): a small
 * model's step is bound by the per-token floor, not by reading the weights, so K sequences in one batch
 * cost about K steps.
 */
export const batchMinBytes = 64 * 1024 * 1024;

export interface BatchChoice {
  /** `auto`: the rule below; `false`: never batch (one generation at a time beyond `parallel`); a number: that width on any model. */
  configured: "auto" | false | number;
  weightBytes: number;
  /** The GPU in use, or false on a CPU. */
  gpu: string | false;
  /** The threads one generation on this model gets (see `chooseThreads`). */
  threads: number;
}

/**
 * How many generations on one loaded model may decode at once as sequences of its context, in one batch,
 * beyond `parallel` (1 = no batching). On a CPU, decoding a large model is bound by reading its weights
 * once per step: a batch of K sequences reads them once for K tokens, so K generations from a multi stage
 * finish sooner together than one after another. A small model gains nothing (see `batchMinBytes`). On a
 * GPU `parallel` already gives each context several sequences.
 */
export function batchWidth({ configured, weightBytes, gpu, threads }: BatchChoice): number {
  if (typeof configured === "number") return Math.max(1, configured);
  if (configured === false || gpu !== false) return 1;
  // Measured to pay only with one thread a generation (BENCHMARKS.md: 1.03-1.19x on the 400M model; at two
  // threads it lost, 0.31x): with more, one at a time until a batch is measured faster there.
  return weightBytes >= batchMinBytes && threads <= 1 ? maxBatchSequences : 1;
}
