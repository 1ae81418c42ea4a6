/**
 * How much the worker's resident memory grows when it loads a model and runs it: the estimate the model
 * pool's budget and the plan before a run count. node-llama-cpp's own `estimateContextResourceRequirements`
 * adds a heuristic "graph overhead" sized for a full context (stories260K: 38 MiB for a 2 MiB growth);
 * this counts what llama.cpp really allocates and touches instead (figures in BENCHMARKS.md):
 *
 * - the weights, memory-mapped: every page is read while the model loads, so they count whole;
 * - a second copy of the weights that llama.cpp's CPU backend repacks for its faster kernels: measured on
 *   syn400m (Q8_0) on an x86 CPU (whose instruction sets were not recorded: llama.cpp repacks Q8_0 on x86
 *   only into its AMX buffer), the anonymous memory held the repacked copy while the mapped file stayed
 *   resident. Which types it repacks depends on the CPU (the same syn400m was not repacked on an
 *   AMD EPYC with AVX-512), so the estimate counts the types llama.cpp's rule repacks on this CPU where
 *   that is known (`repackedTypesOn`), else every type the build can repack (an overestimate where the CPU
 *   does not, never an underestimate); and one the worker has loaded counts what that load repacked, no
 *   more than the rule says unless the load grew by more (`repackedMeasured`, see the worker's
 *   `loadMeasuringRepack`);
 * - the contexts as the worker creates them (their size, batch size and sequences: `parallel` in the one
 *   made with the load, the kept and batched ones in a second, see `chooseSequences` in worker.ts), by
 *   node-llama-cpp's simulation of llama.cpp's own allocation (KV cache, cleared and so touched at
 *   creation, and compute buffers);
 * - a fixed allowance for what a load adds besides its buffers (the threadpool, the backend's tables, the
 *   model's JavaScript objects), and a margin over the sum (see `residentMargin`).
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import type { GgufInsights } from "node-llama-cpp";
import { llamaImports } from "./llama-imports.js";

const { GgmlType } = await llamaImports("GgmlType");

/**
 * Bytes a model load adds besides its buffers: the most measured on stories260K, 10.1-14.8 MiB over 18
 * fresh workers, each of which had collected what its start left (BENCHMARKS.md, "What a fresh worker holds").
 */
export const loadOverheadBytes = 15 * 1024 * 1024;
/** A share over the sum: allocator rounding and the compute buffer pages a long prompt touches. */
export const residentMargin = 0.1;

/**
 * Bytes per element of the tensor types llama.cpp's CPU backend can repack (block bytes over block
 * elements): those its build (node-llama-cpp 3.22's) has repacking kernels for, on some CPU (its
 * `CPU_REPACK` buffer, and on an x86 CPU with AMX its `AMX` one, which also takes Q4_1 and IQ4_XS).
 */
const repackedTypeBytes: Partial<Record<number, number>> = {
  [GgmlType.Q4_0]: 18 / 32,
  [GgmlType.Q4_1]: 20 / 32,
  [GgmlType.Q4_K]: 144 / 256,
  [GgmlType.Q5_K]: 176 / 256,
  [GgmlType.Q6_K]: 210 / 256,
  [GgmlType.IQ4_NL]: 18 / 32,
  [GgmlType.IQ4_XS]: 136 / 256,
  [GgmlType.Q8_0]: 34 / 32,
  [GgmlType.Q2_K]: 84 / 256,
  [GgmlType.MXFP4]: 17 / 32,
  [GgmlType.Q1_0]: 18 / 128,
};

/**
 * The llama.cpp release whose CPU backend `repackedTypesOn` follows (node-llama-cpp 3.22's, its
 * `llamaCppRelease.release`): under another one every repackable type is counted.
 */
export const repackRuleRelease = "v0.5.0";

/**
 * The types llama.cpp's CPU backend repacks on this CPU, by the release's own rule
 * (`ggml_repack_get_optimal_repack_type` in ggml/src/ggml-cpu/repack.cpp, and the extra buffer types of
 * ggml-cpu.cpp); undefined where it is not known (every type is then counted: over, never under). On
 * x86-64, as Linux lists the CPU's flags: with AVX2, Q4_0, Q4_K, IQ4_NL and MXFP4, and Q2_K with AVX-512
 * too; Q8_0, Q5_K, Q6_K and Q1_0 only on ARM and RISC-V. That is why a Q8_0 model was not repacked on an
 * AMD EPYC with AVX-512 (BENCHMARKS.md). A CPU with AMX (`amx_int8`) gets llama.cpp's AMX buffer, which
 * takes Q8_0 and others: not predicted. ggml loads the CPU library built for the best instruction sets
 * the CPU has, so a flag the CPU lacks is one the library was built without; a flag it has that the
 * library lacks only makes this an overestimate. ARM (whose library's kernels depend on how it was built)
 * and other CPUs: not predicted.
 */
export function repackedTypesOn(arch: string, flags: ReadonlySet<string> | undefined): ReadonlySet<number> | undefined {
  if (arch !== "x64" || flags === undefined || flags.has("amx_int8")) return undefined;
  if (!flags.has("avx2")) return new Set();
  return new Set([GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.IQ4_NL, GgmlType.MXFP4, ...(flags.has("avx512f") ? [GgmlType.Q2_K] : [])]);
}

/** The CPU's instruction sets as Linux lists them (x86's `flags`, ARM's `Features`); undefined elsewhere. */
export const cpuFlags: string | undefined = (() => {
  try {
    return /^(?:flags|Features)\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim();
  } catch {
    return undefined;
  }
})();

/** `repackedTypesOn` this CPU, by `cpuFlags` (for the release the rule was read from: see the worker). */
export const repackedTypesHere = repackedTypesOn(os.arch(), cpuFlags === undefined ? undefined : new Set(cpuFlags.split(/\s+/)));

/**
 * Bytes of the matrices the CPU backend may repack (the token embedding is read by rows, never repacked):
 * of the `types` it repacks on this CPU where they are known (see `repackedTypesOn`), else of every type it
 * can repack on some CPU.
 */
export function repackedBytes(insights: GgufInsights, types?: ReadonlySet<number>): number {
  let bytes = 0;
  for (const tensor of insights.ggufFileInfo.fullTensorInfo ?? []) {
    const perElement = repackedTypeBytes[tensor.ggmlType];
    if (perElement === undefined || (types !== undefined && !types.has(tensor.ggmlType)) || tensor.dimensions.length < 2 || tensor.name.startsWith("token_embd")) continue;
    const elements = tensor.dimensions.reduce<number>((product, dimension) => product * Number(dimension), 1);
    bytes += elements * perElement;
  }
  return bytes;
}

export interface ResidentEstimate {
  /** Bytes of RAM: weights (and their repacked copy) on the CPU, the context, the allowance, the margin. */
  ram: number;
  /**
   * `ram` with every type the CPU backend may repack counted as repacked: the same before the model's first
   * load on this machine; the model's size that the worker bounds its extra sequences by (see its
   * `chooseSequences`), so that this bound does not move once that load has measured what it repacked.
   */
  ramIfRepacked: number;
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

/**
 * What a load repacked, from the growth of the worker's anonymous memory across it and what its weights'
 * repackable types would take (see the worker's `loadMeasuringRepack`): half of that or more is all of it
 * (a part of the tensors may not have been repacked: over, never under); less is the growth and `slack`
 * more (V8's heap collected during the load, memory glibc had kept and gave again: over, never under).
 */
export function repackedFromGrowth(growth: number, repackable: number, slack: number): number {
  const grown = Math.max(0, growth);
  return grown >= repackable / 2 ? repackable : Math.min(repackable, grown + slack);
}

/**
 * What a load repacked, kept for the plans after it: `repackedFromGrowth` over every type it may repack
 * (`repackable`), or where this CPU's rule says less (`ruled`: every type where the rule is not known),
 * that or the growth, whichever is more. Over, never under: the repacked copy is part of the growth, and
 * a load that repacked more than the rule says grew by more. (A Q4_K_M model on an AVX2 CPU repacks its
 * Q4_K matrices, more than half of it, and never its Q6_K ones: `repackedFromGrowth` alone reads all.)
 */
export function repackedMeasured(growth: number, repackable: number, ruled: number, slack: number): number {
  return Math.min(repackedFromGrowth(growth, repackable, slack), Math.max(ruled, growth, 0));
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
  /** What the CPU backend repacked of the model when this machine loaded it on the CPU alone, where known (see `repackedMeasured`). */
  repackedWhenLoaded?: number,
  /** The types the CPU backend repacks on this CPU, where known (see `repackedTypesOn`). */
  repackedTypes?: ReadonlySet<number>,
): Promise<ResidentEstimate> {
  const model = insights.estimateModelResourceRequirements({ gpuLayers: options.gpuLayers });
  // Only layers left on the CPU are repacked there; with layers on a GPU the share is an upper bound.
  const onCpu = (whole: number) => Math.max(0, options.gpuLayers === 0 ? whole : whole * (1 - options.gpuLayers / Math.max(1, insights.totalLayers)));
  const [context, extra] = await Promise.all([simulate(options.sequences), options.extraSequences ? simulate(options.extraSequences) : { cpuRam: 0, gpuVram: 0 }]);
  // What a load measured (see `repackedMeasured`), else what the CPU's rule says: each over, never under.
  const whole = repackedBytes(insights);
  const repacked = repackedWhenLoaded ?? repackedBytes(insights, repackedTypes);
  const parts = { weights: model.cpuRam, repacked: onCpu(repacked), context: context.cpuRam + extra.cpuRam, overhead: loadOverheadBytes };
  const ram = (repacked: number) => Math.ceil((parts.weights + repacked + parts.context + parts.overhead) * (1 + residentMargin));
  return { ram: ram(parts.repacked), ramIfRepacked: ram(onCpu(whole)), vram: model.gpuVram + context.gpuVram + extra.gpuVram, parts };
}
