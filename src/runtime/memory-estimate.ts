/**
 * How much the worker's resident memory grows when it loads a model and runs it: the estimate the model
 * pool's budget and the plan before a run count. node-llama-cpp's own `estimateContextResourceRequirements`
 * adds a heuristic "graph overhead" sized for a full context (stories260K: 38 MiB for a 2 MiB growth);
 * this counts what llama.cpp really allocates and touches instead (figures in BENCHMARKS.md):
 *
 * - the weights, memory-mapped: every page is read while the model loads, so they count whole;
 * - a second copy of the weights that llama.cpp's CPU backend repacks for its faster kernels (Q4_0, Q4_K,
 *   IQ4_NL, Q8_0, Q2_K on x86 with AVX2 and on ARM): measured on syn400m (Q8_0), the anonymous memory holds
 *   the repacked copy while the mapped file stays resident. A CPU that does not repack makes this an
 *   overestimate, never an underestimate;
 * - the contexts as the worker creates them (their size, batch size and sequences: `parallel` in the one
 *   made with the load, the kept and batched ones in a second, see `chooseSequences` in worker.ts), by
 *   node-llama-cpp's simulation of llama.cpp's own allocation (KV cache, cleared and so touched at
 *   creation, and compute buffers);
 * - a fixed allowance for what a load adds besides its buffers (the threadpool, the backend's tables, the
 *   model's JavaScript objects), and a margin over the sum (see `residentMargin`).
 */
import { GgmlType, type GgufInsights } from "node-llama-cpp";

/** Bytes a model load adds besides its buffers; measured 8-14 MiB on stories260K (BENCHMARKS.md). */
export const loadOverheadBytes = 24 * 1024 * 1024;
/** A share over the sum: allocator rounding and the compute buffer pages a long prompt touches. */
export const residentMargin = 0.1;

/** Bytes per element of the tensor types llama.cpp's CPU backend repacks (block bytes over block elements). */
const repackedTypeBytes: Partial<Record<GgmlType, number>> = {
  [GgmlType.Q4_0]: 18 / 32,
  [GgmlType.Q4_K]: 144 / 256,
  [GgmlType.IQ4_NL]: 18 / 32,
  [GgmlType.Q8_0]: 34 / 32,
  [GgmlType.Q2_K]: 84 / 256,
};

/** Bytes of the matrices the CPU backend repacks (the token embedding is read by rows, never repacked). */
export function repackedBytes(insights: GgufInsights): number {
  let bytes = 0;
  for (const tensor of insights.ggufFileInfo.fullTensorInfo ?? []) {
    const perElement = repackedTypeBytes[tensor.ggmlType];
    if (perElement === undefined || tensor.dimensions.length < 2 || tensor.name.startsWith("token_embd")) continue;
    const elements = tensor.dimensions.reduce<number>((product, dimension) => product * Number(dimension), 1);
    bytes += elements * perElement;
  }
  return bytes;
}

export interface ResidentEstimate {
  /** Bytes of RAM: weights (and their repacked copy) on the CPU, the context, the allowance, the margin. */
  ram: number;
  /** Bytes of VRAM: the layers and context on the GPU (0 on a CPU). */
  vram: number;
  /** The parts of `ram`, before the margin. */
  parts: { weights: number; repacked: number; context: number; overhead: number };
}

/** node-llama-cpp's simulation of llama.cpp's allocation of a context (its KV cache and compute buffers). */
export function simulateContext(insights: GgufInsights, context: { contextSize: number; gpuLayers: number; sequences: number; batchSize?: number }): Promise<{ cpuRam: number; gpuVram: number }> {
  return insights.estimateContextResourceRequirementsV2({
    contextSize: context.contextSize,
    modelGpuLayers: context.gpuLayers,
    sequences: context.sequences,
    ...(context.batchSize ? { batchSize: context.batchSize } : {}),
  });
}

/**
 * node-llama-cpp's heuristic for the same context: what `simulateContext` answers where llama.cpp's
 * simulation failed (node-llama-cpp falls back to it, with these options).
 */
export function heuristicContext(insights: GgufInsights, context: { contextSize: number; gpuLayers: number; sequences: number; batchSize?: number }): { cpuRam: number; gpuVram: number } {
  return insights.estimateContextResourceRequirements({
    contextSize: context.contextSize,
    modelGpuLayers: context.gpuLayers,
    sequences: context.sequences,
    ...(context.batchSize ? { batchSize: context.batchSize } : {}),
    flashAttention: false,
  });
}

/** llama.cpp's simulated allocation of a context of `sequences` (node-llama-cpp's simulation, or what a cache kept of it). */
export type SimulateContext = (sequences: number) => Promise<{ cpuRam: number; gpuVram: number }>;

/**
 * The resident memory a model and its context take once loaded and run (see the module's comment), with
 * each context as `simulate` finds it (`simulateContext`, or what estimate-cache.ts kept of it).
 */
export async function estimateResident(
  insights: GgufInsights,
  options: { contextSize: number; gpuLayers: number; sequences: number; extraSequences?: number; batchSize?: number },
  simulate: SimulateContext,
): Promise<ResidentEstimate> {
  const model = insights.estimateModelResourceRequirements({ gpuLayers: options.gpuLayers });
  // Only layers left on the CPU are repacked there; with layers on a GPU the share is an upper bound.
  const repacked = options.gpuLayers === 0 ? repackedBytes(insights) : repackedBytes(insights) * (1 - options.gpuLayers / Math.max(1, insights.totalLayers));
  const [context, extra] = await Promise.all([simulate(options.sequences), options.extraSequences ? simulate(options.extraSequences) : { cpuRam: 0, gpuVram: 0 }]);
  const parts = { weights: model.cpuRam, repacked: Math.max(0, repacked), context: context.cpuRam + extra.cpuRam, overhead: loadOverheadBytes };
  const sum = parts.weights + parts.repacked + parts.context + parts.overhead;
  return { ram: Math.ceil(sum * (1 + residentMargin)), vram: model.gpuVram + context.gpuVram + extra.gpuVram, parts };
}
