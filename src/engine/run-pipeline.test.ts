import { describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import type { Pipeline } from "../config/schema.js";
import { runEventSchema, stageRecordSchema, type RunEvent } from "./events.js";
import { runPipeline, type RunPipelineOptions } from "./run-pipeline.js";
import { defaultSynthesisPrompt, renderTemplate } from "./templates.js";
import { createFakePort, type FakeScript } from "./testing/fake-port.js";

type StageInput = Record<string, unknown> & { id: string };
function pipelineOf(...stages: StageInput[]): Pipeline {
  return {
    stages: stages.map((stage) => ({ output_mode: "answer_only", params: {}, ...stage })) as Pipeline["stages"],
  };
}

type EventOf<T extends RunEvent["type"]> = Extract<RunEvent, { type: T }>;
function ofType<T extends RunEvent["type"]>(events: RunEvent[], type: T, stageId?: string): Array<EventOf<T>> {
  return events.filter((event): event is EventOf<T> => event.type === type && (stageId === undefined || (event as { stageId?: string }).stageId === stageId));
}

/** Checks what every run must hold: valid events, seq 0.., run-start first, run-end last, per-stage order. */
function expectWellFormed(events: RunEvent[], eventCount: number) {
  for (const event of events) expect(runEventSchema.safeParse(event).success, JSON.stringify(event)).toBe(true);
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index));
  expect(eventCount).toBe(events.length);
  expect(events.every((event) => event.runId === "run-1")).toBe(true);
  expect(events[0]!.type).toBe("run-start");
  expect(events.at(-1)!.type).toBe("run-end");
  expect(ofType(events, "run-end")).toHaveLength(1);
  const stageIds = new Set(events.flatMap((event) => ("stageId" in event ? [event.stageId] : [])));
  for (const stageId of stageIds) {
    const types = events.filter((event) => "stageId" in event && event.stageId === stageId).map((event) => event.type);
    const last = types.at(-1);
    expect(last === "stage-end" || last === "stage-error", `${stageId}: ${types.join(",")}`).toBe(true);
    expect(types.filter((type) => type === "stage-end" || type === "stage-error")).toHaveLength(1);
    if (last === "stage-end") expect(types[0]).toBe("stage-start");
  }
}

async function run(pipeline: Pipeline, script: FakeScript = {}, extra: Partial<RunPipelineOptions> = {}) {
  const port = createFakePort(script);
  const events: RunEvent[] = [];
  const startedAt = Date.now();
  const result = await runPipeline({
    runId: "run-1",
    pipeline,
    pipelineName: "test",
    input: "hello",
    port,
    resolveModel: (name) => ({ name, path: `/models/${name}.gguf`, load: { context_size: 512, gpu_layers: 0, threads: 1 } }),
    resolveParams: (_name, params) => ({ temperature: 0, max_tokens: 16, ...params }),
    ...extra,
    onEvent: (event) => {
      events.push(event);
      extra.onEvent?.(event);
    },
  });
  const elapsedMs = Date.now() - startedAt;
  expectWellFormed(events, result.eventCount);
  // The stage records a session stores (the store checks their shape only: their content is checked here).
  for (const record of Object.values(result.stages)) expect(stageRecordSchema.safeParse(record).success, JSON.stringify(record)).toBe(true);
  return { result, events, port, elapsedMs };
}

const chain = () => pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2", input_from: "a" });

describe("runPipeline: data flow", () => {
  it("runs a chain, feeding each stage the output before it, streaming each answer as deltas", async () => {
    const { result, events } = await run(chain());
    expect(result.status).toBe("completed");
    expect(result.stages.a!.output).toBe("m1(hello)");
    expect(result.finalAnswer).toBe("m2(m1(hello))");
    expect(ofType(events, "stage-start", "b")[0]!.input).toBe("m1(hello)");
    const deltas = ofType(events, "stage-delta", "b");
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.every((event) => event.part === "model" && event.model === "m2")).toBe(true);
    expect(deltas.map((event) => event.text).join("")).toBe("m2(m1(hello))");
    expect(ofType(events, "run-end")[0]).toMatchObject({ status: "completed", finalAnswer: "m2(m1(hello))" });
  });

  it("passes the system prompt and the resolved parameters, and records them per model", async () => {
    const { result, port } = await run(pipelineOf({ id: "a", type: "single", model: "m1", system: "be brief", params: { max_tokens: 3, seed: 7 } }));
    expect(port.calls[0]).toMatchObject({ system: "be brief", params: { temperature: 0, max_tokens: 3, seed: 7 } });
    expect(result.stages.a!.models[0]).toMatchObject({ model: "m1", prompt: "hello", answer: "m1(hello)", params: { max_tokens: 3, seed: 7 }, chat: true, stopReason: "eos" });
  });

  it("merges a list input_from in the labelled format", async () => {
    const { port, events } = await run(
      pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2" }, { id: "c", type: "single", model: "m3", input_from: ["b", "a"] }),
    );
    const merged = "[stage: b]\nm2(hello)\n\n[stage: a]\nm1(hello)";
    expect(port.calls.find((call) => call.model === "m3")!.prompt).toBe(merged);
    expect(ofType(events, "stage-start", "c")[0]!.input).toBe(merged);
  });

  it("lets a prompt place each upstream output with {{stage.ID}} and the merged input with {{input}}", async () => {
    const { port } = await run(
      pipelineOf(
        { id: "a", type: "single", model: "m1" },
        { id: "b", type: "single", model: "m2" },
        { id: "c", type: "single", model: "m3", input_from: ["a", "b"], prompt: "B={{ stage.b }} A={{stage.a}} ALL={{input}}" },
      ),
    );
    expect(port.calls.find((call) => call.model === "m3")!.prompt).toBe("B=m2(hello) A=m1(hello) ALL=[stage: a]\nm1(hello)\n\n[stage: b]\nm2(hello)");
  });

  it("passes on the answer alone in answer_only mode", async () => {
    const { result } = await run(chain());
    expect(result.stages.a!.output).toBe(result.stages.a!.answer);
  });

  it("passes on the input, a blank line and the answer in input_plus_answer mode", async () => {
    const { result, events } = await run(
      pipelineOf({ id: "a", type: "single", model: "m1", output_mode: "input_plus_answer" }, { id: "b", type: "single", model: "m2", input_from: "a" }),
    );
    expect(result.stages.a!.answer).toBe("m1(hello)");
    expect(result.stages.a!.output).toBe("hello\n\nm1(hello)");
    expect(ofType(events, "stage-end", "a")[0]).toMatchObject({ answer: "m1(hello)", output: "hello\n\nm1(hello)" });
    expect(result.finalAnswer).toBe("m2(hello\n\nm1(hello))");
  });

  it("makes the final answer from every sink stage, labelled", async () => {
    const { result } = await run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2" }));
    expect(result.finalAnswer).toBe("[stage: a]\nm1(hello)\n\n[stage: b]\nm2(hello)");
  });

  it("rejects a pipeline that cannot run with config-invalid before any event", async () => {
    const events: RunEvent[] = [];
    const options = {
      runId: "run-1",
      pipelineName: "bad",
      input: "x",
      port: createFakePort(),
      resolveModel: () => ({ name: "m", path: "/m", load: { context_size: 512, gpu_layers: 0, threads: 1 } }),
      resolveParams: () => ({ temperature: 0, max_tokens: 1 }),
      onEvent: (event: RunEvent) => events.push(event),
    } as const;
    const unknown = runPipeline({ ...options, pipeline: pipelineOf({ id: "a", type: "single", model: "m", prompt: "{{stage.zz}}" }) });
    await expect(unknown).rejects.toSatisfy((error) => ProjectLlmError.isInstance(error) && error.code === "config-invalid" && /\{\{stage\.zz\}\}/.test(error.message));
    const cycle = runPipeline({
      ...options,
      pipeline: pipelineOf({ id: "a", type: "single", model: "m", input_from: "b" }, { id: "b", type: "single", model: "m", input_from: "a" }),
    });
    await expect(cycle).rejects.toThrow(/cycle: a → b → a|cycle: b → a → b/);
    expect(events).toEqual([]);
  });
});

describe("runPipeline: multi stages", () => {
  it("votes by majority after normalising, keeping the tallies and the winner's original text", async () => {
    const { result, events } = await run(pipelineOf({ id: "v", type: "multi", models: ["m1", "m2", "m3"], aggregation: { method: "vote" } }), {
      answer: { m1: "Red", m2: " blue", m3: "Blue." },
    });
    expect(result.stages.v!.answer).toBe(" blue");
    expect(result.stages.v!.aggregation).toEqual({
      method: "vote",
      tallies: [
        { answer: "red", votes: 1, models: ["m1"] },
        { answer: "blue", votes: 2, models: ["m2", "m3"] },
      ],
      winner: "blue",
      tie: false,
    });
    expect(new Set(ofType(events, "stage-delta", "v").map((event) => event.model))).toEqual(new Set(["m1", "m2", "m3"]));
  });

  it("breaks a tie in a vote by the stage's model order, not by who finished first", async () => {
    const { result } = await run(pipelineOf({ id: "v", type: "multi", models: ["slow", "fast"], aggregation: { method: "vote" } }), {
      answer: { fast: "red", slow: "blue" },
      chunkDelayMs: { slow: 30, fast: 0 },
    });
    expect(result.stages.v!.answer).toBe("blue");
    expect(result.stages.v!.aggregation).toMatchObject({ tie: true, winner: "blue", tallies: [{ models: ["slow"] }, { models: ["fast"] }] });
  });

  it("concatenates labelled answers with the separator", async () => {
    const { result } = await run(pipelineOf({ id: "c", type: "multi", models: ["m1", "m2"], aggregation: { method: "concat", separator: "\n---\n", labels: true } }));
    expect(result.stages.c!.answer).toBe("[model: m1]\nm1(hello)\n---\n[model: m2]\nm2(hello)");
    expect(result.stages.c!.aggregation).toEqual({ method: "concat" });
  });

  it("fills a custom aggregation template", async () => {
    const { result } = await run(
      pipelineOf({ id: "t", type: "multi", models: ["m1", "m2"], aggregation: { method: "template", template: "{{model.2}} said {{answer.2}}; {{answer.m1}} on {{ input }}" } }),
    );
    expect(result.stages.t!.answer).toBe("m2 said m2(hello); m1(hello) on hello");
  });

  it("synthesises with the named model, streaming its text as the aggregation part after the answers", async () => {
    const { result, events, port } = await run(
      pipelineOf({
        id: "s",
        type: "multi",
        models: ["m1", "m2"],
        params: { max_tokens: 9, temperature: 0.5 },
        aggregation: { method: "synthesis", model: "judge", prompt: "{{answers}}", params: { max_tokens: 5 } },
      }),
    );
    const judge = port.calls.find((call) => call.model === "judge")!;
    expect(judge.prompt).toBe("[model: m1]\nm1(hello)\n\n[model: m2]\nm2(hello)");
    expect(judge.params).toMatchObject({ max_tokens: 5, temperature: 0.5 });
    expect(result.stages.s!.answer).toBe(`judge(${judge.prompt})`);
    const deltas = ofType(events, "stage-delta", "s");
    const aggregationDeltas = deltas.filter((event) => event.part === "aggregation");
    expect(aggregationDeltas.every((event) => event.model === "judge")).toBe(true);
    expect(aggregationDeltas.map((event) => event.text).join("")).toBe(result.stages.s!.answer);
    const firstAggregation = deltas.findIndex((event) => event.part === "aggregation");
    expect(deltas.slice(firstAggregation).every((event) => event.part === "aggregation")).toBe(true);
    expect(deltas.filter((event) => event.part === "model").map((event) => event.model)).not.toContain("judge");
    expect(result.stages.s!.aggregation).toMatchObject({ method: "synthesis", output: { model: "judge", prompt: judge.prompt } });
    expect(result.stages.s!.models.map((output) => output.model)).toEqual(["m1", "m2"]);
  });

  it("uses the default synthesis prompt when the synthesis names none", async () => {
    const { port } = await run(pipelineOf({ id: "s", type: "multi", models: ["m1", "m2"], aggregation: { method: "synthesis", model: "judge", params: {} } }));
    const expected = renderTemplate(defaultSynthesisPrompt, { input: "hello", answers: "[model: m1]\nm1(hello)\n\n[model: m2]\nm2(hello)" }, "t");
    expect(port.calls.find((call) => call.model === "judge")!.prompt).toBe(expected);
    expect(expected).toContain("Request:\nhello\n");
  });

  it("sums tokens, takes the first model's time to first token and divides tokens out by wall time", async () => {
    const { result, events } = await run(pipelineOf({ id: "c", type: "multi", models: ["model-six", "m2"], aggregation: { method: "concat", separator: "\n", labels: false } }), {
      answer: { "model-six": "12345678", m2: "1234" },
      chunkDelayMs: 10,
    });
    const metrics = ofType(events, "stage-end", "c")[0]!.metrics;
    expect(metrics.tokensIn).toBe(10);
    expect(metrics.tokensOut).toBe(3);
    expect(metrics.timeToFirstTokenMs).toBe("model-six".length);
    expect(metrics.durationMs).toBeGreaterThanOrEqual(15);
    expect(metrics.tokensPerSecond).toBeCloseTo(3 / (metrics.durationMs / 1000), 5);
    expect(result.stages.c!.models.map((output) => output.metrics.tokensOut)).toEqual([2, 1]);
  });

  it("carries the prompt tokens evaluated per model, summed for a stage only when every call reports them", async () => {
    const pipeline = pipelineOf(
      { id: "c", type: "multi", models: ["m1", "m2"], aggregation: { method: "concat", separator: "\n", labels: false } },
      { id: "d", type: "multi", models: ["m1", "m3"], input_from: "c", aggregation: { method: "concat", separator: "\n", labels: false } },
    );
    const { result } = await run(pipeline, { promptTokensEvaluated: { m1: 2, m2: 3 } });
    expect(result.stages.c!.models.map((output) => output.metrics.promptTokensEvaluated)).toEqual([2, 3]);
    expect(result.stages.c!.metrics!.promptTokensEvaluated).toBe(5);
    expect(result.stages.d!.metrics!.promptTokensEvaluated).toBeUndefined();
  });

  it("aborts the sibling calls when one model fails, reporting one failure naming that model", async () => {
    const { result, events, port } = await run(
      pipelineOf({ id: "m", type: "multi", models: ["slow", "broken"], aggregation: { method: "concat", separator: "\n", labels: true } }),
      { failing: { broken: { code: "out-of-memory", afterChunks: 1 } }, chunkDelayMs: 20, answer: { slow: "x".repeat(200), broken: "yyyyyyyy" } },
    );
    expect(result.stages.m).toMatchObject({ status: "failed", error: { code: "out-of-memory" } });
    const errors = ofType(events, "stage-error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ stageId: "m", code: "out-of-memory", model: "broken" });
    expect(port.calls.find((call) => call.model === "slow")!.aborted).toBe(true);
    expect(result.error).toMatchObject({ code: "out-of-memory", stageId: "m" });
  });
});

describe("runPipeline: loading", () => {
  it("forwards load progress, then done before the first text; a warm model reports no load", async () => {
    const { events, result } = await run(
      pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m1", input_from: "a" }),
      { loading: { m1: [0.25, 0.75] } },
    );
    const first = events.filter((event) => "stageId" in event && event.stageId === "a").map((event) => (event.type === "stage-load" ? `load:${event.progress}:${event.done}` : event.type));
    expect(first.slice(0, 5)).toEqual(["stage-start", "load:0.25:false", "load:0.75:false", "load:1:true", "stage-delta"]);
    expect(ofType(events, "stage-load", "b")).toEqual([]);
    expect(result.stages.a!.models[0]!.load).toMatchObject({ loaded: true });
    expect(result.stages.b!.models[0]!.load).toMatchObject({ loaded: false });
  });
});

describe("runPipeline: scheduling", () => {
  it("runs independent stages at the same time: two slow stages take about as long as one", async () => {
    const slow = { chunkDelayMs: 40, answer: () => "12345678" };
    const one = await run(pipelineOf({ id: "a", type: "single", model: "m1" }), slow);
    const two = await run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m2" }), slow);
    expect(two.result.status).toBe("completed");
    const [first, second] = two.port.calls;
    expect(second!.startedAt).toBeLessThan(first!.endedAt!);
    expect(two.elapsedMs).toBeLessThan(one.elapsedMs * 1.5);
  });

  it("calls the models of a multi stage at the same time", async () => {
    const { port } = await run(pipelineOf({ id: "m", type: "multi", models: ["m1", "m2", "m3"], aggregation: { method: "vote" } }), { chunkDelayMs: 20 });
    const lastStart = Math.max(...port.calls.map((call) => call.startedAt));
    const firstEnd = Math.min(...port.calls.map((call) => call.endedAt!));
    expect(lastStart).toBeLessThan(firstEnd);
  });

  it("starts a dependent stage only after all of its inputs are done", async () => {
    const { port, events } = await run(
      pipelineOf({ id: "a", type: "single", model: "fast" }, { id: "b", type: "single", model: "slow" }, { id: "c", type: "single", model: "m3", input_from: ["a", "b"] }),
      { chunkDelayMs: { slow: 30, fast: 1 } },
    );
    const call = (model: string) => port.calls.find((item) => item.model === model)!;
    expect(call("m3").startedAt).toBeGreaterThanOrEqual(call("slow").endedAt!);
    const index = (type: RunEvent["type"], stageId: string) => events.findIndex((event) => event.type === type && "stageId" in event && event.stageId === stageId);
    expect(index("stage-start", "c")).toBeGreaterThan(index("stage-end", "b"));
    expect(index("stage-start", "c")).toBeGreaterThan(index("stage-end", "a"));
  });
});

describe("runPipeline: failures and cancellation", () => {
  it("fails the dependents of a failed stage, naming it, while an independent branch completes", async () => {
    const { result, events } = await run(
      pipelineOf(
        { id: "bad", type: "single", model: "broken" },
        { id: "after", type: "single", model: "m1", input_from: "bad" },
        { id: "later", type: "single", model: "m1", input_from: "after" },
        { id: "free", type: "single", model: "slow" },
      ),
      { failing: { broken: "generation-failed" }, chunkDelayMs: { slow: 20, broken: 0 } },
    );
    expect(result.status).toBe("failed");
    expect(result.stages.bad).toMatchObject({ status: "failed", error: { code: "generation-failed" } });
    expect(result.stages.after).toMatchObject({ status: "skipped", error: { code: "upstream-failed", causeStageId: "bad" } });
    expect(result.stages.later).toMatchObject({ status: "skipped", error: { code: "upstream-failed", causeStageId: "bad" } });
    const errors = ofType(events, "stage-error");
    expect(errors.map((event) => event.stageId)).toEqual(["bad", "after", "later"]);
    for (const event of errors.slice(1)) {
      expect(event).toMatchObject({ code: "upstream-failed", causeStageId: "bad" });
      expect(event.message).toContain("stage bad failed");
    }
    // The independent branch was still running when the failure was reported, and finished.
    expect(events.findIndex((event) => event.type === "stage-end" && event.stageId === "free")).toBeGreaterThan(events.indexOf(errors[0]!));
    expect(result.stages.free!.status).toBe("completed");
    expect(result.finalAnswer).toBeUndefined();
    expect(result.error).toMatchObject({ stageId: "bad", code: "generation-failed" });
    expect(result.error!.message).toContain("stage bad failed");
    expect(ofType(events, "run-end")[0]).toMatchObject({ status: "failed", error: { stageId: "bad" } });
  });

  it("carries the values a failure's message names, with the model, into its event, its record and the run's end", async () => {
    const { result, events } = await run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "small", input_from: "a" }, { id: "c", type: "single", model: "m1", input_from: "b" }), {
      failing: { small: { code: "context-overflow", afterChunks: 0, params: { tokens: 600, context: 256, setting: "context_size" } } },
    });
    const named = { tokens: 600, context: 256, setting: "context_size", model: "small" };
    expect(ofType(events, "stage-error", "b")[0]).toMatchObject({ code: "context-overflow", model: "small", message: "small: small broke", params: named });
    expect(result.stages.b!.error).toEqual({ code: "context-overflow", message: "small: small broke", params: named });
    expect(result.error).toMatchObject({ code: "context-overflow", stageId: "b", params: { ...named, stage: "b" } });
    expect(ofType(events, "run-end")[0]!.error).toEqual(result.error);
    // A stage that did not run names the failed stage and the input it waited for.
    expect(ofType(events, "stage-error", "c")[0]).toMatchObject({ code: "upstream-failed", params: { stage: "c", cause: "b", input: "b" } });
  });

  it("gives an error that is not ours the code generation-failed, its message as the detail", async () => {
    const { result } = await run(pipelineOf({ id: "a", type: "single", model: "m1" }), {}, {
      port: {
        generate: () => Promise.reject(new Error("llama_decode returned -1")),
      },
    });
    expect(result.stages.a!.error).toEqual({ code: "generation-failed", message: "m1: llama_decode returned -1", params: { reason: "error", model: "m1", detail: "llama_decode returned -1" } });
  });

  it("says in run-start that the pipeline was sent with the run", async () => {
    const sent = await run(chain(), {}, { inlinePipeline: true });
    expect(ofType(sent.events, "run-start")[0]!.inlinePipeline).toBe(true);
    const named = await run(chain());
    expect(ofType(named.events, "run-start")[0]).not.toHaveProperty("inlinePipeline");
  });

  it("fails a stage whose model cannot be resolved, with the resolver's code", async () => {
    const { result } = await run(chain(), {}, {
      resolveModel: (name) => {
        if (name === "m2") throw new ProjectLlmError("model-missing", "m2.gguf is not in the models folder");
        return { name, path: `/models/${name}.gguf`, load: { context_size: 512, gpu_layers: 0, threads: 1 } };
      },
    });
    expect(result.stages.a!.status).toBe("completed");
    expect(result.stages.b).toMatchObject({ status: "failed", error: { code: "model-missing" } });
  });

  it("reports an abort the run did not ask for as a failure, not a cancellation", async () => {
    const port = createFakePort();
    const { result } = await run(chain(), {}, {
      port: {
        generate: (request, options) =>
          request.model.name === "m2" ? Promise.reject(new ProjectLlmError("cancelled", "the worker stopped")) : port.generate(request, options),
      },
    });
    expect(result.status).toBe("failed");
    expect(result.stages.b).toMatchObject({ status: "failed", error: { code: "generation-failed" } });
    expect(result.stages.b!.error!.message).toContain("the worker stopped");
  });

  it("cancels mid-stream: the call is aborted, unfinished stages end cancelled, the run resolves cancelled", async () => {
    const controller = new AbortController();
    const { result, events, port } = await run(chain(), { chunkDelayMs: 10, answer: () => "z".repeat(400) }, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === "stage-delta" && event.seq > 5) controller.abort();
      },
    });
    expect(result.status).toBe("cancelled");
    expect(port.calls).toHaveLength(1);
    expect(port.calls[0]!.aborted).toBe(true);
    expect(result.stages.a).toMatchObject({ status: "cancelled", error: { code: "cancelled" } });
    expect(result.stages.b).toMatchObject({ status: "cancelled", error: { code: "cancelled" } });
    expect(ofType(events, "stage-error").map((event) => [event.stageId, event.code])).toEqual([
      ["a", "cancelled"],
      ["b", "cancelled"],
    ]);
    expect(ofType(events, "run-end")[0]).toMatchObject({ status: "cancelled", error: { code: "cancelled" } });
    expect(result.finalAnswer).toBeUndefined();
  });

  it("tells each call on a loaded model how many calls the stages still to compute may make on it at once", async () => {
    // m1 and m1b are one file with the same load settings; m2 is another file.
    const resolveModel = (name: string) => ({ name, path: `/models/${name === "m1b" ? "m1" : name}.gguf`, load: { context_size: 512, gpu_layers: 0, threads: 1 } });
    const pipeline = pipelineOf(
      { id: "draft", type: "single", model: "m1" },
      { id: "other", type: "single", model: "m2", input_from: "draft" },
      { id: "voices", type: "multi", models: ["m1", "m1b", "m2"], aggregation: { method: "concat" }, input_from: "draft" },
    );
    const { port } = await run(pipeline, {}, { resolveModel });
    // "other" runs beside "voices" (both read the draft): m2 may be called by both at once.
    expect(port.calls.map((call) => `${call.model}:${call.runTogether ?? 1}`)).toEqual(["m1:2", "m2:2", "m1:2", "m1b:2", "m2:2"]);
    // A rerun that reuses the multi stage computes no stage that calls m1 twice at once.
    const draftOnly = await run(pipeline, {}, { resolveModel, reuse: { voices: { stageId: "voices", status: "completed", reused: false, input: "", models: [], output: "v", answer: "v" } as never } });
    expect(draftOnly.port.calls.map((call) => `${call.model}:${call.runTogether ?? 1}`)).toEqual(["m1:1", "m2:1"]);
    // Two single stages that read one draft run at once on m1; join, on another model, runs beside no
    // stage, and a plain chain calls each model once at a time.
    const fanOut = pipelineOf(
      { id: "draft", type: "single", model: "m1" },
      { id: "left", type: "single", model: "m1", input_from: "draft" },
      { id: "right", type: "single", model: "m1b", input_from: "draft" },
      { id: "join", type: "single", model: "m2", input_from: ["left", "right"] },
    );
    const fanned = await run(fanOut, {}, { resolveModel });
    expect(fanned.port.calls.map((call) => `${call.model}:${call.runTogether ?? 1}`).sort()).toEqual(["m1:2", "m1:2", "m1b:2", "m2:1"]);
    const chained = await run(pipelineOf({ id: "a", type: "single", model: "m1" }, { id: "b", type: "single", model: "m1b", input_from: "a" }), {}, { resolveModel });
    expect(chained.port.calls.map((call) => `${call.model}:${call.runTogether ?? 1}`)).toEqual(["m1:1", "m1b:1"]);
    // A synthesis on m1 may run while a stage beside its multi stage calls m1.
    const synthesized = await run(
      pipelineOf(
        { id: "draft", type: "single", model: "m2" },
        { id: "panel", type: "multi", models: ["m2"], aggregation: { method: "synthesis", model: "m1" }, input_from: "draft" },
        { id: "aside", type: "single", model: "m1", input_from: "draft" },
      ),
      {},
      { resolveModel },
    );
    expect(synthesized.port.calls.map((call) => `${call.model}:${call.runTogether ?? 1}`).sort()).toEqual(["m1:2", "m1:2", "m2:1", "m2:1"]);
    // A synthesis on a model the stage's own models use comes after them: two at once, not three.
    const ownJudge = await run(pipelineOf({ id: "panel", type: "multi", models: ["m1", "m1b"], aggregation: { method: "synthesis", model: "m1" } }), {}, { resolveModel });
    expect(ownJudge.port.calls.map((call) => `${call.model}:${call.runTogether ?? 1}`)).toEqual(["m1:2", "m1b:2", "m1:2"]);
  });

  it("cancels a multi stage's calls together and reports the stage once", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const { result, events, port } = await run(
      pipelineOf({ id: "m", type: "multi", models: ["m1", "m2"], aggregation: { method: "synthesis", model: "judge", params: {} } }),
      { chunkDelayMs: 10, answer: () => "z".repeat(400) },
      { signal: controller.signal },
    );
    expect(result.status).toBe("cancelled");
    expect(port.calls.map((call) => call.aborted)).toEqual([true, true]);
    expect(ofType(events, "stage-error")).toEqual([expect.objectContaining({ stageId: "m", code: "cancelled" })]);
  });

  it("calls nothing when the signal is already aborted", async () => {
    const { result, port } = await run(chain(), {}, { signal: AbortSignal.abort() });
    expect(result.status).toBe("cancelled");
    expect(port.calls).toEqual([]);
    expect(Object.values(result.stages).map((record) => record.status)).toEqual(["cancelled", "cancelled"]);
  });
});

describe("runPipeline: reuse", () => {
  it("reuses stored stages without calling the model, and feeds their output downstream", async () => {
    const first = await run(chain());
    const stored = { ...first.result.stages.a!, output: "stored A" };
    const { result, port, events } = await run(chain(), {}, { reuse: { a: stored }, parentRunId: "run-0" });
    expect(port.calls.map((call) => call.model)).toEqual(["m2"]);
    expect(port.calls[0]!.prompt).toBe("stored A");
    expect(result.stages.a).toMatchObject({ reused: true, output: "stored A", status: "completed" });
    expect(result.finalAnswer).toBe("m2(stored A)");
    expect(events[0]).toMatchObject({ type: "run-start", reusedStageIds: ["a"], parentRunId: "run-0" });
    expect(ofType(events, "stage-start", "a")).toEqual([expect.objectContaining({ reused: true })]);
    expect(ofType(events, "stage-end", "a")).toEqual([expect.objectContaining({ reused: true, output: "stored A", models: stored.models })]);
    expect(ofType(events, "stage-delta", "a")).toEqual([]);
    expect(ofType(events, "stage-end", "b")[0]!.reused).toBe(false);
  });

  it("recomputes a stage whose stored record did not complete", async () => {
    const { port } = await run(chain(), {}, { reuse: { a: { stageId: "a", status: "failed", reused: false, models: [], error: { code: "generation-failed", message: "x" } } } });
    expect(port.calls.map((call) => call.model)).toEqual(["m1", "m2"]);
  });
});
