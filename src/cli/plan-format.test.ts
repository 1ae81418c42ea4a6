import { describe, expect, it } from "vitest";
import { planRun, type PlanModel } from "../core/plan.js";
import { formatPlan } from "./commands/plan.js";

const MiB = 1024 * 1024;
const local: PlanModel = { name: "local", file: "local.gguf", contextSize: 512, gpuLayers: 0, estimate: { ram: 10 * MiB, vram: 0 } };
const remote: PlanModel = { name: "far", contextSize: 512, gpuLayers: 0, remote: { baseUrl: "http://127.0.0.1:9/v1", model: "x" } };
const memory = { freeRam: 1000 * MiB, safety: { ram: 0.8, vram: 0.9 }, budget: 800 * MiB, maxLoadedModels: 2, loaded: [] };
const rates = { local: { tokensPerSecond: 100, timeToFirstTokenMs: 10, loadMs: 40, samples: 2 } };

describe("formatPlan", () => {
  it("says the time is partial and names the remote models it leaves out", () => {
    const plan = planRun({
      pipeline: {
        stages: [
          { id: "a", type: "single", model: "local", params: {}, output_mode: "answer_only" },
          { id: "b", type: "single", model: "far", input_from: "a", params: {}, output_mode: "answer_only" },
        ],
      },
      models: { local, far: remote },
      maxTokens: () => 100,
      rates,
      memory,
    });
    const text = formatPlan(plan);
    expect(text).toMatch(/time: partial: up to .* for the local stages; far \(remote\) not estimated/);
    expect(text).toMatch(/b +far +remote .*remote: not estimated/);
  });

  it("says a remote-only run is not estimated", () => {
    const plan = planRun({
      pipeline: { stages: [{ id: "b", type: "single", model: "far", params: {}, output_mode: "answer_only" }] },
      models: { far: remote },
      maxTokens: () => 100,
      rates: {},
      memory,
    });
    expect(formatPlan(plan)).toContain("time: remote: not estimated (far)");
  });

  it("shows the stages the stage cache would serve as cached, and a run served whole from it", () => {
    const stages = [
      { id: "a", type: "single" as const, model: "local", params: {}, output_mode: "answer_only" as const },
      { id: "b", type: "single" as const, model: "local", input_from: "a", params: {}, output_mode: "answer_only" as const },
    ];
    const part = formatPlan(planRun({ pipeline: { stages }, models: { local }, maxTokens: () => 100, rates, memory, cachedStages: new Set(["a"]) }));
    expect(part).toMatch(/a +local +cached .*from the stage cache/);
    expect(part).toMatch(/b +local +load /);
    const whole = formatPlan(planRun({ pipeline: { stages }, models: { local }, maxTokens: () => 100, rates, memory, cachedStages: new Set(["a", "b"]) }));
    expect(whole).toContain("time: every stage from the stage cache: no model is called");
  });
});
