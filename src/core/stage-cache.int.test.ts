/**
 * Integration: the stage cache on the real model (stories260K.gguf), through the real inference worker and
 * the file session store. The runtime's own count of generations says which stages called the model.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SessionRecord } from "../store/index.js";
import { testModelsYaml, writeFiles } from "../testing/fixtures.js";
import { createRuntime } from "../runtime/index.js";
import { eachTestStudio, openTestStudio } from "../testing/studio.js";

// `hot` samples at random (no seed): never cached.
const modelsYaml = testModelsYaml("  hot:\n    file: stories260K.gguf\n    overrides: { temperature: 0.9 }\n");

/** draft -> panel (3 models, synthesis) -> ending; aside reads the input beside them. */
const pipelineYaml = (options: { panelPrompt?: string; endingTokens?: number } = {}) =>
  [
    "base_pipeline:",
    "  stages:",
    "    - { id: draft, type: single, model: greedy, output_mode: input_plus_answer }",
    `    - { id: panel, type: multi, input_from: draft, prompt: "${options.panelPrompt ?? "{{input}}"}", models: [greedy, warm, cool],`,
    '        aggregation: { method: synthesis, model: greedy, prompt: "{{answer.1}} {{answer.2}}" } }',
    `    - { id: ending, type: single, model: warm, input_from: [draft, panel], params: { max_tokens: ${options.endingTokens ?? 16} } }`,
    "    - { id: aside, type: single, model: cool }",
    "",
  ].join("\n");
const stageIds = ["draft", "panel", "ending", "aside"];
/** Model calls of a full run: draft 1, panel 3 + synthesis 1, ending 1, aside 1. */
const callsOfFullRun = 7;

const setup = eachTestStudio({ modelsYaml, pipelineYaml: pipelineYaml() });

/** Runs the base pipeline; answers the session, the stages served from the cache and the model calls made. */
async function run(options: { cache?: boolean; input?: string } = {}) {
  const before = setup.runtime.stats().generations;
  const session = await setup.studio.run({ input: options.input ?? "Once upon a time", ...(options.cache === undefined ? {} : { cache: options.cache }) });
  expect(session.status).toBe("completed");
  return { session, cached: cachedIds(session), calls: setup.runtime.stats().generations - before };
}
const cachedIds = (session: SessionRecord) => stageIds.filter((id) => session.stages[id]?.cached === true);

describe("the stage cache on the real model", () => {
  it("serves every stage of an unchanged rerun from the cache without a model call, after a restart too", async () => {
    const first = await run();
    expect(first.calls).toBe(callsOfFullRun);
    expect(first.cached).toEqual([]);

    const second = await run();
    expect(second.calls).toBe(0);
    expect(second.cached).toEqual(stageIds);
    expect(second.session.finalAnswer).toBe(first.session.finalAnswer);
    for (const id of stageIds) expect(second.session.stages[id]!.output).toBe(first.session.stages[id]!.output);
    const stored = await setup.studio.sessions.get(second.session.id);
    expect(stored.events!.filter((event) => event.type === "stage-end").every((event) => event.type === "stage-end" && event.cached === true)).toBe(true);
    expect(stored.events!.some((event) => event.type === "stage-delta")).toBe(false);

    // A new studio over the same folders (a restart) finds the same entries.
    await setup.reopen();
    const afterRestart = await run();
    expect(afterRestart.calls).toBe(0);
    expect(afterRestart.cached).toEqual(stageIds);
  });

  it("answers a rerun it serves whole without waiting for an inference worker: nothing is planned", async () => {
    await run();
    // A fresh runtime, as a CLI's rerun has: its worker is started with the run, and takes ~1 s to be up.
    const runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
    const studio = await openTestStudio(setup.root, runtime, { modelsYaml, pipelineYaml: pipelineYaml() });
    try {
      const session = await studio.run({ input: "Once upon a time" });
      expect(cachedIds(session)).toEqual(stageIds);
      // Its parallelism is known once the worker is up (\`auto\`): the run ended before that.
      expect(runtime.parallel).toBeUndefined();
      expect(runtime.stats().generations).toBe(0);
    } finally {
      await studio.dispose();
      await runtime.dispose();
    }
  });

  it("after an edit recomputes only the changed stages and those downstream", async () => {
    await run();
    await writeFiles(setup.root, { "config/pipeline.yaml": pipelineYaml({ panelPrompt: "Then: {{input}}" }) });
    const editedPrompt = await run();
    expect(editedPrompt.cached).toEqual(["draft", "aside"]);
    // panel: 3 models and the synthesis; ending reads panel.
    expect(editedPrompt.calls).toBe(5);

    await writeFiles(setup.root, { "config/pipeline.yaml": pipelineYaml({ panelPrompt: "Then: {{input}}", endingTokens: 8 }) });
    const editedParams = await run();
    expect(editedParams.cached).toEqual(["draft", "panel", "aside"]);
    expect(editedParams.calls).toBe(1);
  });

  it("has the plan with the run's input show the stages the cache would serve, and no others", async () => {
    const cachedInPlan = async (options: { input?: string; cache?: boolean }) =>
      (await setup.studio.plan(options)).steps.filter((step) => step.action === "cached").map((step) => step.stageId);
    const before = await setup.studio.plan({ input: "Once upon a time" });
    expect(before.steps.map((step) => step.action)).not.toContain("cached");
    await run();
    // Every model call the plan lists, of every stage, is now cached.
    const plan = await setup.studio.plan({ input: "Once upon a time" });
    expect(plan.steps.map((step) => [step.stageId, step.model])).toEqual(before.steps.map((step) => [step.stageId, step.model]));
    expect(plan.steps.map((step) => step.action)).toEqual(before.steps.map(() => "cached"));
    expect(plan.estimatedMs).toBe(0);
    expect(plan.models).toEqual([]);
    // Not for another input, a run that would not use the cache, or a plan asked without the input.
    expect(await cachedInPlan({ input: "The little dog" })).toEqual([]);
    expect(await cachedInPlan({ input: "Once upon a time", cache: false })).toEqual([]);
    expect(await cachedInPlan({})).toEqual([]);
    // After an edit, the stages it recomputes are planned, the others cached.
    await writeFiles(setup.root, { "config/pipeline.yaml": pipelineYaml({ panelPrompt: "Then: {{input}}" }) });
    expect([...new Set(await cachedInPlan({ input: "Once upon a time" }))]).toEqual(["draft", "aside"]);
    const edited = await run();
    expect(edited.cached).toEqual(["draft", "aside"]);
  });

  it("computes every stage of a run that opts out, and of a rerun that opts out", async () => {
    const first = await run();
    const optedOut = await run({ cache: false });
    expect(optedOut.cached).toEqual([]);
    expect(optedOut.calls).toBe(callsOfFullRun);
    const before = setup.runtime.stats().generations;
    const branch = await setup.studio.rerun(first.session.id, { fromStage: "panel", cache: false });
    expect(cachedIds(branch)).toEqual([]);
    expect(setup.runtime.stats().generations - before).toBe(5);
    // A rerun that does not opt out: draft and aside are reused as before, panel and ending come from the cache.
    const cachedBranch = await setup.studio.rerun(first.session.id, { fromStage: "panel" });
    expect(cachedIds(cachedBranch)).toEqual(["panel", "ending"]);
    expect(cachedBranch.stages.draft!.reused).toBe(true);
  });

  it("takes a deleted session's entries off the disk and computes those stages again", async () => {
    const first = await run();
    const cacheDir = path.join(setup.root, "sessions", "stage-cache");
    const entries = async () => (await readdir(cacheDir, { recursive: true })).filter((name) => /[0-9a-f]{64}\.json$/.test(name)).sort();
    const stored = await entries();
    // draft, panel, ending, aside: one entry per stage.
    expect(stored).toHaveLength(stageIds.length);
    const texts = await Promise.all(stored.map((name) => readFile(path.join(cacheDir, name), "utf8")));
    expect(texts.every((text) => text.includes(first.session.id))).toBe(true);

    await setup.studio.deleteSession(first.session.id);
    expect(await entries()).toEqual([]);
    expect(await readdir(path.join(cacheDir, "by-session"))).toEqual([]);
    const again = await run();
    expect(again.cached).toEqual([]);
    expect(again.calls).toBe(callsOfFullRun);
    expect((await run()).cached).toEqual(stageIds);
  });

  it("prunes the entries of a session that went without them (its file removed by hand)", async () => {
    const first = await run();
    await setup.studio.sessions.delete(first.session.id);
    expect(await setup.studio.stageCache.prune()).toEqual({ removed: stageIds.length, kept: 0 });
    const again = await run();
    expect(again.cached).toEqual([]);
    expect(again.calls).toBe(callsOfFullRun);
  });

  it("never caches a stage whose model samples at random", async () => {
    await writeFiles(setup.root, { "config/pipeline.yaml": "base_pipeline:\n  stages:\n    - id: draft\n      type: single\n      model: hot\n    - id: next\n      type: single\n      model: greedy\n      input_from: draft\n" });
    await run();
    const second = await run();
    expect(second.session.stages.draft!.cached).toBeUndefined();
    expect(second.calls).toBeGreaterThanOrEqual(1);
  });
});
