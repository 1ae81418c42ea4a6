import { InsufficientMemoryError } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { gpuLayerAttempts, isOutOfMemory, loadWithFallback, type GpuLayersSetting } from "./gpu-fallback.js";

/**
 * A fake of node-llama-cpp's loader, for a machine with no GPU: a GPU with room for `fits` layers. A load
 * with more fails as node-llama-cpp fails it (`InsufficientMemoryError`, or llama.cpp's allocation
 * message); it records every `gpuLayers` it was asked for.
 */
function fakeGpuLoader(fits: number, totalLayers: number, failure: "estimate" | "allocation" = "estimate") {
  const asked: GpuLayersSetting[] = [];
  const load = async (gpuLayers: GpuLayersSetting) => {
    asked.push(gpuLayers);
    const layers = gpuLayers === "auto" || gpuLayers === "max" ? totalLayers : gpuLayers;
    if (layers > fits) {
      throw failure === "estimate"
        ? new InsufficientMemoryError("A context size of 4096 is too large for the available VRAM")
        : new Error("ggml_backend_cuda_buffer_type_alloc_buffer: allocating 8192.00 MiB on device 0: cudaMalloc failed: out of memory");
    }
    return { layers };
  };
  return { asked, load };
}

describe("the out-of-memory fallback of a model load", () => {
  it("retries with half the layers on the GPU, and says so", async () => {
    const loader = fakeGpuLoader(20, 32);
    const result = await loadWithFallback({ onGpu: true, configured: "max", totalLayers: 32, load: loader.load });
    expect(loader.asked).toEqual(["max", 16]);
    expect(result).toEqual({ value: { layers: 16 }, gpuLayers: 16, fallback: "out of memory with gpu_layers max; loaded with gpu_layers 16" });
  });

  it("goes on to the CPU alone when half the layers do not fit either", async () => {
    const loader = fakeGpuLoader(4, 32, "allocation");
    const result = await loadWithFallback({ onGpu: true, configured: 24, totalLayers: 32, load: loader.load });
    expect(loader.asked).toEqual([24, 12, 0]);
    expect(result).toEqual({ value: { layers: 0 }, gpuLayers: 0, fallback: "out of memory with gpu_layers 24, then 12; loaded on the CPU alone" });
  });

  it("loads at once, with no fallback line, when the model fits", async () => {
    const loader = fakeGpuLoader(32, 32);
    expect(await loadWithFallback({ onGpu: true, configured: "auto", totalLayers: 32, load: loader.load })).toEqual({ value: { layers: 32 }, gpuLayers: "auto" });
    expect(loader.asked).toEqual(["auto"]);
  });

  it("rejects with the last failure when even the CPU has no room", async () => {
    const load = async (gpuLayers: GpuLayersSetting) => {
      throw new InsufficientMemoryError(`no room with ${String(gpuLayers)} layers`);
    };
    await expect(loadWithFallback({ onGpu: true, configured: "max", totalLayers: 8, load })).rejects.toThrow("no room with 0 layers");
  });

  it("does not retry a failure that is not for lack of memory", async () => {
    const asked: GpuLayersSetting[] = [];
    const load = async (gpuLayers: GpuLayersSetting) => {
      asked.push(gpuLayers);
      throw new Error("unknown model architecture: 'mamba9'");
    };
    await expect(loadWithFallback({ onGpu: true, configured: "max", totalLayers: 8, load })).rejects.toThrow("mamba9");
    expect(asked).toEqual(["max"]);
  });

  it("tries once on the CPU or when gpu_layers is 0: there is nothing to fall back to", () => {
    expect(gpuLayerAttempts({ onGpu: false, configured: "max", totalLayers: 32 })).toEqual(["max"]);
    expect(gpuLayerAttempts({ onGpu: true, configured: 0, totalLayers: 32 })).toEqual([0]);
    // Half of one layer is none: straight to the CPU.
    expect(gpuLayerAttempts({ onGpu: true, configured: 1, totalLayers: 32 })).toEqual([1, 0]);
  });

  it("tells out-of-memory failures from others", () => {
    expect(isOutOfMemory(new InsufficientMemoryError("too large"))).toBe(true);
    expect(isOutOfMemory(new Error("cudaMalloc failed: out of memory"))).toBe(true);
    expect(isOutOfMemory(new Error("unknown model architecture"))).toBe(false);
  });
});
