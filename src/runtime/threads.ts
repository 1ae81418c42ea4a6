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
