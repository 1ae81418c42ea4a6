import { describe, expect, it } from "vitest";
import type { Pipeline } from "../config/schema.js";
import { runPipeline, stagesInCache, type RunPipelineOptions } from "./run-pipeline.js";
import { createFakePort } from "./testing/fake-port.js";
import { createMemoryStageCache } from "./testing/memory-stage-cache.js";

type StageInput = Record<string, unknown> & { id: string };
const pipelineOf = (...stages: StageInput[]): Pipeline => ({ stages: stages.map((stage) => ({ output_mode: "answer_only", params: {}, ...stage })) as Pipeline["stages"] });
// a -> b -> c, and d apart (it samples at random: never cached).
const pipeline = (promptB = "{{input}}") =>
  pipelineOf(
    { id: "a", type: "single", model: "m1" },
    { id: "b", type: "single", model: "m2", input_from: "a", prompt: promptB },
    { id: "c", type: "single", model: "m1", input_from: "b" },
    { id: "d", type: "single", model: "m2", params: { temperature: 0.8 } },
  );
const resolve: Pick<RunPipelineOptions, "resolveModel" | "resolveParams"> = {
  resolveModel: (name) => ({ name, path: `/models/${name}.gguf`, load: { context_size: 512, gpu_layers: 0, threads: 1 } }),
  resolveParams: (_name, params) => ({ temperature: 0, max_tokens: 16, ...params }),
};

describe("stagesInCache", () => {
  it("finds before a run the stages the run serves from the cache, and none downstream of a stage that has to run", async () => {
    const cache = createMemoryStageCache();
    expect(await stagesInCache({ pipeline: pipeline(), input: "hello", cache, ...resolve })).toEqual(new Set());
    // A FAKE port: the cache is filled by a run as a real one fills it.
    await runPipeline({ runId: "run-1", pipelineName: "test", pipeline: pipeline(), input: "hello", port: createFakePort({}), cache, onEvent: () => undefined, ...resolve });
    expect(await stagesInCache({ pipeline: pipeline(), input: "hello", cache, ...resolve })).toEqual(new Set(["a", "b", "c"]));
    // b's prompt changed: b has to run, and c's input is not known before it has.
    expect(await stagesInCache({ pipeline: pipeline("Say: {{input}}"), input: "hello", cache, ...resolve })).toEqual(new Set(["a"]));
    expect(await stagesInCache({ pipeline: pipeline(), input: "other", cache, ...resolve })).toEqual(new Set());
  });

  it("takes a reused stage's stored output as its downstream stages' input", async () => {
    const cache = createMemoryStageCache();
    const first = await runPipeline({ runId: "run-1", pipelineName: "test", pipeline: pipeline(), input: "hello", port: createFakePort({}), cache, onEvent: () => undefined, ...resolve });
    const reuse = { a: first.stages.a! };
    expect(await stagesInCache({ pipeline: pipeline(), input: "hello", cache, reuse, ...resolve })).toEqual(new Set(["b", "c"]));
    // A reused record whose output differs from what was cached: b's key differs.
    expect(await stagesInCache({ pipeline: pipeline(), input: "hello", cache, reuse: { a: { ...first.stages.a!, output: "edited" } }, ...resolve })).toEqual(new Set());
  });
});
