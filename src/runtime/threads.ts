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

export interface BatchChoice {
  /** `auto`: the rule below; `false`: never batch (one generation at a time beyond `parallel`); a number: that width on any model. */
  configured: "auto" | false | number;
  /** The GPU in use, or false on a CPU. */
  gpu: string | false;
}

/**
 * How many generations on one loaded model may decode at once as sequences of its context, in one batch,
 * beyond `parallel` (1 = no batching). On a CPU the K calls of a multi stage whose models share a loaded
 * model often finish sooner in one batch than one after another (BENCHMARKS.md, "Batching": on a quiet
 * machine 1.01-1.24x at one thread from stories260K to a 400M model, 1.30-1.37x at two threads), though
 * the batch evaluates their shared prompt K times where one at a time reuses it: each step reads the
 * weights once for K tokens, and the per-token work around a step is shared. Under load it lost on the
 * small models, so with `auto` a multi stage's calls batch up to this width only where batching measured
 * faster for their model (see batch-choice.ts). On a GPU `parallel` already gives each context several
 * sequences.
 */
export function batchWidth({ configured, gpu }: BatchChoice): number {
  if (typeof configured === "number") return Math.max(1, configured);
  if (configured === false || gpu !== false) return 1;
  return maxBatchSequences;
}
