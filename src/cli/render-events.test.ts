import { describe, expect, it } from "vitest";
import type { RunEvent } from "../engine/index.js";
import { createEventRenderer } from "./render-events.js";

/** A stream that keeps what is written (not a terminal: no colours). */
function capture(): NodeJS.WriteStream & { text: string } {
  const stream = { text: "", isTTY: false, write: (chunk: string) => ((stream.text += chunk), true) };
  return stream as unknown as NodeJS.WriteStream & { text: string };
}

describe("the terminal renderer", () => {
  it("says a run's place in the queue on stderr, then its stages on stdout", () => {
    const out = capture();
    const err = capture();
    const render = createEventRenderer(out, err);
    const runId = "20261130-120000-abcdef";
    const events: RunEvent[] = [
      { type: "run-queued", runId, seq: 0, at: 1, ahead: 2 },
      { type: "run-queued", runId, seq: 1, at: 2, ahead: 0 },
      { type: "run-start", runId, seq: 2, at: 3, pipeline: "base", input: "Hi", stages: [{ id: "a", type: "single", models: ["m"], inputFrom: [] }], reusedStageIds: [] },
      { type: "stage-start", runId, seq: 3, at: 4, stageId: "a", input: "Hi", reused: false },
      { type: "stage-delta", runId, seq: 4, at: 5, stageId: "a", model: "m", part: "model", text: "Hello" },
    ];
    for (const event of events) render(event);
    expect(err.text).toContain(`run ${runId} · waiting for a place: 2 ahead\n`);
    expect(err.text).toContain("waiting for a place: 0 ahead\n");
    expect(out.text).toContain("Hello");
    expect(out.text).not.toContain("waiting");
  });
});
