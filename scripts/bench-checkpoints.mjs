#!/usr/bin/env node
// What a checkpoint of a running session costs the server (`node scripts/bench-checkpoints.mjs`, after
// `npm run build:node`): the file store's save of a session of 1,000 to 50,000 streamed events, its time
// and how long it holds the event loop (the JSON is made on the main thread; the write and fsync are not).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { FileSessionStore } from "../dist/store/index.js";

const directory = await mkdtemp(path.join(os.tmpdir(), "project-llm-checkpoints-"));
const store = new FileSessionStore(directory);
try {
  for (const [index, count] of [1_000, 10_000, 50_000].entries()) {
    const id = `20261130-03000${index}-abcdef`;
    const events = [{ runId: id, seq: 0, at: 1, type: "run-start", pipeline: "base", input: "x", stages: [], reusedStageIds: [] }];
    for (let seq = 1; seq <= count; seq++) events.push({ runId: id, seq, at: 1 + seq, type: "stage-delta", stageId: "s", model: "m", part: "model", text: " word" });
    const session = { version: 1, id, pipelineName: "base", input: "x", status: "running", startedAt: new Date().toISOString(), pipeline: {}, modelsConfig: {}, models: {}, stages: {}, events };
    await store.save(session);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const times = [];
    for (let round = 0; round < 10; round++) {
      const started = performance.now();
      await store.save({ ...session, events: events.slice() });
      times.push(performance.now() - started);
    }
    delay.disable();
    times.sort((a, b) => a - b);
    console.log(`${count} events: save median ${times[5].toFixed(1)} ms; event loop held at most ${(delay.max / 1e6).toFixed(1)} ms`);
  }
  await store.flush();
} finally {
  await rm(directory, { recursive: true, force: true });
}
