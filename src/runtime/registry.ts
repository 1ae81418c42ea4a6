/**
 * The model registry: every configured model, present or missing, with its GGUF's own facts, the memory
 * it needs at the configured context size (node-llama-cpp's GgufInsights, run in the worker) and whether
 * that fits in free RAM and VRAM after the safety coefficient.
 */
import { stat } from "node:fs/promises";
import { errorMessage } from "../common/index.js";
import { quantizationMatches, type LoadParams } from "../config/index.js";
import type { RemoteModel } from "../engine/ports.js";
import { configuredLoadKey, type ModelFacts } from "./protocol.js";
import type { Runtime } from "./supervisor.js";
import { systemMemory } from "./system-memory.js";

export interface RegistryEntryInput {
  /** The config's path (as written) and the absolute one. */
  file: string;
  path: string;
  declaredQuantization?: string;
  load: { context_size: number; gpu_layers: NonNullable<LoadParams["gpu_layers"]>; threads: NonNullable<LoadParams["threads"]>; batch_size?: number };
  requiredForBase: boolean;
  /** Set for a model served by an OpenAI-compatible server: it has no file here and takes no memory here. */
  remote?: RemoteModel;
}

/** Something odd about a model, with the values it names (for a page to say it in its own language). */
export type ModelWarning =
  | { code: "quantization-mismatch"; message: string; params: { declared: string; actual: string } }
  | { code: "context-over-trained"; message: string; params: { configured: number; trained: number } };

export interface RegistryEntry {
  name: string;
  file: string;
  path: string;
  /** Where a remote model is served (`backend: openai`); its file, facts and memory are then absent. */
  remote?: { baseUrl: string; model: string; apiKeyEnv?: string };
  present: boolean;
  fileSize?: number;
  requiredForBase: boolean;
  declaredQuantization?: string;
  /** The file's own type, e.g. `MOSTLY_Q4_K_M` or `ALL_F32`. */
  quantization?: string;
  architecture?: string;
  parameters?: number;
  trainContextSize?: number;
  hasChatTemplate?: boolean;
  contextSize: number;
  threads?: number;
  gpuLayers?: number;
  memory?: ModelFacts["memory"];
  /** RAM and VRAM it takes once loaded and run: what the fit and the plan before a run count (memory-estimate.ts). */
  resident?: { ram: number; vram: number };
  /** Fits in free RAM (and in free VRAM on a GPU) after the safety coefficients. */
  fitsRam?: boolean;
  fitsVram?: boolean;
  freeRam: number;
  freeVram?: number;
  /** Its own load is in memory: its file with its context size, GPU layers and batch size. */
  loaded: boolean;
  /** Loaded, and asked to unload while calls ran on it: it goes once they end. */
  unloading: boolean;
  /**
   * A load of its file is in memory and not going, its own or not (another model's on the same file, or
   * one made before its settings changed): unloading the model unloads every load of its file.
   */
  fileLoaded: boolean;
  warnings: ModelWarning[];
  error?: string;
}

export async function inspectModels(options: {
  models: Record<string, RegistryEntryInput>;
  runtime: Runtime;
  memorySafety: { ram: number; vram: number };
}): Promise<RegistryEntry[]> {
  const status = await options.runtime.status();
  // A model is loaded when a load of the pool is its own: its file with its load as configured (another
  // model on the same file with another context is another load). The worker also keys its loads by the
  // threads it resolved, which a config may not say (`auto`): loads that differ only there are one model's,
  // unloading when each of them is.
  const loads = new Map<string, { unloading: boolean }>();
  for (const entry of status.loaded) {
    const key = configuredLoadKey(entry.path, entry.load);
    loads.set(key, { unloading: entry.unloading && (loads.get(key)?.unloading ?? true) });
  }
  // Files with a load in memory that is not going: one whose model's settings changed since shows on its card.
  const filesHeld = new Set(status.loaded.filter((entry) => !entry.unloading).map((entry) => entry.path));
  const freeRam = (await systemMemory()).free;
  const freeVram = status.vram?.free;
  const entries: RegistryEntry[] = [];
  for (const [name, input] of Object.entries(options.models)) {
    const entry: RegistryEntry = {
      name,
      file: input.file,
      path: input.path,
      present: false,
      requiredForBase: input.requiredForBase,
      declaredQuantization: input.declaredQuantization,
      contextSize: input.load.context_size,
      freeRam,
      freeVram,
      loaded: false,
      unloading: false,
      fileLoaded: false,
      warnings: [],
    };
    entries.push(entry);
    if (input.remote) {
      // Nothing to read or to fit here: the server holds the model. `present` says it needs no file.
      entry.remote = { baseUrl: input.remote.baseUrl, model: input.remote.model, ...(input.remote.apiKeyEnv ? { apiKeyEnv: input.remote.apiKeyEnv } : {}) };
      entry.present = true;
      continue;
    }
    const load = loads.get(configuredLoadKey(input.path, { contextSize: input.load.context_size, gpuLayers: input.load.gpu_layers, batchSize: input.load.batch_size }));
    entry.loaded = load !== undefined;
    entry.unloading = load?.unloading === true;
    entry.fileLoaded = filesHeld.has(input.path);
    try {
      const info = await stat(input.path);
      if (!info.isFile()) throw new Error("not a regular file");
      entry.present = true;
      entry.fileSize = info.size;
    } catch {
      continue;
    }
    try {
      const facts = await options.runtime.inspect(input.path, { contextSize: input.load.context_size, gpuLayers: input.load.gpu_layers, threads: input.load.threads });
      Object.assign(entry, {
        quantization: facts.fileType,
        architecture: facts.architecture,
        parameters: facts.parameters,
        trainContextSize: facts.trainContextSize,
        hasChatTemplate: facts.hasChatTemplate,
        threads: facts.threads,
        gpuLayers: facts.gpuLayers,
        memory: facts.memory,
        resident: { ram: facts.resident.ram, vram: facts.resident.vram },
        fitsRam: facts.resident.ram <= freeRam * options.memorySafety.ram,
        fitsVram: freeVram === undefined ? undefined : facts.resident.vram <= freeVram * options.memorySafety.vram,
      });
      if (input.declaredQuantization && facts.fileType && !quantizationMatches(input.declaredQuantization, facts.fileType)) {
        entry.warnings.push({
          code: "quantization-mismatch",
          message: `declared quantization ${input.declaredQuantization} but the file is ${facts.fileType}`,
          params: { declared: input.declaredQuantization, actual: facts.fileType },
        });
      }
      if (facts.trainContextSize && input.load.context_size > facts.trainContextSize) {
        entry.warnings.push({
          code: "context-over-trained",
          message: `context_size ${input.load.context_size} is larger than the ${facts.trainContextSize} tokens the model was trained on`,
          params: { configured: input.load.context_size, trained: facts.trainContextSize },
        });
      }
    } catch (error) {
      entry.error = errorMessage(error);
    }
  }
  return entries;
}
