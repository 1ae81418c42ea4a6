import { describe, expect, it } from "vitest";
import type { RunEvent } from "../engine/index.js";
import { applyEvents, callSegments, emptyRunView, stageColumns, textBlocks } from "./run-view.js";

const runId = "20261127-120000-abcdef";
let seq = 0;
const at = 1_000;
function event<T extends RunEvent["type"]>(type: T, body: Omit<Extract<RunEvent, { type: T }>, "type" | "runId" | "seq" | "at">): RunEvent {
  return { type, runId, seq: seq++, at: at + seq, ...body } as unknown as RunEvent;
}
const metrics = { tokensIn: 3, tokensOut: 2, timeToFirstTokenMs: 1, tokensPerSecond: 100, durationMs: 5 };

function events(): RunEvent[] {
  seq = 0;
  return [
    event("run-start", {
      pipeline: "base",
      input: "Hi",
      reusedStageIds: [],
      stages: [
        { id: "a", type: "single", models: ["m"], inputFrom: [] },
        { id: "b", type: "multi", models: ["m", "n"], inputFrom: ["a"], aggregation: "synthesis" },
        { id: "c", type: "single", models: ["n"], inputFrom: ["a", "b"] },
      ],
    }),
    event("stage-start", { stageId: "a", input: "Hi", reused: false }),
    event("stage-load", { stageId: "a", model: "m", progress: 0.5, done: false }),
    event("stage-delta", { stageId: "a", model: "m", part: "model", text: "Hel" }),
    event("stage-delta", { stageId: "a", model: "m", part: "model", text: "lo" }),
  ];
}

describe("the run view", () => {
  it("marks a stage served from the stage cache as cached, with its stored answer", () => {
    seq = 0;
    const stored = { model: "m", prompt: "Hi", answer: "Hello there", params: {}, metrics, stopReason: "eos", chat: false };
    const view = applyEvents(emptyRunView, [
      event("run-start", { pipeline: "base", input: "Hi", reusedStageIds: [], stages: [{ id: "a", type: "single", models: ["m"], inputFrom: [] }] }),
      event("stage-start", { stageId: "a", input: "Hi", reused: false }),
      event("stage-end", { stageId: "a", reused: false, cached: true, output: "Hello there", answer: "Hello there", metrics, models: [stored] }),
    ]);
    expect(view.stages.a).toMatchObject({ state: "cached" });
    expect(view.stages.a!.lanes.m!.text).toBe("Hello there");
  });

  it("stops the stages in progress of a run whose process never ended it, keeping their text, and marks the others not run", () => {
    const stored = events();
    const view = applyEvents(applyEvents(emptyRunView, stored), [event("run-end", { status: "interrupted", durationMs: 30, error: { code: "interrupted", message: "stopped" } })]);
    expect(view.status).toBe("interrupted");
    expect(view.stages.a).toMatchObject({ state: "interrupted", endedAt: view.endedAt });
    expect(view.stages.a!.lanes.m).toMatchObject({ text: "Hello", loading: false });
    expect(view.stages.b!.state).toBe("skipped");
    expect(view.stages.c!.state).toBe("skipped");
  });

  it("shows a waiting run's place as it moves, until the run starts", () => {
    seq = 0;
    const waiting = [event("run-queued", { ahead: 2 }), event("run-queued", { ahead: 1 })];
    const queued = applyEvents(emptyRunView, waiting);
    expect(queued).toMatchObject({ status: "queued", ahead: 1, runId });
    const rest = events().map((item) => ({ ...item, seq: item.seq + 2 }));
    const running = applyEvents(queued, rest);
    expect(running.status).toBe("running");
    expect(running.ahead).toBeUndefined();
    expect(running.stages.a!.lanes.m!.text).toBe("Hello");
  });

  it("folds events into stages, appending streamed text per model", () => {
    const view = applyEvents(emptyRunView, events());
    expect(view.status).toBe("running");
    expect(view.order).toEqual(["a", "b", "c"]);
    expect(view.stages.a).toMatchObject({ state: "generating", input: "Hi" });
    expect(view.stages.a!.lanes.m!.text).toBe("Hello");
    expect(view.stages.b!.state).toBe("waiting");
    expect(view.firstTextAt).toBeDefined();
  });

  it("applies each event once, and keeps the objects of stages that did not change", () => {
    const all = events();
    const first = applyEvents(emptyRunView, all);
    // A replay of events already applied (a reconnect) changes nothing.
    expect(applyEvents(first, all.slice(2))).toEqual(first);
    const next = applyEvents(first, [event("stage-delta", { stageId: "a", model: "m", part: "model", text: "!" })]);
    expect(next.stages.a!.lanes.m!.text).toBe("Hello!");
    expect(next.stages.b).toBe(first.stages.b);
    expect(next.stages.a).not.toBe(first.stages.a);
    expect(first.stages.a!.lanes.m!.text).toBe("Hello");
  });

  it("takes the stored answer at the stage's end and ends the run; a stage stopped by an earlier failure is skipped, not failed; a failed stage loads nothing more", () => {
    const view = applyEvents(emptyRunView, [
      ...events(),
      event("stage-end", {
        stageId: "a",
        reused: false,
        output: "Hello there",
        answer: "Hello there",
        metrics,
        models: [{ model: "m", prompt: "Hi", answer: "Hello there", params: {}, metrics, stopReason: "maxTokens", chat: false }],
      }),
      event("stage-load", { stageId: "b", model: "n", progress: 0.5, done: false }),
      event("stage-error", { stageId: "b", code: "generation-failed", message: "boom", model: "n" }),
      event("stage-error", { stageId: "c", code: "upstream-failed", message: 'stage "b" failed', causeStageId: "b" }),
      event("run-end", { status: "failed", durationMs: 9, error: { code: "generation-failed", message: "boom", stageId: "b" } }),
    ]);
    expect(view.stages.a).toMatchObject({ state: "done" });
    expect(view.stages.a!.lanes.m!.text).toBe("Hello there");
    expect(view.stages.b!.state).toBe("failed");
    expect(view.stages.c).toMatchObject({ state: "skipped", error: { code: "upstream-failed", causeStageId: "b" } });
    expect(view.stages.b!.lanes.n!.loading).toBe(false);
    expect(view.status).toBe("failed");
  });

  it("lays stages out in columns by depth", () => {
    const view = applyEvents(emptyRunView, events());
    expect(stageColumns(view)).toEqual([["a"], ["b"], ["c"]]);
  });
});

describe("a model call on the timeline", () => {
  it("keeps when its model began to load and was loaded, from the load events", () => {
    const view = applyEvents(emptyRunView, [
      ...events().slice(0, 3),
      event("stage-load", { stageId: "a", model: "m", progress: 1, done: false }),
      event("stage-load", { stageId: "a", model: "m", progress: 1, done: true }),
    ]);
    // The first load event (a half) is the third event; the one with the whole model the sixth (see `event`).
    expect(view.stages.a!.lanes.m).toMatchObject({ loadStartAt: at + 3, loadedAt: at + 6, loading: false });
  });

  it("is cut into waiting, loading, reading and generating, as far as the events tell", () => {
    expect(callSegments({ start: 0, loadStartAt: 800, loadedAt: 810, readAt: 811, firstAt: 830, end: 1000 })).toEqual([
      { kind: "waiting", from: 0, to: 800 },
      { kind: "loading", from: 800, to: 811 },
      { kind: "reading", from: 811, to: 830 },
      { kind: "generating", from: 830, to: 1000 },
    ]);
    // A warm model loads nothing; while the stage goes, its reading is not known yet.
    expect(callSegments({ start: 0, firstAt: 5, end: 50 })).toEqual([
      { kind: "waiting", from: 0, to: 5 },
      { kind: "generating", from: 5, to: 50 },
    ]);
    // A call still waiting at the run's latest event.
    expect(callSegments({ start: 10, end: 40 })).toEqual([{ kind: "waiting", from: 10, to: 40 }]);
    // A call whose text all came at once generated, for no time the events can measure.
    expect(callSegments({ start: 0, firstAt: 5, end: 5 })).toEqual([
      { kind: "waiting", from: 0, to: 5 },
      { kind: "generating", from: 5, to: 5 },
    ]);
  });

  it("never lets a part start before the last ended, and ends a failed call with its failure", () => {
    // The call's own start (from its time to first token) is a millisecond before the load's last event.
    expect(callSegments({ start: 0, loadStartAt: 100, loadedAt: 120, readAt: 119, end: 150, failed: true })).toEqual([
      { kind: "waiting", from: 0, to: 100 },
      { kind: "loading", from: 100, to: 119 },
      { kind: "failed", from: 119, to: 150 },
    ]);
  });
});

describe("text blocks", () => {
  it("cut after a line break past the size, keep every character, and never move an earlier cut", () => {
    const text = Array.from({ length: 400 }, (_, index) => `line ${index} of a long answer`).join("\n");
    const blocks = textBlocks(text, 256);
    expect(blocks.join("")).toBe(text);
    expect(blocks.length).toBeGreaterThan(10);
    for (const block of blocks.slice(0, -1)) {
      expect(block.endsWith("\n")).toBe(true);
      expect(block.length).toBeGreaterThanOrEqual(256);
    }
    // Growing the text changes the last block only.
    for (const cut of [1000, 5000, 9000]) {
      const before = textBlocks(text.slice(0, cut), 256);
      const after = textBlocks(text, 256);
      expect(after.slice(0, before.length - 1)).toEqual(before.slice(0, -1));
    }
  });

  it("cuts a text without line breaks at four times the size", () => {
    const blocks = textBlocks("x".repeat(5000), 256);
    expect(blocks.slice(0, -1).every((block) => block.length === 1024)).toBe(true);
    expect(blocks.join("")).toHaveLength(5000);
    expect(textBlocks("")).toEqual([]);
  });
});
