/** The messages between the supervisor (parent) and the inference worker (child) over IPC. */
import type { ErrorCode, ErrorParams } from "../common/index.js";
import type { GenerateRequest, GenerateResult } from "../engine/index.js";
import type { ResidentEstimate } from "./memory-estimate.js";

export interface WorkerSettings {
  gpu: "auto" | false | "cuda" | "vulkan" | "metal";
  maxLoadedModels: number;
  idleUnloadSeconds: number;
  /** Generations run at once; also the number of sequences of each context. `auto`: 1 on a CPU, 4 on a GPU. */
  parallel: number | "auto";
  /** Whether calls on one loaded model may decode together in one batch beyond `parallel` (see `batchWidth`). */
  batch: "auto" | false | number;
  /** Bytes of RAM the loaded models may take together (their estimates); past it the least recently used go. */
  memoryBudgetBytes: number;
  /** `false`: the worker never holds itself to one core (see cpu-placement.ts); default true. */
  cpuAffinity?: boolean;
  /** Where llama.cpp's simulated contexts are kept from one worker to the next (see estimate-cache.ts); unset: in memory only. */
  estimatesFile?: string;
}

/** GGUF facts and memory estimates of one file, from node-llama-cpp's own readers. */
export interface ModelFacts {
  architecture?: string;
  parameters?: number;
  /** The file's type as node-llama-cpp names it (for example `MOSTLY_Q8_0`, `ALL_F32`). */
  fileType?: string;
  trainContextSize?: number;
  hasChatTemplate: boolean;
  layers: number;
  /** Estimates at the configured context size, in bytes (GgufInsights). */
  memory: { modelRam: number; modelVram: number; contextRam: number; contextVram: number; totalRam: number; totalVram: number };
  /**
   * What the worker's resident memory grows by once the model is loaded with the context the worker
   * creates (`parallel` sequences) and run: the figure the pool's budget and the plan before a run count
   * (see memory-estimate.ts).
   */
  resident: ResidentEstimate;
  gpuLayers: number;
  threads: number;
}

export interface WorkerStatus {
  gpu: string | false;
  /** Generations run at once (the configured count, or what `auto` resolved to). */
  parallel: number;
  vram?: { total: number; used: number; free: number };
  /**
   * `memoryBytes`: the RAM estimate the pool's budget counts; `vramBytes`: the VRAM estimate (0 on a CPU);
   * `unloading`: asked to unload while calls used it, it goes once they end.
   */
  loaded: Array<{
    path: string;
    /** The context node-llama-cpp made: the configured one rounded up (to a multiple of 256 tokens). */
    contextSize: number;
    /**
     * The load as configured: with the file (and the threads the worker resolved), what the pool keeps a
     * loaded model by. Match a config's model by these and the file (`configuredLoadKey`), never by `contextSize`.
     */
    load: { contextSize: number; gpuLayers: "auto" | "max" | number; batchSize?: number };
    threads: number;
    gpuLayers: number;
    lastUsedAt: number;
    busy: number;
    memoryBytes: number;
    vramBytes: number;
    unloading: boolean;
    /** The sequences made so far: the load's, and those of its second context once made (see the worker's `PoolEntry.extra`). */
    sequences: number;
  }>;
  modelLoads: number;
  generations: number;
}

export type ParentMessage =
  /** A worker forked before its settings were known gets them first (see worker-process.ts). */
  | { type: "settings"; settings: WorkerSettings }
  /**
   * `alone`: the supervisor makes this call one at a time although calls may batch (`batch: auto` chose it
   * for its multi stage's calls, see batch-choice.ts): it takes a sequence as where calls never batch.
   */
  | { type: "generate"; id: number; request: GenerateRequest; alone?: boolean }
  | { type: "cancel"; id: number }
  | { type: "inspect"; id: number; path: string; contextSize: number; gpuLayers: "auto" | "max" | number; threads: "auto" | number; batchSize?: number }
  /** Unloads one model (every pool entry of that path) or, without a path, every model: an idle one now, a busy one once its calls end. */
  | { type: "unload"; id: number; path?: string }
  | { type: "status"; id: number }
  /** Disposes every model and exits; the reply comes just before the exit. */
  | { type: "shutdown"; id: number };

export type WorkerMessage =
  /** Sent once node-llama-cpp is up: the GPU in use and the resolved parallelism. */
  | { type: "ready"; gpu: string | false; parallel: number }
  | { type: "load-progress"; id: number; progress: number }
  | { type: "text"; id: number; text: string }
  /** `status`: the pool as the call left it, on a CPU (see `Runtime.status`). */
  | { type: "result"; id: number; result: GenerateResult; status?: WorkerStatus }
  /** The pool changed by itself (an idle model unloaded), on a CPU. */
  | { type: "pool"; status: WorkerStatus }
  /** The worker learned what a model's load repacked: memory estimates made before it are out of date. */
  | { type: "estimates-changed" }
  | { type: "reply"; id: number; value: unknown }
  /** `params`: the values the message names (see `ProjectLlmError`'s `details.params`). */
  | { type: "error"; id: number; code: ErrorCode; message: string; params?: ErrorParams };

/**
 * A loaded model's key as a config names it: its file and its load as configured (see `WorkerStatus`'s
 * `load`). Threads are left out: the worker keys its loads by the threads it resolved (`auto` by the file's
 * size and the cores), which a config may not say. So a config's model and a load of the pool with equal
 * keys are the same loaded model unless the model's threads resolve otherwise (two models on one file and
 * context, one with `threads: 2`, the other with 4, are two loads under one key).
 */
export function configuredLoadKey(path: string, load: { contextSize: number; gpuLayers: "auto" | "max" | number; batchSize?: number }): string {
  return JSON.stringify([path, load.contextSize, load.gpuLayers, load.batchSize ?? null]);
}
