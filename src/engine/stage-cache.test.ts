import { describe, expect, it } from "vitest";
import type { Pipeline } from "../config/schema.js";
import type { RunEvent } from "./events.js";
import { runPipeline, type RunPipelineOptions } from "./run-pipeline.js";
import { isDeterministic, type StageCachePort } from "./stage-cache.js";
import { createFakePort, type FakeScript } from "./testing/fake-port.js";
import { createMemoryStageCache } from "./testing/memory-stage-cache.js";

type StageInput = Record<string, unknown> & { id: string };
const pipelineOf = (...stages: StageInput[]): Pipeline => ({ stages: stages.map((stage) => ({ output_mode: "answer_only", params: {}, ...stage })) as Pipeline["stages"] });
const chain = (promptB = "{{input}}") =>
  pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2", input_from: "a", prompt: promptB }, { id: "c", type: "single", model: "m1", input_from: "b" });

/** A model the resolver does not know: its stage fails before any lookup. */
const resolveModel: RunPipelineOptions["resolveModel"] = (name) => {
  if (name === "gone") throw new Error("no such model");
  return { name, path: `/models/${name}.gguf`, load: { context_size: 512, gpu_layers: 0, threads: 1 } };
};

/** Runs `pipeline` on a FAKE port; answers the result, its events, the port and the stages served from the cache. */
async function run(pipeline: Pipeline, extra: Partial<RunPipelineOptions> = {}, script: FakeScript = {}) {
  const events: RunEvent[] = [];
  const options: RunPipelineOptions = {
    ...{ runId: "run-1", pipelineName: "test", input: "hello", resolveModel },
    pipeline,
    port: createFakePort({ loading: { m1: [0.5] }, ...script }),
    resolveParams: (_name, params) => ({ temperature: 0, max_tokens: 16, ...params }),
    onEvent: (event) => events.push(event),
    ...extra,
  };
  const result = await runPipeline(options);
  const cachedIds = events.flatMap((event) => (event.type === "stage-end" && event.cached ? [event.stageId] : []));
  return { result, events, port: options.port as ReturnType<typeof createFakePort>, cachedIds };
}

describe("the stage cache in runPipeline", () => {
  it("marks each call of a run without the stage cache fresh (a remote studio then computes it too), and no call of a run with it", async () => {
    expect((await run(chain())).port.calls.map((call) => call.fresh)).toEqual([true, true, true]);
    expect((await run(chain(), { cache: createMemoryStageCache() })).port.calls.map((call) => call.fresh)).toEqual([undefined, undefined, undefined]);
  });

  it("serves every stage of an unchanged deterministic run from the cache, calling no model", async () => {
    const cache = createMemoryStageCache();
    const first = await run(chain(), { cache });
    expect(first.cachedIds).toEqual([]);
    expect(cache.entries.size).toBe(3);
    const second = await run(chain(), { cache });
    expect(second.port.calls).toEqual([]);
    expect(second.cachedIds).toEqual(["a", "b", "c"]);
    expect(second.result.finalAnswer).toBe(first.result.finalAnswer);
    expect(second.result.stages.b).toMatchObject({ status: "completed", cached: true, reused: false, output: first.result.stages.b!.output, input: first.result.stages.a!.output });
    expect(second.events.filter((event) => event.type === "stage-delta" || event.type === "stage-load")).toEqual([]);
    // No model was loaded for it: the stored load reports are not carried over.
    expect(first.result.stages.a!.models[0]!.load).toBeDefined();
    expect(second.result.stages.a!.models[0]!.load).toBeUndefined();
    expect(second.result.stages.a!.models[0]!.answer).toBe(first.result.stages.a!.models[0]!.answer);
    // A stage served from the cache is not stored again.
    expect(cache.puts).toHaveLength(3);
  });

  it("after a prompt edit, recomputes the edited stage and those downstream only", async () => {
    const cache = createMemoryStageCache();
    await run(chain(), { cache });
    const edited = await run(chain("Say: {{input}}"), { cache });
    expect(edited.cachedIds).toEqual(["a"]);
    expect(edited.port.calls.map((call) => call.model)).toEqual(["m2", "m1"]);
  });

  it("recomputes a stage whose parameters changed, and keys on the model's load parameters too", async () => {
    const cache = createMemoryStageCache();
    const pipeline = pipelineOf({ id: "a", type: "single", model: "m1" });
    await run(pipeline, { cache });
    expect((await run(pipelineOf({ id: "a", type: "single", model: "m1", params: { max_tokens: 3 } }), { cache })).port.calls).toHaveLength(1);
    const otherContext = await run(pipeline, {
      cache,
      resolveModel: (name) => ({ name, path: `/models/${name}.gguf`, load: { context_size: 1024, gpu_layers: 0, threads: 1 } }),
    });
    expect(otherContext.port.calls).toHaveLength(1);
    expect((await run(pipeline, { cache })).port.calls).toHaveLength(0);
  });

  it("keys on ignore_eos: a stage that must write max_tokens is not served the answer that stopped at an end token", async () => {
    const cache = createMemoryStageCache();
    await run(pipelineOf({ id: "a", type: "single", model: "m1", params: { ignore_eos: false } }), { cache });
    const ignoring = pipelineOf({ id: "a", type: "single", model: "m1", params: { ignore_eos: true } });
    expect((await run(ignoring, { cache })).port.calls).toHaveLength(1);
    expect((await run(ignoring, { cache })).port.calls).toHaveLength(0);
  });

  it("keys on a stage's conversation history, which its models' calls carry and its synthesis's does not", async () => {
    const cache = createMemoryStageCache();
    const turns = (answer: string) => [
      { role: "user", content: "Hi" },
      { role: "assistant", content: answer },
    ];
    const first = await run(pipelineOf({ id: "a", type: "single", model: "m1", history: turns("Hello.") }), { cache });
    expect(first.port.calls.map((call) => call.history)).toEqual([turns("Hello.")]);
    expect((await run(pipelineOf({ id: "a", type: "single", model: "m1", history: turns("Hi there.") }), { cache })).port.calls).toHaveLength(1);
    expect((await run(pipelineOf({ id: "a", type: "single", model: "m1" }), { cache })).port.calls).toHaveLength(1);
    expect((await run(pipelineOf({ id: "a", type: "single", model: "m1", history: turns("Hello.") }), { cache })).port.calls).toHaveLength(0);
    const multi = await run(pipelineOf({ id: "v", type: "multi", models: ["m1", "m2"], history: turns("Hello."), aggregation: { method: "synthesis", model: "m1" } }));
    expect(multi.port.calls.map((call) => call.history)).toEqual([turns("Hello."), turns("Hello."), undefined]);
  });

  it("never looks up nor stores a stage that samples at random; a fixed seed makes it deterministic", async () => {
    const cache = createMemoryStageCache();
    const random = pipelineOf({ id: "a", type: "single", model: "m1", params: { temperature: 0.8 } });
    await run(random, { cache });
    const again = await run(random, { cache });
    expect(again.port.calls).toHaveLength(1);
    expect(cache.gets).toEqual([]);
    expect(cache.puts).toEqual([]);
    const seeded = pipelineOf({ id: "a", type: "single", model: "m1", params: { temperature: 0.8, seed: 42 } });
    await run(seeded, { cache });
    expect((await run(seeded, { cache })).cachedIds).toEqual(["a"]);
    expect(isDeterministic({ temperature: 0.8 })).toBe(false);
  });

  it("caches a stage that calls a remote model only when that model opts in (cache: true)", async () => {
    const remoteAs = (cache?: boolean): RunPipelineOptions["resolveModel"] => (name) => ({
      ...resolveModel(name),
      path: name === "m2" ? "" : `/models/${name}.gguf`,
      ...(name === "m2" ? { remote: { baseUrl: "http://gpu-box:8000/v1", model: "qwen", ...(cache === undefined ? {} : { cache }) } } : {}),
    });
    for (const optIn of [undefined, false]) {
      const cache = createMemoryStageCache();
      await run(chain(), { cache, resolveModel: remoteAs(optIn) });
      const again = await run(chain(), { cache, resolveModel: remoteAs(optIn) });
      // a (local) comes from the cache; b calls the remote model, and c reads b's fresh answer.
      expect(again.cachedIds).toEqual(["a", "c"]);
      expect(again.port.calls.map((call) => call.model)).toEqual(["m2"]);
      // b is neither looked up nor stored: two lookups a run, two stores in all.
      expect(cache.gets).toHaveLength(4);
      expect(cache.puts).toHaveLength(2);
      expect([...cache.gets, ...cache.puts].every((key) => key.calls.every((call) => call.model.remote === undefined))).toBe(true);
    }
    const cache = createMemoryStageCache();
    await run(chain(), { cache, resolveModel: remoteAs(true) });
    const optedIn = await run(chain(), { cache, resolveModel: remoteAs(true) });
    expect(optedIn.cachedIds).toEqual(["a", "b", "c"]);
    expect(optedIn.port.calls).toEqual([]);
  });

  it("keys a multi stage on every model's call and its synthesis; a random synthesis keeps it out", async () => {
    const cache = createMemoryStageCache();
    const multi = (synthesisParams: Record<string, unknown>) =>
      pipelineOf({ id: "m", type: "multi", models: ["m1", "m2"], aggregation: { method: "synthesis", model: "judge", params: synthesisParams } });
    const first = await run(multi({}), { cache });
    const second = await run(multi({}), { cache });
    expect(second.port.calls).toEqual([]);
    expect(second.result.stages.m!.aggregation).toMatchObject({ method: "synthesis", output: { model: "judge", answer: (first.result.stages.m!.aggregation as { output: { answer: string } }).output.answer } });
    expect((await run(multi({ max_tokens: 4 }), { cache })).port.calls.map((call) => call.model)).toEqual(["m1", "m2", "judge"]);
    const randomJudge = multi({ temperature: 1 });
    await run(randomJudge, { cache });
    expect((await run(randomJudge, { cache })).port.calls).toHaveLength(3);
  });

  it("keeps a rerun's reuse as it is and applies the cache to the stages it recomputes", async () => {
    const cache = createMemoryStageCache();
    const first = await run(chain(), { cache });
    const rerun = await run(chain(), { cache, reuse: { a: { ...first.result.stages.a!, output: "stored A" } } });
    expect(rerun.result.stages.a).toMatchObject({ reused: true });
    expect(rerun.result.stages.a!.cached).toBeUndefined();
    // b reads another input than before: computed; so is c, whose input is b's new output.
    expect(rerun.port.calls.map((call) => call.model)).toEqual(["m2", "m1"]);
    const same = await run(chain(), { cache, reuse: { a: first.result.stages.a! } });
    expect(same.cachedIds).toEqual(["b", "c"]);
    expect(same.port.calls).toEqual([]);
  });

  it("computes the stage when the cache fails, and completes the run when storing fails", async () => {
    const failing: StageCachePort = { get: () => Promise.reject(new Error("disk gone")), put: () => Promise.reject(new Error("disk full")) };
    const { result, port } = await run(chain(), { cache: failing });
    expect(result.status).toBe("completed");
    expect(port.calls).toHaveLength(3);
  });

  it("does not look up a stage whose model cannot be resolved: it fails as without a cache", async () => {
    const cache = createMemoryStageCache();
    const { result } = await run(pipelineOf({ id: "a", type: "single", model: "gone" }), { cache });
    expect(result.stages.a).toMatchObject({ status: "failed", error: { code: "generation-failed" } });
    expect(cache.gets).toEqual([]);
  });

  it("stores nothing of a failed stage", async () => {
    const cache = createMemoryStageCache();
    const { result } = await run(chain(), { cache }, { failing: { m2: "generation-failed" } });
    expect(result.status).toBe("failed");
    expect(cache.puts.map((key) => key.calls[0]!.name)).toEqual(["m1"]);
  });
});
