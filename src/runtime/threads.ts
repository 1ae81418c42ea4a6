/**
 * The thread count when the config says `auto`. Decode is memory-bound, and splitting a small model's
 * matrices across threads costs more in synchronisation than it gains: measured on 2 cores,
 * stories260K (1 MB) decodes at ~2,000 tok/s on 1 thread and ~57 on 2, while a 400M Q8_0 model (409 MiB)
 * is faster on 2 threads than on 1 (see BENCHMARKS.md). Below `smallModelBytes` one thread is best.
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
  return Math.max(1, Math.floor(cores / Math.max(1, parallel)));
}
