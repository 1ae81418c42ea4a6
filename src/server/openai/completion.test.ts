import { describe, expect, it } from "vitest";
import type { Pipeline } from "../../config/index.js";
import type { RunEvent, RunEventBody } from "../../engine/index.js";
import { cacheOption, completionParts, liveStage, type CompletionPart } from "./completion.js";

const single = (id: string, inputFrom?: string) => ({ id, type: "single" as const, model: "m", params: {}, output_mode: "answer_only" as const, ...(inputFrom ? { input_from: inputFrom } : {}) });
const chain = { stages: [single("draft"), single("ending", "draft")] };
const metrics = (tokensIn: number, tokensOut: number) => ({ tokensIn, tokensOut, timeToFirstTokenMs: 1, tokensPerSecond: 1, durationMs: 1 });
const call = (answer: string, stopReason: string, tokensIn: number, tokensOut: number) => ({ model: "m", prompt: "p", answer, params: {}, metrics: metrics(tokensIn, tokensOut), stopReason, chat: false });

function events(bodies: RunEventBody[]): AsyncIterable<RunEvent> {
  return (async function* () {
    let seq = 0;
    for (const body of bodies) yield { ...body, runId: "r", seq: seq++, at: 0 } as RunEvent;
  })();
}

async function parts(bodies: RunEventBody[], pipeline: Pick<Pipeline, "stages"> = chain): Promise<CompletionPart[]> {
  const all: CompletionPart[] = [];
  for await (const part of completionParts(events(bodies), pipeline)) all.push(part);
  return all;
}

const start: RunEventBody = { type: "run-start", pipeline: "p", input: "Hi", stages: [], reusedStageIds: [] };
const stageEnd = (stageId: string, answer: string, stopReason: string, tokensIn: number, tokensOut: number): RunEventBody => ({
  type: "stage-end",
  stageId,
  reused: false,
  output: answer,
  answer,
  metrics: metrics(tokensIn, tokensOut),
  models: [call(answer, stopReason, tokensIn, tokensOut)],
});

describe("a run read as a completion", () => {
  it("streams the final stage's text alone and counts the tokens of every stage", async () => {
    expect(
      await parts([
        start,
        { type: "stage-delta", stageId: "draft", model: "m", part: "model", text: "draft text" },
        stageEnd("draft", "draft text", "max-tokens", 3, 4),
        { type: "stage-delta", stageId: "ending", model: "m", part: "model", text: "The " },
        { type: "stage-delta", stageId: "ending", model: "m", part: "model", text: "end." },
        stageEnd("ending", "The end.", "eos", 6, 2),
        { type: "run-end", status: "completed", finalAnswer: "The end.", durationMs: 5 },
      ]),
    ).toEqual([
      { type: "start" },
      { type: "text", text: "The " },
      { type: "text", text: "end." },
      // The draft stopped at max_tokens, but it is not the answer: the answer stopped by itself.
      {
        type: "end",
        finishReason: "stop",
        usage: { prompt_tokens: 9, completion_tokens: 6, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { cached_tokens: 0 } },
        cachedStages: 0,
      },
    ]);
  });

  it("says length when the final stage stopped at max_tokens", async () => {
    const all = await parts([start, stageEnd("draft", "a", "eos", 1, 1), stageEnd("ending", "b", "max-tokens", 1, 1), { type: "run-end", status: "completed", finalAnswer: "b", durationMs: 1 }]);
    expect(all.at(-2)).toEqual({ type: "text", text: "b" });
    expect(all.at(-1)).toMatchObject({ type: "end", finishReason: "length" });
  });

  it("sends a vote's answer whole at the end", async () => {
    const vote = { stages: [{ id: "panel", type: "multi" as const, models: ["m", "m"], aggregation: { method: "vote" as const }, params: {}, output_mode: "answer_only" as const }] };
    expect(liveStage(vote)).toBeUndefined();
    const all = await parts([start, { type: "stage-delta", stageId: "panel", model: "m", part: "model", text: "yes" }, { type: "run-end", status: "completed", finalAnswer: "yes", durationMs: 1 }], vote);
    expect(all.filter((part) => part.type === "text")).toEqual([{ type: "text", text: "yes" }]);
  });

  it("ends with the run's error when it did not complete", async () => {
    const all = await parts([start, { type: "run-end", status: "cancelled", durationMs: 1, error: { code: "cancelled", message: "the run was cancelled by its user" } }]);
    expect(all.at(-1)).toMatchObject({ type: "error", error: { code: "cancelled" } });
    const failed = await parts([start, { type: "run-end", status: "failed", durationMs: 1, error: { code: "context-overflow", message: "too long" } }]);
    expect(failed.at(-1)).toMatchObject({ type: "error", error: { code: "context-overflow", message: "too long" } });
  });

  it("counts a stage served from the stage cache with its stored tokens, and says they were not computed now", async () => {
    const cachedDraft = { ...stageEnd("draft", "draft text", "eos", 5, 7), cached: true } as RunEventBody;
    // The ending was computed, 4 of its 6 prompt tokens kept in the model's KV cache from an earlier call.
    const ending = stageEnd("ending", "The end.", "eos", 6, 2) as Extract<RunEventBody, { type: "stage-end" }>;
    const all = await parts([start, cachedDraft, { ...ending, metrics: { ...ending.metrics, promptTokensEvaluated: 2 } }, { type: "run-end", status: "completed", finalAnswer: "The end.", durationMs: 1 }]);
    expect(all.at(-1)).toEqual({
      type: "end",
      finishReason: "stop",
      usage: { prompt_tokens: 11, completion_tokens: 9, total_tokens: 20, prompt_tokens_details: { cached_tokens: 5 + 4 }, completion_tokens_details: { cached_tokens: 7 } },
      cachedStages: 1,
    });
  });
});

describe("the stage cache of a completion", () => {
  it("takes the body's cache first, then the header a studio sends for a run without its cache", () => {
    expect(cacheOption({})).toEqual({});
    expect(cacheOption({}, true)).toEqual({ cache: false });
    expect(cacheOption({ cache: null }, true)).toEqual({ cache: false });
    expect(cacheOption({ cache: true }, true)).toEqual({ cache: true });
    expect(cacheOption({ cache: false })).toEqual({ cache: false });
  });
});
