/**
 * The plan's memory estimate against what it estimates: the growth of the inference worker's resident
 * memory when a model is loaded and run, in a fresh worker per model: its peak (VmHWM, reset to the
 * resident memory before the model's inspection) less the resident memory then (VmRSS), since what a
 * run frees again (V8's heap, freed batches) must still have fitted. Measured twice: after a short
 * generation (8 tokens: the model loaded, its contexts created) and after prompts of about three quarters
 * of the context, one alone and one to three models at once (every compute buffer page a full batch
 * touches, in the context made with the load and in its extra one). The goal: the estimate 0..+35% over
 * the larger growth, never under. Measured in two fresh workers one after the other, which keep their
 * estimates in one file: the first plans the model before it was ever loaded on this machine (the types
 * llama.cpp's rule repacks on this CPU where known, else every type it may repack), the second once it has
 * been (no more than that load repacked: see the worker's `loadMeasuringRepack`).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Pipeline } from "../config/index.js";
import { runPipeline } from "../engine/index.js";
import { createRuntime, type Runtime } from "../runtime/index.js";

const contextSize = 2048;

async function statusBytes(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
}

async function generate(runtime: Runtime, modelPath: string, input: string, maxTokens: number, models = 1): Promise<void> {
  const pipeline: Pipeline = {
    stages: [
      models === 1
        ? { id: "memory", type: "single", model: "m", params: {}, output_mode: "answer_only" }
        : { id: "memory", type: "multi", models: Array.from({ length: models }, (_, index) => `m${index}`), aggregation: { method: "concat", separator: "\n", labels: false }, params: {}, output_mode: "answer_only" },
    ],
  };
  const result = await runPipeline({
    runId: "bench-memory",
    pipeline,
    pipelineName: "bench",
    input,
    port: runtime,
    resolveModel: (name) => ({ name, path: modelPath, load: { context_size: contextSize, gpu_layers: 0, threads: "auto" } }),
    resolveParams: () => ({ temperature: 0, max_tokens: maxTokens }),
    onEvent: () => undefined,
  });
  if (result.status !== "completed") throw new Error(`bench memory run ${result.status}: ${result.error?.message}`);
}

export interface MemoryFigures {
  model: string;
  /** The same in a fresh worker once the first had loaded the model (what its load repacked known). */
  loaded?: MemoryFigures;
  /** The plan's estimate (ResidentEstimate.ram) and its parts. */
  estimate: number;
  parts: Record<string, number>;
  /** node-llama-cpp's own estimate (model + context, GgufInsights), for comparison. */
  libraryEstimate: number;
  growthShort: number;
  growthLong: number;
  /** estimate / max(growthShort, growthLong) - 1. */
  over: number;
}

export async function measureMemory(modelPath: string, workerPath: string, prompt: string): Promise<MemoryFigures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "project-llm-bench-memory-"));
  try {
    const estimatesFile = path.join(dir, "contexts.json");
    const first = await measureOnce(modelPath, workerPath, prompt, estimatesFile);
    return { ...first, loaded: await measureOnce(modelPath, workerPath, prompt, estimatesFile) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureOnce(modelPath: string, workerPath: string, prompt: string, estimatesFile: string): Promise<MemoryFigures> {
  const runtime = createRuntime({ workerPath, gpu: false, idleUnloadSeconds: 0, estimatesFile });
  try {
    await runtime.status();
    const pid = runtime.stats().workerPid!;
    // Before the inspection: the estimate's own simulation counts in the growth, as it does when a run loads.
    const before = await statusBytes(pid, "VmRSS");
    // The peak from here on (Linux: "5" resets the process's peak resident memory to its current one);
    // where that cannot be written, the resident memory after each step.
    const peak = await writeFile(`/proc/${pid}/clear_refs`, "5").then(() => "VmHWM" as const, () => "VmRSS" as const);
    const facts = await runtime.inspect(modelPath, { contextSize, gpuLayers: 0, threads: "auto" });
    await generate(runtime, modelPath, prompt, 8);
    const growthShort = (await statusBytes(pid, peak)) - before;
    // The test models' prompt is ~25 tokens: about 60 copies fill three quarters of the context.
    await generate(runtime, modelPath, Array.from({ length: 60 }, () => prompt).join(" "), 16);
    // A multi stage's models on one loaded model decode together in the extra context: another prompt, so
    // that none of them finds it in a sequence.
    await generate(runtime, modelPath, Array.from({ length: 60 }, () => prompt).join("\n"), 16, 3);
    const growthLong = (await statusBytes(pid, peak)) - before;
    return {
      model: path.basename(modelPath),
      estimate: facts.resident.ram,
      parts: facts.resident.parts,
      libraryEstimate: facts.memory.totalRam,
      growthShort,
      growthLong,
      over: facts.resident.ram / Math.max(growthShort, growthLong) - 1,
    };
  } finally {
    await runtime.dispose();
  }
}
