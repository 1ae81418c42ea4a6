import { describe, expect, it } from "vitest";
import type { Pipeline } from "../config/schema.js";
import { runEventSchema, type RunEvent } from "./events.js";
import { createFakePort, type FakeScript } from "./testing/fake-port.js";
import { runPipeline, type RunPipelineOptions } from "./run-pipeline.js";

type StageInput = Record<string, unknown> & { id: string };
function pipelineOf(...stages: StageInput[]): Pipeline {
  return {
    stages: stages.map((stage) => ({ output_mode: "answer_only", params: {}, ...stage })) as Pipeline["stages"],
  };
}

async function run(pipeline: Pipeline, script: FakeScript = {}, extra: Partial<RunPipelineOptions> = {}) {
  const port = createFakePort(script);
  const events: RunEvent[] = [];
  const result = await runPipeline({
    runId: "run-1",
    pipeline,
    pipelineName: "test",
    input: "hello",
    port,
    resolveModel: (name) => ({ name, path: `/models/${name}.gguf`, load: { context_size: 512, gpu_layers: 0, threads: 1 } }),
    resolveParams: (_name, params) => ({ temperature: 0, max_tokens: 16, ...params }),
    onEvent: (event) => events.push(event),
    ...extra,
  });
  return { result, events, port };
}

describe("runPipeline", () => {
  it("runs a chain, feeding each stage the output before it, and emits valid events in order", async () => {
    const { result, events } = await run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2", input_from: "a" }));
    expect(result.status).toBe("completed");
    expect(result.stages.a!.output).toBe("m1(hello)");
    expect(result.finalAnswer).toBe("m2(m1(hello))");
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index));
    for (const event of events) expect(() => runEventSchema.parse(event)).not.toThrow();
    expect(events[0]!.type).toBe("run-start");
    expect(events.at(-1)!.type).toBe("run-end");
    const deltas = events.filter((event) => event.type === "stage-delta" && event.stageId === "b").map((event) => (event as { text: string }).text);
    expect(deltas.join("")).toBe("m2(m1(hello))");
  });

  it("merges a list input_from in the labelled format and lets a prompt place each stage", async () => {
    const merged = await run(
      pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2" }, { id: "c", type: "single", model: "m3", input_from: ["a", "b"] }),
    );
    expect(merged.port.calls.find((call) => call.model === "m3")!.prompt).toBe("[stage: a]\nm1(hello)\n\n[stage: b]\nm2(hello)");
    const placed = await run(
      pipelineOf(
        { id: "a", type: "single", model: "m1" },
        { id: "b", type: "single", model: "m2" },
        { id: "c", type: "single", model: "m3", input_from: ["a", "b"], prompt: "B={{ stage.b }} A={{stage.a}}" },
      ),
    );
    expect(placed.port.calls.find((call) => call.model === "m3")!.prompt).toBe("B=m2(hello) A=m1(hello)");
  });

  it("passes on the input plus the answer in input_plus_answer mode", async () => {
    const { result } = await run(pipelineOf({ id: "a", type: "single", model: "m1", output_mode: "input_plus_answer" }, { id: "b", type: "single", model: "m2", input_from: "a" }));
    expect(result.stages.a!.answer).toBe("m1(hello)");
    expect(result.stages.a!.output).toBe("hello\n\nm1(hello)");
    expect(result.finalAnswer).toBe("m2(hello\n\nm1(hello))");
  });

  it("votes by majority after normalising, keeping the tallies", async () => {
    const answers: Record<string, string> = { m1: "Blue.", m2: " blue", m3: "Red" };
    const { result } = await run(pipelineOf({ id: "v", type: "multi", models: ["m1", "m2", "m3"], aggregation: { method: "vote" } }), { answer: (model) => answers[model]! });
    expect(result.stages.v!.answer).toBe("Blue.");
    expect(result.stages.v!.aggregation).toEqual({
      method: "vote",
      tallies: [
        { answer: "blue", votes: 2, models: ["m1", "m2"] },
        { answer: "red", votes: 1, models: ["m3"] },
      ],
      winner: "blue",
      tie: false,
    });
  });

  it("breaks a tie in a vote by the stage's model order", async () => {
    const answers: Record<string, string> = { m1: "red", m2: "blue" };
    const { result } = await run(pipelineOf({ id: "v", type: "multi", models: ["m2", "m1"], aggregation: { method: "vote" } }), { answer: (model) => answers[model]! });
    expect(result.stages.v!.answer).toBe("blue");
    expect(result.stages.v!.aggregation).toMatchObject({ tie: true, winner: "blue" });
  });

  it("concatenates labelled answers, and fills a custom template", async () => {
    const concat = await run(pipelineOf({ id: "c", type: "multi", models: ["m1", "m2"], aggregation: { method: "concat", separator: "\n---\n", labels: true } }));
    expect(concat.result.stages.c!.answer).toBe("[model: m1]\nm1(hello)\n---\n[model: m2]\nm2(hello)");
    const template = await run(
      pipelineOf({ id: "t", type: "multi", models: ["m1", "m2"], aggregation: { method: "template", template: "{{model.2}} said {{answer.2}}; {{answer.m1}} on {{input}}" } }),
    );
    expect(template.result.stages.t!.answer).toBe("m2 said m2(hello); m1(hello) on hello");
  });

  it("synthesises with the named model, streaming its text as the aggregation part", async () => {
    const { result, events, port } = await run(
      pipelineOf({ id: "s", type: "multi", models: ["m1", "m2"], aggregation: { method: "synthesis", model: "judge", prompt: "{{answers}}", params: { max_tokens: 5 } } }),
    );
    const judge = port.calls.find((call) => call.model === "judge")!;
    expect(judge.prompt).toBe("[model: m1]\nm1(hello)\n\n[model: m2]\nm2(hello)");
    expect(judge.params.max_tokens).toBe(5);
    expect(result.stages.s!.answer).toBe(`judge(${judge.prompt})`);
    const parts = events.filter((event) => event.type === "stage-delta").map((event) => `${(event as { part: string }).part}:${(event as { model: string }).model}`);
    expect(new Set(parts)).toEqual(new Set(["model:m1", "model:m2", "aggregation:judge"]));
    expect(result.stages.s!.aggregation?.method).toBe("synthesis");
  });

  it("runs independent stages at the same time", async () => {
    const started = Date.now();
    const { result, port } = await run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2" }), { chunkDelayMs: 40, answer: () => "12345678" });
    expect(result.status).toBe("completed");
    const [first, second] = port.calls;
    expect(second!.startedAt).toBeLessThan(first!.endedAt!);
    expect(Date.now() - started).toBeLessThan(2 * 2 * 40 + 60);
  });

  it("fails the dependents of a failed stage, naming it, and still finishes an independent branch", async () => {
    const { result, events } = await run(
      pipelineOf(
        { id: "bad", type: "single", model: "broken" },
        { id: "after", type: "single", model: "m1", input_from: "bad" },
        { id: "later", type: "single", model: "m1", input_from: "after" },
        { id: "free", type: "single", model: "m2" },
      ),
      { failing: { broken: "out-of-memory" } },
    );
    expect(result.status).toBe("failed");
    expect(result.stages.bad).toMatchObject({ status: "failed", error: { code: "out-of-memory" } });
    expect(result.stages.after).toMatchObject({ status: "skipped", error: { code: "upstream-failed", causeStageId: "bad" } });
    expect(result.stages.later!.error!.causeStageId).toBe("bad");
    expect(result.stages.later!.error!.message).toContain("after");
    expect(result.stages.free!.status).toBe("completed");
    expect(result.error).toMatchObject({ stageId: "bad" });
    expect(events.filter((event) => event.type === "stage-error").map((event) => (event as { stageId: string }).stageId)).toEqual(["bad", "after", "later"]);
  });

  it("aborts the sibling calls of a multi stage when one model fails, reporting one failure", async () => {
    const { result, events } = await run(pipelineOf({ id: "m", type: "multi", models: ["broken", "slow"], aggregation: { method: "concat", separator: "\n", labels: true } }), {
      failing: { broken: "generation-failed" },
      chunkDelayMs: 20,
      answer: (model) => (model === "slow" ? "x".repeat(200) : "y"),
    });
    expect(result.stages.m).toMatchObject({ status: "failed", error: { code: "generation-failed" } });
    expect(events.filter((event) => event.type === "stage-error")).toHaveLength(1);
  });

  it("cancels mid-stream: the run resolves as cancelled and unfinished stages are marked cancelled", async () => {
    const controller = new AbortController();
    const pending = run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2", input_from: "a" }), { chunkDelayMs: 20, answer: () => "z".repeat(400) }, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === "stage-delta") controller.abort();
      },
    });
    const { result } = await pending;
    expect(result.status).toBe("cancelled");
    expect(result.stages.a).toMatchObject({ status: "cancelled", error: { code: "cancelled" } });
    expect(result.stages.b!.status).toBe("cancelled");
    expect(result.finalAnswer).toBeUndefined();
  });

  it("reuses stored stages without calling the model, and feeds their output downstream", async () => {
    const first = await run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2", input_from: "a" }));
    const stored = { ...first.result.stages.a!, output: "stored A" };
    const { result, port, events } = await run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2", input_from: "a" }), {}, { reuse: { a: stored } });
    expect(port.calls.map((call) => call.model)).toEqual(["m2"]);
    expect(result.stages.a!.reused).toBe(true);
    expect(result.finalAnswer).toBe("m2(stored A)");
    expect(events[0]).toMatchObject({ type: "run-start", reusedStageIds: ["a"] });
  });

  it("makes the final answer from every sink stage, labelled", async () => {
    const { result } = await run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2" }));
    expect(result.finalAnswer).toBe("[stage: a]\nm1(hello)\n\n[stage: b]\nm2(hello)");
  });
});
