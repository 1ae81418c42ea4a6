/**
 * Integration: the tRPC routers through `createCaller`, on the real model (stories260K.gguf) in the real
 * inference worker, with real files for configs and sessions.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { TRPCError } from "@trpc/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Studio } from "../../core/index.js";
import type { RunEvent } from "../../engine/index.js";
import { createRuntime, type Runtime } from "../../runtime/index.js";
import { tempDir, testModelsYaml, writeFiles } from "../../testing/fixtures.js";
import { openTestStudio } from "../../testing/studio.js";
import { newRunId } from "../../store/index.js";
import { DownloadManager } from "../downloads.js";
import { RunManager } from "../run-manager.js";
import { localIdentity } from "../auth/index.js";
import { createCallerFactory } from "./init.js";
import { appRouter } from "./router.js";

const modelsYaml = testModelsYaml("  absent:\n    file: nowhere.gguf\n");

const basePipeline = `# the base pipeline of the router tests
base_pipeline:
  stages:
    - id: draft # first
      type: single
      model: greedy
    - id: panel
      type: multi
      input_from: draft
      models: [greedy, warm]
      aggregation: { method: vote }
    - id: ending
      type: single
      model: warm
      input_from: [draft, panel]
      params: { max_tokens: 12 }
`;

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
  studio = await openTestStudio(root, runtime, { modelsYaml, pipelineYaml: basePipeline });
  runs = new RunManager(studio);
  caller = createCaller({ studio, runs, downloads: new DownloadManager(studio), identity: localIdentity });
});
afterEach(async () => {
  await runs.shutdown();
  await studio.dispose();
  await cleanup();
});

/**
 * A tracked event as the caller yields it: tRPC types it as `{ id, data }` (what the HTTP link delivers),
 * while on the server side it is the envelope `[id, data, marker]`.
 */
function unwrap(envelope: unknown): { id: string; data: RunEvent } {
  if (Array.isArray(envelope)) return { id: envelope[0] as string, data: envelope[1] as RunEvent };
  return envelope as { id: string; data: RunEvent };
}

/** Collects a run's events from the subscription until `run-end`, with their SSE ids. */
async function follow(id: string, lastEventId?: string): Promise<Array<{ id: string; event: RunEvent }>> {
  const seen: Array<{ id: string; event: RunEvent }> = [];
  for await (const envelope of await caller.runs.events({ id, lastEventId })) {
    const { id: eventId, data: event } = unwrap(envelope);
    seen.push({ id: eventId, event });
    if (event.type === "run-end") break;
  }
  return seen;
}

describe("the tRPC routers on the real model", () => {
  it("starts a run, streams its events with ids, and replays from a last event id", async () => {
    const { id } = await caller.runs.start({ pipeline: "base", input: "Once upon a time" });
    const all = await follow(id);
    expect(all[0]!.event.type).toBe("run-start");
    expect(all.at(-1)!.event).toMatchObject({ type: "run-end", status: "completed" });
    expect(all.map((entry) => entry.id)).toEqual(all.map((_, index) => String(index)));
    expect(all.some((entry) => entry.event.type === "stage-delta")).toBe(true);

    // A client that saw up to event 5 gets exactly the rest, in order.
    const rest = await follow(id, "5");
    expect(rest.map((entry) => entry.event.seq)).toEqual(all.slice(6).map((entry) => entry.event.seq));

    const session = await caller.sessions.get({ id });
    expect(session.status).toBe("completed");
    expect(session.finalAnswer).toBe((all.at(-1)!.event as Extract<RunEvent, { type: "run-end" }>).finalAnswer);
    const page = await caller.sessions.list({ query: "upon" });
    expect(page.items.map((item) => item.id)).toContain(id);

    // A run that has left memory is replayed from its session file.
    const fresh = new RunManager(studio);
    const replayed: RunEvent[] = [];
    for await (const event of fresh.events(id, { afterSeq: 2 })) replayed.push(event);
    expect(replayed.map((event) => event.seq)).toEqual(all.slice(3).map((entry) => entry.event.seq));
  });

  it("follows a run named by the client before its start request arrives, and refuses a taken id", async () => {
    const id = newRunId();
    // The events are asked for first: the server waits for the run, then streams it from its first event.
    const following = follow(id);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await caller.runs.start({ pipeline: "base", input: "Once upon a time", id })).id).toBe(id);
    const events = await following;
    expect(events.map((entry) => entry.event.seq)).toEqual(events.map((_, index) => index));
    expect(events.at(-1)!.event).toMatchObject({ type: "run-end", status: "completed" });
    await expect(caller.runs.start({ pipeline: "base", input: "again", id })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("already used") });

    // A named run whose start fails: its follower gets the reason, not a silent wait.
    await writeFiles(root, { "config/pipelines/broken.yaml": "pipeline:\n  stages:\n    - id: one\n      type: single\n      model: nobody\n" });
    const doomed = newRunId();
    const followed = follow(doomed).catch((error: unknown) => error);
    await expect(caller.runs.start({ pipeline: "broken", input: "x", id: doomed })).rejects.toMatchObject({ code: "UNPROCESSABLE_CONTENT" });
    expect(String(await followed)).toMatch(/unknown model "nobody"/);
  });

  it("reruns a session from its second stage as a branch that the tree shows", async () => {
    const { id } = await caller.runs.start({ pipeline: "base", input: "The cat" });
    await follow(id);
    const generationsBefore = runtime.stats().generations;
    const branch = await caller.sessions.rerun({ id, fromStage: "panel", cache: false });
    const events = await follow(branch.id);
    const runStart = events[0]!.event as Extract<RunEvent, { type: "run-start" }>;
    expect(runStart.reusedStageIds).toEqual(["draft"]);
    // panel (2 models) and ending (1) ran again; draft did not.
    expect(runtime.stats().generations - generationsBefore).toBe(3);
    const tree = await caller.sessions.tree({ id: branch.id });
    expect(tree.id).toBe(id);
    expect(tree.children.map((child) => child.id)).toEqual([branch.id]);
    expect((await caller.sessions.get({ id: branch.id })).parentRunId).toBe(id);
  });

  it("cancels a run in progress", async () => {
    await writeFiles(root, {
      "config/pipelines/long.yaml": "pipeline:\n  stages:\n    - id: long\n      type: single\n      model: greedy\n      params: { max_tokens: 400 }\n",
    });
    const { id } = await caller.runs.start({ pipeline: "long", input: "Once", cache: false });
    let end: RunEvent | undefined;
    for await (const envelope of await caller.runs.events({ id })) {
      const { data } = unwrap(envelope);
      if (data.type === "stage-delta") await caller.runs.cancel({ id });
      if (data.type === "run-end") {
        end = data;
        break;
      }
    }
    expect(end).toMatchObject({ type: "run-end", status: "cancelled" });
    expect((await caller.sessions.get({ id })).status).toBe("cancelled");
  });

  it("keeps a cancel that comes while a run with a chosen id is still starting", async () => {
    await writeFiles(root, {
      "config/pipelines/long.yaml": "pipeline:\n  stages:\n    - id: long\n      type: single\n      model: greedy\n      params: { max_tokens: 400 }\n",
    });
    const id = newRunId();
    const started = caller.runs.start({ pipeline: "long", input: "Once", id });
    // Sent before the start has answered (or registered the run): the browser knows the id from the click.
    expect(await caller.runs.cancel({ id })).toEqual({ cancelled: true });
    expect(await started).toEqual({ id });
    let end: RunEvent | undefined;
    for await (const envelope of await caller.runs.events({ id })) {
      const { data } = unwrap(envelope);
      if (data.type === "run-end") {
        end = data;
        break;
      }
    }
    expect(end).toMatchObject({ status: "cancelled" });
    const session = await caller.sessions.get({ id });
    expect(session.status).toBe("cancelled");
    expect(session.stages.long?.metrics?.tokensOut ?? 0).toBeLessThan(400);
    // An id that nothing is starting: nothing to cancel.
    expect(await caller.runs.cancel({ id: newRunId() })).toEqual({ cancelled: false });
  });

  it("marks runs in flight as interrupted when the server stops", async () => {
    await writeFiles(root, {
      "config/pipelines/long.yaml": "pipeline:\n  stages:\n    - id: long\n      type: single\n      model: greedy\n      params: { max_tokens: 400 }\n",
    });
    const { id } = await caller.runs.start({ pipeline: "long", input: "Once", cache: false });
    for await (const envelope of await caller.runs.events({ id })) if (unwrap(envelope).data.type === "stage-delta") break;
    await runs.shutdown();
    const session = await caller.sessions.get({ id });
    expect(session.status).toBe("interrupted");
    // Its followers, live or later, learn why it ended.
    expect(session.events?.at(-1)).toMatchObject({ type: "run-end", status: "interrupted", error: { code: "interrupted", message: expect.stringMatching(/stop/) } });
    const followed: RunEvent[] = [];
    for await (const envelope of await caller.runs.events({ id })) followed.push(unwrap(envelope).data);
    expect(followed.at(-1)).toMatchObject({ type: "run-end", status: "interrupted" });
    await expect(caller.runs.start({ pipeline: "base", input: "x" })).rejects.toThrow(/stopping/);
  });

  it("ends the stream of a session whose server stopped before the run could end", async () => {
    // What a crash leaves: a session still `running`, with none of its events written.
    const { id } = await caller.runs.start({ pipeline: "base", input: "Once" });
    for await (const envelope of await caller.runs.events({ id })) if (unwrap(envelope).data.type === "run-end") break;
    const stored = await studio.sessions.get(id);
    await studio.sessions.save({ ...stored, status: "running", events: [], endedAt: undefined, durationMs: undefined, finalAnswer: undefined });
    // The next server marks it interrupted; its followers get an end instead of waiting for ever.
    expect(await studio.sessions.interruptRunning()).toEqual([id]);
    const next = createCaller({ studio, runs: new RunManager(studio), downloads: new DownloadManager(studio), identity: localIdentity });
    const followed: RunEvent[] = [];
    for await (const envelope of await next.runs.events({ id })) followed.push(unwrap(envelope).data);
    expect(followed).toEqual([expect.objectContaining({ type: "run-end", runId: id, seq: 0, status: "interrupted" })]);
    // A page that followed it live and reconnects with the last event id it saw gets the end too.
    const resumed: RunEvent[] = [];
    for await (const envelope of await next.runs.events({ id, lastEventId: "57" })) resumed.push(unwrap(envelope).data);
    expect(resumed).toEqual([expect.objectContaining({ type: "run-end", seq: 58, status: "interrupted" })]);
  });

  it("refuses a run of a bad pipeline with its issues, as a client error", async () => {
    await writeFiles(root, { "config/pipelines/bad.yaml": "pipeline:\n  stages:\n    - id: one\n      type: single\n      model: greedy\n      input_from: nowhere\n" });
    const error = await caller.runs.start({ pipeline: "bad", input: "x" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe("UNPROCESSABLE_CONTENT");
    expect((error as TRPCError).message).toMatch(/bad\.yaml:6:\d+: .*unknown stage "nowhere"/);
    await expect(caller.sessions.get({ id: "../../etc/passwd" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(caller.sessions.get({ id: "20990101-000000-abcdef" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });


  it("answers the plan of a named pipeline and of one sent whole, and refuses a run that cannot fit as 422 with its plan", async () => {
    const plan = await caller.runs.plan({ pipeline: "base" });
    expect(plan.fits).toBe(true);
    expect(plan.steps.map((step) => step.stageId)).toEqual(["draft", "panel", "panel", "ending"]);
    const whole = await caller.runs.plan({ pipeline: { stages: [{ id: "only", type: "single", model: "warm" }] } });
    expect(whole.steps).toMatchObject([{ stageId: "only", model: "warm" }]);
    await writeFiles(root, { "config/models.yaml": modelsYaml.replace("defaults:", "memory_safety: { ram: 0.00001 }\ndefaults:") });
    // A model still warm from an earlier test needs no new memory: none is loaded now.
    await runtime.unload();
    expect((await caller.runs.plan({ pipeline: "base" })).fits).toBe(false);
    const error = await caller.runs.start({ pipeline: "base", input: "x" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe("UNPROCESSABLE_CONTENT");
    expect((error as TRPCError).message).toMatch(/does not fit/);
  });

  it("runs a pipeline sent whole, keeps it in a session marked unsaved, and checks it as a file is", async () => {
    const pipeline = {
      name: "On the canvas",
      stages: [
        { id: "first", type: "single", model: "greedy", params: { max_tokens: 6 } },
        { id: "second", type: "single", model: "greedy", input_from: "first", params: { max_tokens: 6 } },
      ],
    };
    const { id } = await caller.runs.start({ pipeline, basedOn: "base", input: "Once upon a time" });
    const events = await follow(id);
    expect(events.at(-1)!.event).toMatchObject({ type: "run-end", status: "completed" });
    // Its followers know it ran the edits, not the file it was edited from.
    expect(events[0]!.event).toMatchObject({ type: "run-start", pipeline: "base", inlinePipeline: true });
    const session = await caller.sessions.get({ id });
    expect(session).toMatchObject({ pipelineName: "base", inlinePipeline: true, status: "completed" });
    expect((session.pipeline as { stages: Array<{ id: string }> }).stages.map((stage) => stage.id)).toEqual(["first", "second"]);
    expect((await caller.sessions.list({})).items.find((item) => item.id === id)).toMatchObject({ inlinePipeline: true });
    // A branch of it is unsaved too.
    const branch = await caller.sessions.rerun({ id, fromStage: "second" });
    await follow(branch.id);
    expect(await caller.sessions.get({ id: branch.id })).toMatchObject({ inlinePipeline: true, parentRunId: id });

    // Without a name it is "unsaved"; a typo is named with its key path and the close key.
    const typo = { stages: [{ id: "first", type: "single", modle: "greedy" }] };
    const error = (await caller.runs.start({ pipeline: typo, input: "x" }).catch((caught: unknown) => caught)) as TRPCError;
    expect(error.code).toBe("UNPROCESSABLE_CONTENT");
    expect(error.message).toContain('unsaved pipeline: stages[0].modle: unknown key "modle"');
    expect(error.message).toContain('did you mean "model"?');
    // The graph and the models are checked too.
    await expect(caller.runs.start({ pipeline: { stages: [{ id: "a", type: "single", model: "nobody" }] }, input: "x" })).rejects.toThrow(/unknown model "nobody"/);
  });
  it("gets, validates and saves pipelines, keeping comments and refusing a stale save", async () => {
    const list = await caller.pipelines.list();
    expect(list.map((entry) => entry.name)).toEqual(["base"]);
    const opened = await caller.pipelines.get({ name: "base" });
    expect(opened.pipeline?.stages.map((stage) => stage.id)).toEqual(["draft", "panel", "ending"]);

    const edited = structuredClone(opened.pipeline!);
    edited.stages[2]!.input_from = ["draft", "ending"];
    const check = await caller.pipelines.validate({ name: "base", pipeline: edited });
    expect(check.errors.map((issue) => issue.message).join("\n")).toMatch(/ending/);

    const good = structuredClone(opened.pipeline!);
    good.stages[0]!.params = { max_tokens: 30 };
    const saved = await caller.pipelines.save({ name: "base", pipeline: good, baseVersion: opened.version });
    const text = await readFile(path.join(root, "config", "pipeline.yaml"), "utf8");
    expect(text).toContain("# the base pipeline of the router tests");
    expect(text).toContain("- id: draft # first");
    expect(text).toContain("max_tokens: 30");

    // An edit on disk since: a save from the old version is refused, and the disk keeps the edit.
    await writeFile(path.join(root, "config", "pipeline.yaml"), `${text}# edited by hand\n`);
    await expect(caller.pipelines.save({ name: "base", pipeline: good, baseVersion: saved.version })).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await readFile(path.join(root, "config", "pipeline.yaml"), "utf8")).toContain("# edited by hand");

    const created = await caller.pipelines.save({ name: "copy", pipeline: good, baseVersion: null });
    expect(created.file).toBe(path.join(root, "config", "pipelines", "copy.yaml"));
    expect((await caller.pipelines.list()).map((entry) => entry.name)).toEqual(["base", "copy"]);
    await expect(caller.pipelines.save({ name: "../x", pipeline: good, baseVersion: null })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("pages and filters sessions, deletes one, and deletes a named pipeline", async () => {
    const ids: string[] = [];
    for (const input of ["alpha one", "beta two", "alpha three"]) {
      const { id } = await caller.runs.start({ pipeline: "base", input });
      await follow(id);
      ids.push(id);
    }
    const firstPage = await caller.sessions.list({ limit: 2, offset: 0 });
    expect(firstPage.total).toBe(3);
    expect(firstPage.items.map((item) => item.id)).toEqual([ids[2], ids[1]]);
    expect((await caller.sessions.list({ limit: 2, offset: 2 })).items.map((item) => item.id)).toEqual([ids[0]]);
    expect((await caller.sessions.list({ query: "alpha" })).total).toBe(2);
    expect((await caller.sessions.list({ status: "failed" })).total).toBe(0);
    expect((await caller.sessions.list({ pipeline: "base", status: "completed" })).total).toBe(3);

    // Its stage cache entries (its text) go with it.
    const listOf = (id: string) => path.join(studio.stageCache.directory, "by-session", `${id}.txt`);
    const signatures = (await readFile(listOf(ids[1]!), "utf8")).trim().split("\n");
    const entryOf = (signature: string) => path.join(studio.stageCache.directory, signature.slice(0, 2), `${signature}.json`);
    expect((await readFile(entryOf(signatures[0]!), "utf8")).includes(ids[1]!)).toBe(true);
    await caller.sessions.delete({ id: ids[1]! });
    for (const file of [listOf(ids[1]!), ...signatures.map(entryOf)]) await expect(readFile(file)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(readFile(listOf(ids[0]!))).resolves.toBeDefined();
    expect((await caller.sessions.list({})).items.map((item) => item.id)).toEqual([ids[2], ids[0]]);
    await expect(caller.sessions.get({ id: ids[1]! })).rejects.toMatchObject({ code: "NOT_FOUND" });

    const created = await caller.pipelines.save({ name: "scratch", pipeline: (await caller.pipelines.get({ name: "base" })).pipeline!, baseVersion: null });
    await expect(caller.pipelines.delete({ name: "scratch", baseVersion: "stale" })).rejects.toMatchObject({ code: "CONFLICT" });
    await caller.pipelines.delete({ name: "scratch", baseVersion: created.version });
    expect((await caller.pipelines.list()).map((entry) => entry.name)).toEqual(["base"]);
    await expect(caller.pipelines.delete({ name: "base", baseVersion: "x" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    // A web caller names pipelines, never files.
    await expect(caller.runs.start({ pipeline: "../config/pipeline.yaml", input: "x" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("replays a finished run at the pace it ran", async () => {
    const { id } = await caller.runs.start({ pipeline: "base", input: "Once upon a time" });
    const all = await follow(id);
    const span = Math.min(all.at(-1)!.event.at - all[0]!.event.at, 3000);
    const started = performance.now();
    const replayed: RunEvent[] = [];
    for await (const event of new RunManager(studio).events(id, { pace: "recorded" })) replayed.push(event);
    expect(replayed.map((event) => event.seq)).toEqual(all.map((entry) => entry.event.seq));
    expect(performance.now() - started).toBeGreaterThanOrEqual(span * 0.8);
  });

  it("lists the models with their facts, and unloads a loaded one", async () => {
    const { id } = await caller.runs.start({ pipeline: "base", input: "Hi" });
    await follow(id);
    const { models } = await caller.models.list();
    const greedy = models.find((model) => model.name === "greedy")!;
    expect(greedy).toMatchObject({ present: true, architecture: "llama", hasChatTemplate: false, loaded: true, requiredForBase: true });
    expect(greedy.memory!.totalRam).toBeGreaterThan(0);
    expect(models.find((model) => model.name === "absent")).toMatchObject({ present: false });
    expect(greedy.baseStages).toEqual(["draft", "panel"]);
    expect(await caller.models.inspect({ name: "warm" })).toMatchObject({ name: "warm", present: true, architecture: "llama" });
    await expect(caller.models.inspect({ name: "nobody" })).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    const status = await caller.models.status();
    expect(status.loaded.map((entry) => path.basename(entry.path))).toContain("stories260K.gguf");
    expect(status.stats.generations).toBeGreaterThan(0);
    expect((await caller.models.unload({ name: "greedy" })).unloaded).toBeGreaterThan(0);
    expect((await caller.models.list()).models.find((model) => model.name === "greedy")!.loaded).toBe(false);
    expect((await caller.models.status()).loaded).toEqual([]);
  });
});

/** The queue's caps for its tests: one place, two waiting, four runs per user. */
const queueCaps = "runtime:\n  gpu: false\n  runs_in_flight: 1\n  runs_waiting: 2\n  runs_per_user: 4\n";
const queueModelsYaml = modelsYaml.replace("models:\n", `${queueCaps}models:\n`);
/** Ten stages of 400 tokens: it keeps the one place busy until it is cancelled. */
const longChain = `pipeline:\n  stages:\n${Array.from({ length: 10 }, (_, index) => `    - id: s${index}\n      type: single\n      model: greedy\n      params: { max_tokens: 400 }\n${index > 0 ? `      input_from: s${index - 1}\n` : ""}`).join("")}`;
const shortPipeline = "base_pipeline:\n  stages:\n    - id: only\n      type: single\n      model: greedy\n      params: { max_tokens: 8 }\n";

/** Follows a run's events from the run manager until `run-end`, calling `onEvent` with each as it comes. */
async function followRun(id: string, onEvent: (event: RunEvent) => void | Promise<void> = () => undefined): Promise<RunEvent[]> {
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
  beforeEach(async () => {
    await writeFiles(root, { "config/models.yaml": queueModelsYaml, "config/pipeline.yaml": shortPipeline, "config/pipelines/long.yaml": longChain });
  });

  it("queues runs past the in-flight cap, streams their places, and starts them in order", async () => {
    const first = await caller.runs.start({ pipeline: "long", input: "Once", cache: false });
    const second = await caller.runs.start({ pipeline: "base", input: "Once" });
    const third = await caller.runs.start({ pipeline: "base", input: "A cat" });
    // The queue is full: the box refuses, with how long to wait.
    const full = await refusal(caller.runs.start({ pipeline: "base", input: "Again" }));
    expect(full.code).toBe("SERVICE_UNAVAILABLE");
    expect(full.message).toMatch(/2 runs waiting/);
    expect(runs.list().find((run) => run.id === third.id)).toMatchObject({ ahead: 1 });

    const thirdEvents = followRun(third.id, async (event) => {
      // Once the third run is next, the first one is cancelled and the third goes.
      if (event.type === "run-queued" && event.ahead === 0) await caller.runs.cancel({ id: first.id });
    });
    // A waiting run cancelled: it ends at once, and those behind it move up.
    expect(await caller.runs.cancel({ id: second.id })).toEqual({ cancelled: true });
    const secondEvents = await followRun(second.id);
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
    await writeFiles(root, { "config/models.yaml": queueModelsYaml.replace("runs_per_user: 4", "runs_per_user: 2") });
    const mine = [await runs.start({ pipeline: "long", input: "a", user: "ann" }), await runs.start({ pipeline: "long", input: "b", user: "ann" })];
    const busy = await runs.start({ pipeline: "base", input: "c", user: "ann" }).catch((error: unknown) => error);
    expect(busy).toMatchObject({ code: "busy", message: expect.stringMatching(/ann has 2 runs going or waiting/), details: { params: { reason: "runs", limit: 2 } } });
    const bob = await runs.start({ pipeline: "base", input: "d", user: "bob" });
    expect(runs.list().find((run) => run.id === bob.id)).toMatchObject({ ahead: 1 });
    // The queue is full now (two waiting): the box refuses anyone.
    expect(await runs.start({ pipeline: "base", input: "e", user: "cid" }).catch((error: unknown) => error)).toMatchObject({ code: "unavailable" });
    for (const { id } of mine) await caller.runs.cancel({ id });
    expect((await followRun(bob.id)).at(-1)).toMatchObject({ type: "run-end", status: "completed" });
  });

  it("refuses a run with a bad config at its start even when it would wait", async () => {
    const first = await caller.runs.start({ pipeline: "long", input: "Once", cache: false });
    const missing = await refusal(caller.runs.start({ pipeline: "nope", input: "x" }));
    expect(missing.code).toBe("NOT_FOUND");
    const invalid = await refusal(caller.runs.start({ pipeline: { stages: [{ id: "a", type: "single", model: "nobody" }] }, input: "x" }));
    expect(invalid.code).toBe("UNPROCESSABLE_CONTENT");
    expect(runs.list().map((run) => run.id)).toEqual([first.id]);
    await caller.runs.cancel({ id: first.id });
  });

  it("lets a rerun wait in the queue like a run", async () => {
    const done = await caller.runs.start({ pipeline: "base", input: "Once" });
    await followRun(done.id);
    const first = await caller.runs.start({ pipeline: "long", input: "Once", cache: false });
    const branch = await caller.sessions.rerun({ id: done.id, fromStage: "only", input: "A dog" });
    const events = followRun(branch.id, async (event) => {
      if (event.type === "run-queued") await caller.runs.cancel({ id: first.id });
    });
    const seen = await events;
    expect(seen[0]).toMatchObject({ type: "run-queued", ahead: 0 });
    expect(seen.at(-1)).toMatchObject({ type: "run-end", status: "completed" });
    expect((await studio.sessions.get(branch.id)).parentRunId).toBe(done.id);
  });

  it("ends waiting runs as interrupted when the server stops, and starts none of them", async () => {
    const first = await caller.runs.start({ pipeline: "long", input: "Once", cache: false });
    const waiting = await caller.runs.start({ pipeline: "base", input: "Twice" });
    await runs.shutdown();
    const events = await followRun(waiting.id);
    expect(events.map((event) => event.type)).toEqual(["run-queued", "run-end"]);
    expect(events.at(-1)).toMatchObject({ status: "interrupted" });
    expect(await studio.sessions.has(waiting.id)).toBe(false);
    expect((await studio.sessions.get(first.id)).status).toBe("interrupted");
  });
});
