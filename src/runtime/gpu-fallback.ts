/**
 * What a model load does when it runs out of memory on a GPU: it tries again with half the layers on the
 * GPU, then with none (the CPU alone), and says so. Apart from node-llama-cpp's loader, so that the order
 * of the attempts can be tested where no GPU is.
 */
import { llamaImports } from "./llama-imports.js";

const { InsufficientMemoryError } = await llamaImports("InsufficientMemoryError");

/** The `gpu_layers` setting: `auto`, `max`, or a number of layers (0: the CPU alone). */
export type GpuLayersSetting = "auto" | "max" | number;

/**
 * Whether a load failed for lack of memory: node-llama-cpp's own estimate refused it
 * (`InsufficientMemoryError`), or llama.cpp could not allocate a buffer.
 */
export function isOutOfMemory(error: unknown): boolean {
  return error instanceof InsufficientMemoryError || /memory|alloc/i.test(String((error as Error)?.message ?? error));
}

/** The `gpu_layers` a load tries in order: as configured; on a GPU then half as many, then none. */
export function gpuLayerAttempts(options: { onGpu: boolean; configured: GpuLayersSetting; totalLayers: number }): GpuLayersSetting[] {
  const { onGpu, configured, totalLayers } = options;
  if (!onGpu || configured === 0) return [configured];
  const half = Math.floor((typeof configured === "number" ? Math.min(configured, totalLayers) : totalLayers) / 2);
  return half > 0 ? [configured, half, 0] : [configured, 0];
}

/**
 * Loads with `load(gpuLayers)`, trying the next of `gpuLayerAttempts` after each out-of-memory failure.
 * Resolves with what loaded and, when it took more than one attempt, a `fallback` line that says which
 * settings ran out of memory and which one loaded. Rejects with the first failure that is not for lack of
 * memory, or with the last one.
 */
export async function loadWithFallback<T>(options: {
  onGpu: boolean;
  configured: GpuLayersSetting;
  totalLayers: number;
  load: (gpuLayers: GpuLayersSetting) => Promise<T>;
}): Promise<{ value: T; gpuLayers: GpuLayersSetting; fallback?: string }> {
  const attempts = gpuLayerAttempts(options);
  const failed: GpuLayersSetting[] = [];
  for (const [index, gpuLayers] of attempts.entries()) {
    try {
      const value = await options.load(gpuLayers);
      if (failed.length === 0) return { value, gpuLayers };
      const loaded = gpuLayers === 0 ? "loaded on the CPU alone" : `loaded with gpu_layers ${String(gpuLayers)}`;
      return { value, gpuLayers, fallback: `out of memory with gpu_layers ${failed.map(String).join(", then ")}; ${loaded}` };
    } catch (error) {
      if (!isOutOfMemory(error) || index === attempts.length - 1) throw error;
      failed.push(gpuLayers);
    }
  }
  // gpuLayerAttempts always gives one attempt or more, and the last one returns or throws.
  throw new Error("unreachable: no load attempt");
}
