/**
 * Integration: the plan before a run, on the real model through the real worker: what it says of the
 * base pipeline, the rates it learns from a run, and a run refused before any model loads.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import { createRuntime, type Runtime } from "../runtime/index.js";
import { RunManager } from "../server/run-manager.js";
import { storiesFile, tempDir, testModelsYaml, writeFiles } from "../testing/fixtures.js";
import { repackedSyntheticHere, writeSyntheticQ8 } from "../testing/synthetic-q8.js";
import { openTestStudio } from "../testing/studio.js";
import { Studio } from "./studio.js";

const pipelineYaml = `base_pipeline:
  stages:
    - id: draft
      type: single
      model: greedy
    - id: ending
      type: single
      model: warm
      input_from: draft
      params: { max_tokens: 8 }
`;

const opened: Array<{ studio: Studio; runtime: Runtime; cleanup: () => Promise<void> }> = [];
afterEach(async () => {
  for (const { studio, runtime, cleanup } of opened.splice(0)) {
    await studio.dispose();
    await runtime.dispose();
    await cleanup();
  }
});

/** A studio with its own runtime, so that its model loads are its own. */
async function open(modelsYaml: string) {
  const { dir, cleanup } = await tempDir();
  const runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
  const studio = await openTestStudio(dir, runtime, { modelsYaml, pipelineYaml });
  opened.push({ studio, runtime, cleanup });
  return { studio, runtime };
}

describe("the plan before a run", () => {
  it("lists the loads in order with their memory, and learns the model's rates from a run", async () => {
    const { studio } = await open(testModelsYaml());
    const before = await studio.plan({});
    expect(before.fits).toBe(true);
    expect(before.steps.map((step) => [step.stageId, step.model, step.action])).toEqual([
      ["draft", "greedy", "load"],
      // The same file with the same load settings: the worker's pool entry of greedy serves it.
      ["ending", "warm", "warm"],
    ]);
    const greedy = before.models.find((model) => model.name === "greedy")!;
    // Weights, context and the load's allowance: more than the 1.1 MiB file, far less than node-llama-cpp's 30+ MiB graph heuristic at this size.
    expect(greedy.estimate!.ram).toBeGreaterThan(greedy.estimate!.parts!.weights);
    expect(greedy.estimate!.parts!.weights).toBeGreaterThan(1_000_000);
    expect(before.unmeasured).toEqual(["greedy", "warm"]);
    expect(before.estimatedMs).toBeUndefined();

    expect((await studio.run({ input: "Once upon a time" })).status).toBe("completed");
    const after = await studio.plan({});
    // The same file under two names: both have its rates, and the pool holds what the run loaded.
    expect(after.unmeasured).toEqual([]);
    expect(after.rates.greedy!.tokensPerSecond).toBeGreaterThan(0);
    expect(after.estimatedMs).toBeGreaterThan(0);
    expect(after.steps.map((step) => step.action)).toEqual(["warm", "warm"]);
  });

  // The load's memory is read from Linux's /proc: elsewhere nothing is learned.
  it.runIf(process.platform === "linux" && repackedSyntheticHere() !== undefined)("counts what the CPU backend repacked of a model once a run has loaded it", async () => {
    // A model of a type llama.cpp repacks on this CPU (or may, where its rule is not known), in a models folder of its own.
    const { dir, cleanup } = await tempDir();
    const models = path.join(dir, "models");
    await mkdir(models);
    const { quantization, shape } = repackedSyntheticHere()!;
    const file = await writeSyntheticQ8(path.join(models, "synthetic.gguf"), shape, quantization);
    const runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
    await writeFiles(dir, { "config/models.yaml": testModelsYaml().replaceAll(storiesFile, "synthetic.gguf").replace("max_tokens: 24", "max_tokens: 4"), "config/pipeline.yaml": pipelineYaml });
    const studio = Studio.open({ cwd: dir, runtime, env: { PROJECT_LLM_CONFIG_DIR: path.join(dir, "config"), PROJECT_LLM_MODELS_DIR: models, PROJECT_LLM_SESSIONS_DIR: path.join(dir, "sessions") } });
    opened.push({ studio, runtime, cleanup });
    const estimate = async () => (await studio.plan({})).models.find((model) => model.name === "greedy")!.estimate!;
    const before = await estimate();
    expect(before.parts!.repacked).toBeGreaterThan(0);
    expect((await studio.run({ input: "Once upon a time" })).status).toBe("completed");
    expect(runtime.stats().estimatesChanged).toBe(1);
    // What the worker now says of the file (as the load measured it), not the plan made before the load.
    const learned = (await runtime.inspect(file, { contextSize: 512, gpuLayers: 0, threads: "auto" })).resident.parts.repacked;
    expect((await estimate()).parts!.repacked).toBe(learned);
  });

  it("refuses a run that cannot fit before any model loads, in the studio and through the run manager", async () => {
    // A memory budget far below what the model needs: 0.1% of the RAM.
    const { studio, runtime } = await open(testModelsYaml().replace("defaults:", "memory_safety: { ram: 0.001 }\ndefaults:"));
    const plan = await studio.plan({});
    expect(plan.fits).toBe(false);
    expect(plan.problems[0]).toMatchObject({ model: "greedy" });
    expect(plan.advice.length).toBeGreaterThan(0);

    const refusal = await studio.run({ input: "Once upon a time" }).catch((error: unknown) => error);
    expect(ProjectLlmError.isInstance(refusal) && refusal.code).toBe("plan-does-not-fit");
    const details = (refusal as ProjectLlmError).details!;
    expect(details.params).toMatchObject({ model: "greedy" });
    expect((details.plan as { fits: boolean }).fits).toBe(false);
    expect((refusal as Error).message).toMatch(/greedy needs .* change .*models\.yaml/);

    const runs = new RunManager(studio);
    await expect(runs.start({ pipeline: "base", input: "Once upon a time" })).rejects.toMatchObject({ code: "plan-does-not-fit" });
    expect((await studio.sessions.list()).total).toBe(0);
    expect(runtime.stats().modelLoads).toBe(0);
  });

  it("refuses a rerun whose stages to run cannot fit", async () => {
    const { studio, runtime } = await open(testModelsYaml());
    const session = await studio.run({ input: "Once upon a time" });
    const loads = runtime.stats().modelLoads;
    await runtime.unload();
    // The same folder, now with a memory budget that nothing fits in.
    await writeFiles(path.dirname(studio.paths.sessionsDir), { "config/models.yaml": testModelsYaml().replace("defaults:", "memory_safety: { ram: 0.001 }\ndefaults:") });
    // Without the stage cache: with it, the stage would be served from it (see the next test).
    await expect(studio.rerun(session.id, { fromStage: "ending", cache: false })).rejects.toMatchObject({ code: "plan-does-not-fit" });
    expect(runtime.stats().modelLoads).toBe(loads);
  });

  it("does not refuse a run or a rerun whose stages the stage cache serves, and refuses what would call a model", async () => {
    const { studio, runtime } = await open(testModelsYaml());
    const first = await studio.run({ input: "Once upon a time" });
    expect(first.status).toBe("completed");
    const loads = runtime.stats().modelLoads;
    await runtime.unload();
    await writeFiles(path.dirname(studio.paths.sessionsDir), { "config/models.yaml": testModelsYaml().replace("defaults:", "memory_safety: { ram: 0.001 }\ndefaults:") });
    const again = await studio.run({ input: "Once upon a time" });
    expect(again.status).toBe("completed");
    expect(Object.values(again.stages).map((record) => record.cached)).toEqual([true, true]);
    expect(again.finalAnswer).toBe(first.finalAnswer);
    const branch = await studio.rerun(again.id, { fromStage: "ending" });
    expect(branch.stages.ending).toMatchObject({ status: "completed", cached: true });
    expect(runtime.stats().modelLoads).toBe(loads);
    // Stages that would call a model are refused as before: without the cache, or with an input not seen yet.
    await expect(studio.run({ input: "Once upon a time", cache: false })).rejects.toMatchObject({ code: "plan-does-not-fit" });
    await expect(studio.run({ input: "A new story" })).rejects.toMatchObject({ code: "plan-does-not-fit" });
    await expect(new RunManager(studio).start({ pipeline: "base", input: "A new story" })).rejects.toMatchObject({ code: "plan-does-not-fit" });
    expect(runtime.stats().modelLoads).toBe(loads);
  });

  it("knows a loaded model by its load as configured, not by the context node-llama-cpp made", async () => {
    // node-llama-cpp rounds a context up to a multiple of 256 tokens: greedy's 1000 are 1024 once loaded.
    // `wide` is the same file with another context: a load of its own, which no run here makes.
    const models = testModelsYaml(`  wide:\n    file: ${storiesFile}\n    overrides: { context_size: 768 }\n`).replace("    required_for_base: true\n", "    required_for_base: true\n    overrides: { context_size: 1000 }\n");
    const { studio, runtime } = await open(models);
    expect((await studio.plan({})).steps.map((step) => [step.model, step.action])).toEqual([
      ["greedy", "load"],
      ["warm", "load"],
    ]);
    expect((await studio.run({ input: "Once upon a time" })).status).toBe("completed");
    expect((await runtime.status()).loaded.map((entry) => entry.contextSize).sort((a, b) => a - b)).toEqual([512, 1024]);
    expect((await studio.plan({})).steps.map((step) => [step.model, step.action])).toEqual([
      ["greedy", "warm"],
      ["warm", "warm"],
    ]);
    const loaded = Object.fromEntries((await studio.models()).map((model) => [model.name, [model.loaded, model.fileLoaded]]));
    // cool has warm's load: the same file and context. wide's file is held by the others' loads (its card offers to unload them).
    expect(loaded).toEqual({ greedy: [true, true], warm: [true, true], cool: [true, true], wide: [false, true] });
  });
});
