/**
 * Integration: the run queue inside the server's run manager, through the tRPC router's caller, on the
 * real model (stories260K.gguf) in the real inference worker, with real config and session files.
 */
import path from "node:path";
import { TRPCError } from "@trpc/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Studio } from "../core/index.js";
import type { RunEvent } from "../engine/index.js";
import { createRuntime, type Runtime } from "../runtime/index.js";
import { tempDir, testModelsYaml, writeFiles } from "../testing/fixtures.js";
import { openTestStudio } from "../testing/studio.js";
import { DownloadManager } from "./downloads.js";
import { RunManager } from "./run-manager.js";
import { createCallerFactory } from "./trpc/init.js";
import { appRouter } from "./trpc/router.js";

const caps = "runtime:\n  gpu: false\n  runs_in_flight: 1\n  runs_waiting: 2\n  runs_per_user: 4\n";
const modelsYaml = testModelsYaml().replace("models:\n", `${caps}models:\n`);
/** Ten stages of 400 tokens: it keeps the one place busy until it is cancelled. */
const longPipeline = `pipeline:\n  stages:\n${Array.from({ length: 10 }, (_, index) => `    - id: s${index}\n      type: single\n      model: greedy\n      params: { max_tokens: 400 }\n${index > 0 ? `      input_from: s${index - 1}\n` : ""}`).join("")}`;
const shortPipeline = "base_pipeline:\n  stages:\n    - id: only\n      type: single\n      model: greedy\n      params: { max_tokens: 8 }\n";

let runtime: Runtime;
let root: string;
let cleanup: () => Promise<void>;
let studio: Studio;
let runs: RunManager;
const createCaller = createCallerFactory(appRouter);
let caller: ReturnType<typeof createCaller>;

beforeAll(() => {
  runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
});
afterAll(async () => runtime.dispose());
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  studio = await openTestStudio(root, runtime, { modelsYaml, pipelineYaml: shortPipeline });
  await writeFiles(root, { "config/pipelines/long.yaml": longPipeline });
  runs = new RunManager(studio);
  caller = createCaller({ studio, runs, downloads: new DownloadManager(studio) });
});
afterEach(async () => {
  await runs.shutdown();
  await studio.dispose();
  await cleanup();
});

/** Follows a run's events until `run-end`, calling `onEvent` with each as it comes. */
async function follow(id: string, onEvent: (event: RunEvent) => void | Promise<void> = () => undefined): Promise<RunEvent[]> {
  const seen: RunEvent[] = [];
  for await (const event of runs.events(id)) {
    seen.push(event);
    await onEvent(event);
    if (event.type === "run-end") break;
  }
  return seen;
}

async function refusal(work: Promise<unknown>): Promise<TRPCError> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TRPCError);
  return error as TRPCError;
}

describe("the run queue", () => {
  it("queues runs past the in-flight cap, streams their places, and starts them in order", async () => {
    const first = await caller.runs.start({ pipeline: "long", input: "Once" });
    const second = await caller.runs.start({ pipeline: "base", input: "Once" });
    const third = await caller.runs.start({ pipeline: "base", input: "A cat" });
    // The queue is full: the box refuses, with how long to wait.
    const full = await refusal(caller.runs.start({ pipeline: "base", input: "Again" }));
    expect(full.code).toBe("SERVICE_UNAVAILABLE");
    expect(full.message).toMatch(/2 runs waiting/);
    expect(runs.list().find((run) => run.id === third.id)).toMatchObject({ ahead: 1 });

    const thirdEvents = follow(third.id, async (event) => {
      // Once the third run is next, the first one is cancelled and the third goes.
      if (event.type === "run-queued" && event.ahead === 0) await caller.runs.cancel({ id: first.id });
    });
    // A waiting run cancelled: it ends at once, and those behind it move up.
    expect(await caller.runs.cancel({ id: second.id })).toEqual({ cancelled: true });
    const secondEvents = await follow(second.id);
    expect(secondEvents.map((event) => event.type)).toEqual(["run-queued", "run-end"]);
    expect(secondEvents.at(-1)).toMatchObject({ status: "cancelled", seq: 1 });
    expect(await studio.sessions.has(second.id)).toBe(false);

    const events = await thirdEvents;
    expect(events.filter((event) => event.type === "run-queued").map((event) => (event.type === "run-queued" ? event.ahead : -1))).toEqual([1, 0]);
    expect(events[2]).toMatchObject({ type: "run-start", seq: 2 });
    expect(events.at(-1)).toMatchObject({ type: "run-end", status: "completed" });
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index));
    // Its session keeps the whole stream, the waiting included, and replays it the same.
    const session = await studio.sessions.get(third.id);
    expect(session.status).toBe("completed");
    expect(session.events?.map((event) => event.type).slice(0, 3)).toEqual(["run-queued", "run-queued", "run-start"]);
    expect((await caller.sessions.get({ id: first.id })).status).toBe("cancelled");
  });

  it("refuses one user past their cap with busy while others still get in, with caps read at each start", async () => {
    await writeFiles(root, { "config/models.yaml": modelsYaml.replace("runs_per_user: 4", "runs_per_user: 2") });
    const mine = [await runs.start({ pipeline: "long", input: "a", user: "ann" }), await runs.start({ pipeline: "long", input: "b", user: "ann" })];
    const busy = await runs.start({ pipeline: "base", input: "c", user: "ann" }).catch((error: unknown) => error);
    expect(busy).toMatchObject({ code: "busy", message: expect.stringMatching(/ann has 2 runs going or waiting/), details: { params: { reason: "runs", limit: 2 } } });
    const bob = await runs.start({ pipeline: "base", input: "d", user: "bob" });
    expect(runs.list().find((run) => run.id === bob.id)).toMatchObject({ ahead: 1 });
    // The queue is full now (two waiting): the box refuses anyone.
    expect(await runs.start({ pipeline: "base", input: "e", user: "cid" }).catch((error: unknown) => error)).toMatchObject({ code: "unavailable" });
    for (const { id } of mine) await caller.runs.cancel({ id });
    expect((await follow(bob.id)).at(-1)).toMatchObject({ type: "run-end", status: "completed" });
  });

  it("refuses a run with a bad config at its start even when it would wait", async () => {
    const first = await caller.runs.start({ pipeline: "long", input: "Once" });
    const missing = await refusal(caller.runs.start({ pipeline: "nope", input: "x" }));
    expect(missing.code).toBe("NOT_FOUND");
    const invalid = await refusal(caller.runs.start({ pipeline: { stages: [{ id: "a", type: "single", model: "nobody" }] }, input: "x" }));
    expect(invalid.code).toBe("UNPROCESSABLE_CONTENT");
    expect(runs.list().map((run) => run.id)).toEqual([first.id]);
    await caller.runs.cancel({ id: first.id });
  });

  it("lets a rerun wait in the queue like a run", async () => {
    const done = await caller.runs.start({ pipeline: "base", input: "Once" });
    await follow(done.id);
    const first = await caller.runs.start({ pipeline: "long", input: "Once" });
    const branch = await caller.sessions.rerun({ id: done.id, fromStage: "only", input: "A dog" });
    const events = follow(branch.id, async (event) => {
      if (event.type === "run-queued") await caller.runs.cancel({ id: first.id });
    });
    const seen = await events;
    expect(seen[0]).toMatchObject({ type: "run-queued", ahead: 0 });
    expect(seen.at(-1)).toMatchObject({ type: "run-end", status: "completed" });
    expect((await studio.sessions.get(branch.id)).parentRunId).toBe(done.id);
  });

  it("ends waiting runs as interrupted when the server stops, and starts none of them", async () => {
    const first = await caller.runs.start({ pipeline: "long", input: "Once" });
    const waiting = await caller.runs.start({ pipeline: "base", input: "Twice" });
    await runs.shutdown();
    const events = await follow(waiting.id);
    expect(events.map((event) => event.type)).toEqual(["run-queued", "run-end"]);
    expect(events.at(-1)).toMatchObject({ status: "interrupted" });
    expect(await studio.sessions.has(waiting.id)).toBe(false);
    expect((await studio.sessions.get(first.id)).status).toBe("interrupted");
  });
});
