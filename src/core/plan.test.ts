import { describe, expect, it } from "vitest";
import type { Pipeline } from "../config/index.js";
import { measuredRates, planRun, type PlanInput, type PlanModel } from "./plan.js";

const MiB = 1024 * 1024;
const model = (name: string, ram: number, extra: Partial<PlanModel> = {}): PlanModel => ({
  name,
  file: `${name}.gguf`,
  contextSize: 2048,
  gpuLayers: 0,
  estimate: { ram, vram: 0, parts: { weights: ram / 2, repacked: 0, context: ram / 4, overhead: ram / 4 } },
  ...extra,
});
const chain: Pipeline = {
  stages: [
    { id: "c", type: "single", model: "big", input_from: "b", params: {}, output_mode: "answer_only" },
    { id: "a", type: "single", model: "small", params: {}, output_mode: "answer_only" },
    { id: "b", type: "single", model: "small", input_from: "a", params: {}, output_mode: "answer_only" },
  ],
};

function input(overrides: Partial<PlanInput["memory"]> = {}, models: Record<string, PlanModel> = { small: model("small", 100 * MiB), big: model("big", 400 * MiB) }): PlanInput {
  return {
    pipeline: chain,
    models,
    maxTokens: () => 100,
    rates: {},
    memory: { freeRam: 1000 * MiB, safety: { ram: 0.8, vram: 0.9 }, budget: 2000 * MiB, maxLoadedModels: 4, loaded: [], ...overrides },
  };
}

describe("planRun", () => {
  it("loads each model once, in the DAG's order, and keeps it warm for the next stage", () => {
    const plan = planRun(input());
    expect(plan.steps.map((step) => [step.stageId, step.model, step.action])).toEqual([
      ["a", "small", "load"],
      ["b", "small", "warm"],
      ["c", "big", "load"],
    ]);
    expect(plan.fits).toBe(true);
    expect(plan.peakRam).toBe(500 * MiB);
    expect(plan.usableRam).toBe(800 * MiB);
  });

  it("unloads the least recently used model when max_loaded_models is reached, and counts its memory as free again", () => {
    const plan = planRun(input({ maxLoadedModels: 1, freeRam: 500 * MiB }));
    expect(plan.steps[2]).toMatchObject({ model: "big", action: "load", unloads: ["small"] });
    // 400 MiB usable; small's 100 MiB come back before big loads: 300 + 100 >= 400.
    expect(plan.fits).toBe(true);
    expect(plan.peakRam).toBe(400 * MiB);
  });

  it("refuses a model larger than the free RAM after the safety coefficient, and says what to change", () => {
    const plan = planRun(input({ freeRam: 400 * MiB }));
    expect(plan.fits).toBe(false);
    expect(plan.problems).toEqual([{ code: "ram", model: "big", need: 400 * MiB, available: 220 * MiB }]);
    expect(plan.advice).toContain("context_size");
    expect(plan.advice).toContain("quantization");
    expect(plan.advice).toContain("max_loaded_models");
  });

  it("refuses a model larger than the pool's budget", () => {
    const plan = planRun(input({ budget: 300 * MiB }));
    expect(plan.problems).toEqual([{ code: "budget", model: "big", need: 400 * MiB, budget: 300 * MiB }]);
    expect(plan.advice).toContain("memory_safety");
  });

  it("counts a model loaded before the run as warm, and the models it unloads as freed", () => {
    const plan = planRun(input({ loaded: [{ key: "small", name: "small", ram: 100 * MiB }], freeRam: 400 * MiB, maxLoadedModels: 1 }));
    expect(plan.steps.map((step) => step.action)).toEqual(["warm", "warm", "load"]);
    expect(plan.fits).toBe(true);
  });

  it("lists a remote model as remote, needing no local memory", () => {
    const models = { small: model("small", 100 * MiB), big: model("big", 0, { remote: { baseUrl: "http://127.0.0.1:9/v1", model: "x" }, estimate: undefined, file: undefined }) };
    const plan = planRun(input({ freeRam: 200 * MiB }, models));
    expect(plan.steps[2]).toMatchObject({ model: "big", action: "remote" });
    expect(plan.fits).toBe(true);
    expect(plan.unmeasured).toEqual(["small"]);
  });

  it("counts two names of one file with the same load settings as one load", () => {
    const models = { small: model("small", 100 * MiB, { loadKey: "same" }), big: model("big", 100 * MiB, { loadKey: "same" }) };
    const plan = planRun(input({ maxLoadedModels: 1 }, models));
    expect(plan.steps.map((step) => step.action)).toEqual(["load", "warm", "warm"]);
    expect(plan.peakRam).toBe(100 * MiB);
  });

  it("skips the stages a rerun reuses", () => {
    const plan = planRun({ ...input(), skipStages: new Set(["a", "b"]) });
    expect(plan.steps.map((step) => step.stageId)).toEqual(["c"]);
  });

  it("shows the stages the stage cache would serve as cached: no load, no memory, no time", () => {
    const rates = { tokensPerSecond: 100, timeToFirstTokenMs: 10, loadMs: 50, samples: 3 };
    const plan = planRun({ ...input({ freeRam: 200 * MiB }), rates: { small: rates, big: rates }, cachedStages: new Set(["a", "c"]) });
    expect(plan.steps.map((step) => [step.stageId, step.action, step.estimatedMs])).toEqual([
      ["a", "cached", 0],
      ["b", "load", 1060],
      ["c", "cached", 0],
    ]);
    // The big model (400 MiB, more than the 160 MiB usable) is not loaded: the plan fits.
    expect(plan.fits).toBe(true);
    expect(plan.models.map((used) => used.name)).toEqual(["small"]);
    expect(plan.peakRam).toBe(100 * MiB);
    expect(plan.estimatedMs).toBe(1060);
    // Not cached, the same run does not fit.
    expect(planRun({ ...input({ freeRam: 200 * MiB }), rates: { small: rates, big: rates } }).fits).toBe(false);
  });

  it("estimates time only from measured rates, and says which models have none", () => {
    const noRates = planRun(input());
    expect(noRates.estimatedMs).toBeUndefined();
    expect(noRates.unmeasured).toEqual(["small", "big"]);
    const rates = { tokensPerSecond: 100, timeToFirstTokenMs: 10, loadMs: 50, samples: 3 };
    const plan = planRun({ ...input(), rates: { small: rates, big: rates } });
    // Loads: 50 + 10 + 1000; warm: 10 + 1000.
    expect(plan.steps.map((step) => step.estimatedMs)).toEqual([1060, 1010, 1060]);
    expect(plan.estimatedMs).toBe(3130);
    expect(plan.unmeasured).toEqual([]);
    expect(plan.notEstimated).toEqual([]);
  });

  it("says the time is partial when remote calls are left out of it, and names them", () => {
    const models = { small: model("small", 100 * MiB), big: model("big", 0, { remote: { baseUrl: "http://127.0.0.1:9/v1", model: "x" }, estimate: undefined, file: undefined }) };
    const rates = { tokensPerSecond: 100, timeToFirstTokenMs: 10, loadMs: 50, samples: 3 };
    const plan = planRun({ ...input({}, models), rates: { small: rates } });
    expect(plan.estimatedMs).toBe(2070);
    expect(plan.notEstimated).toEqual(["big"]);
  });

  it("gives back an unloaded model's VRAM as well as its RAM", () => {
    const GiB = 1024 * MiB;
    const gpu = (name: string) => model(name, 100 * MiB, { gpuLayers: "max", estimate: { ram: 100 * MiB, vram: 6 * GiB } });
    const pipeline: Pipeline = {
      stages: [
        { id: "a", type: "single", model: "A", params: {}, output_mode: "answer_only" },
        { id: "b", type: "single", model: "B", input_from: "a", params: {}, output_mode: "answer_only" },
      ],
    };
    const memory = { freeVram: 10 * GiB, safety: { ram: 0.8, vram: 1 }, maxLoadedModels: 1 };
    const plan = planRun({ ...input(memory, { A: gpu("A"), B: gpu("B") }), pipeline });
    expect(plan.steps[1]).toMatchObject({ model: "B", action: "load", unloads: ["A"] });
    expect(plan.problems).toEqual([]);
    expect(plan.peakVram).toBe(6 * GiB);
    // A model loaded before the run holds VRAM the free figure leaves out: unloading it gives it back.
    const loaded = planRun({ ...input({ ...memory, freeVram: 4 * GiB, loaded: [{ key: "A", name: "A", ram: 100 * MiB, vram: 6 * GiB }] }, { A: gpu("A"), B: gpu("B") }), pipeline: { stages: [{ ...pipeline.stages[1]!, input_from: undefined }] } });
    expect(loaded.steps[0]).toMatchObject({ model: "B", action: "load", unloads: ["A"] });
    expect(loaded.problems).toEqual([]);
    // Without the unload (room for both) there is not enough VRAM.
    const both = planRun({ ...input({ ...memory, maxLoadedModels: 2 }, { A: gpu("A"), B: gpu("B") }), pipeline });
    expect(both.problems).toEqual([{ code: "vram", model: "B", need: 6 * GiB, available: 4 * GiB }]);
  });
});

describe("measuredRates", () => {
  it("takes the medians of past calls by model file, leaving out reused and cached stages and calls without a rate", () => {
    const output = (tokensPerSecond: number, loaded: boolean) => ({
      model: "m",
      prompt: "",
      answer: "",
      params: {},
      metrics: { tokensIn: 5, tokensOut: 10, timeToFirstTokenMs: tokensPerSecond / 10, tokensPerSecond, durationMs: 1 },
      stopReason: "max-tokens",
      chat: false,
      load: { loaded, loadMs: loaded ? 40 : 0, gpuLayers: 0, threads: 1 },
    });
    const session = (rate: number, copied: { reused?: boolean; cached?: boolean } = {}) => ({
      models: { m: { file: "m.gguf" } } as never,
      stages: { s: { stageId: "s", status: "completed" as const, reused: copied.reused ?? false, ...(copied.cached ? { cached: true } : {}), models: [output(rate, true), output(0, false)] } },
    });
    const rates = measuredRates([session(100), session(300), session(200), session(9999, { reused: true }), session(9999, { cached: true }), session(9999, { cached: true })]);
    expect(rates.get("m.gguf")).toEqual({ tokensPerSecond: 200, timeToFirstTokenMs: 20, loadMs: 40, samples: 3 });
  });
});
