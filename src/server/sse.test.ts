import { describe, expect, it } from "vitest";
import type { RunEvent } from "../engine/index.js";
import { eventStream } from "./sse.js";

const delta = (seq: number): RunEvent => ({ type: "stage-delta", runId: "20260101-000000-abcdef", seq, at: seq, stageId: "s", model: "m", part: "model", text: `w${seq} ` });

/** An endless run that counts how many events were taken from it. */
function endless() {
  const state = { taken: 0, returned: false };
  async function* events(): AsyncGenerator<RunEvent> {
    try {
      for (;;) yield delta(state.taken++);
    } finally {
      state.returned = true;
    }
  }
  return { state, events: events() };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe("eventStream", () => {
  it("writes each event with its id, type and data, then ends with the run", async () => {
    async function* two(): AsyncGenerator<RunEvent> {
      yield delta(0);
      yield { type: "run-end", runId: "20260101-000000-abcdef", seq: 1, at: 1, status: "completed", durationMs: 1 };
    }
    const text = await new Response(eventStream(two())).text();
    expect(text).toBe(
      `retry: 1000\n\nid: 0\nevent: stage-delta\ndata: ${JSON.stringify(delta(0))}\n\n` +
        `id: 1\nevent: run-end\ndata: {"type":"run-end","runId":"20260101-000000-abcdef","seq":1,"at":1,"status":"completed","durationMs":1}\n\n`,
    );
  });

  it("takes events only as fast as the client reads them", async () => {
    const { state, events } = endless();
    const reader = eventStream(events).getReader();
    await settle();
    // Nobody reads: only the queue's worth was taken from an endless run.
    expect(state.taken).toBeLessThanOrEqual(17);
    const before = state.taken;
    for (let read = 0; read < 100; read++) await reader.read();
    await settle();
    expect(state.taken).toBeGreaterThanOrEqual(before + 99);
    expect(state.taken).toBeLessThanOrEqual(before + 100 + 17);
    await reader.cancel();
    await settle();
    expect(state.returned).toBe(true);
  });

  it("ends with an error event when the run cannot be followed", async () => {
    // eslint-disable-next-line require-yield
    async function* failing(): AsyncGenerator<RunEvent> {
      throw new Error("no session 20260101-000000-abcdef");
    }
    const text = await new Response(eventStream(failing())).text();
    expect(text).toContain('event: error\ndata: {"message":"no session 20260101-000000-abcdef"}');
  });
});
