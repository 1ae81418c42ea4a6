/**
 * Integration: real pipelines on the real model (stories260K.gguf), through the real inference worker
 * process and the file session store; what a run keeps on disk while it goes, and how it ends when its
 * session cannot be written (a real read-only disk: a tmpfs remounted read-only; mounting needs root, as
 * CI has; a folder of mode 0555 would not do, since it does not stop root).
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunEvent } from "../engine/index.js";
import { createRuntime, type Runtime } from "../runtime/index.js";
import { RunManager } from "../server/run-manager.js";
import type { SessionRecord } from "../store/index.js";
import { processAlive, storiesFile, tempDir, testModelsDir, testModelsYaml, writeFiles } from "../testing/fixtures.js";
import { openTestStudio } from "../testing/studio.js";
import { Studio } from "./studio.js";

const modelsYaml = testModelsYaml();

const basePipeline = `base_pipeline:
  stages:
    - id: draft
      type: single
      model: greedy
      output_mode: input_plus_answer
    - id: panel
      type: multi
      input_from: draft
      models: [greedy, warm, cool]
      aggregation: { method: synthesis, model: greedy, prompt: "{{answer.1}} {{answer.2}}" }
    - id: ending
      type: single
      model: warm
      input_from: [draft, panel]
      params: { max_tokens: 16 }
`;

let runtime: Runtime;
let root: string;
let cleanup: () => Promise<void>;
let studio: Studio;

beforeAll(() => {
  runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
});
afterAll(async () => runtime.dispose());
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  studio = await openTestStudio(root, runtime, { modelsYaml, pipelineYaml: basePipeline });
});
afterEach(async () => {
  await studio.dispose();
  await cleanup();
});

async function addPipeline(name: string, yaml: string) {
  await writeFiles(root, { [`config/pipelines/${name}.yaml`]: yaml });
}

describe("a real pipeline", () => {
  it("runs three stages on one model, loading it once, and a second run loads nothing", async () => {
    const before = runtime.stats().modelLoads;
    const events: RunEvent[] = [];
    let whileRunning: Promise<SessionRecord> | undefined;
    const first = await studio.run({ input: "Once upon a time", onEvent: (event) => events.push(event), onSession: (id) => (whileRunning = studio.sessions.get(id)) });
    expect(first.status).toBe("completed");
    // While it ran, its session said which process runs it; once ended, it is no process's.
    expect(await whileRunning).toMatchObject({ status: "running", owner: { host: os.hostname(), pid: process.pid } });
    expect(runtime.stats().modelLoads - before).toBeLessThanOrEqual(1);
    for (const id of ["draft", "panel", "ending"]) expect(first.stages[id]!.status).toBe("completed");
    // Tokens stream stage by stage, each before its stage ends.
    for (const id of ["draft", "panel", "ending"]) {
      const firstDelta = events.findIndex((event) => event.type === "stage-delta" && event.stageId === id);
      const end = events.findIndex((event) => event.type === "stage-end" && event.stageId === id);
      expect(firstDelta).toBeGreaterThan(-1);
      expect(firstDelta).toBeLessThan(end);
    }
    expect(first.stages.panel!.models.map((output) => output.model)).toEqual(["greedy", "warm", "cool"]);
    expect(first.stages.panel!.aggregation?.method).toBe("synthesis");
    expect(first.stages.draft!.metrics!.tokensOut).toBeGreaterThan(0);
    expect(first.stages.draft!.models[0]!.chat).toBe(false);
    // The session is on disk with model identities and the resolved parameters.
    const stored = await studio.sessions.get(first.id);
    expect(stored).not.toHaveProperty("owner");
    expect(stored.models.greedy!.headerSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.stages.draft!.models[0]!.params).toMatchObject({ temperature: 0, max_tokens: 24 });

    const loads = runtime.stats().modelLoads;
    // Without the stage cache, which would serve this run without calling a model at all.
    const second = await studio.run({ input: "Once upon a time", cache: false });
    expect(second.status).toBe("completed");
    expect(runtime.stats().modelLoads).toBe(loads);
    expect(second.stages.draft!.models[0]!.load?.loaded).toBe(false);
  });

  it("gives the same text twice at temperature 0", async () => {
    await addPipeline("one", "pipeline:\n  stages:\n    - id: only\n      type: single\n      model: greedy\n");
    const a = await studio.run({ pipeline: "one", input: "The little dog" });
    const b = await studio.run({ pipeline: "one", input: "The little dog", cache: false });
    expect(a.finalAnswer!.length).toBeGreaterThan(10);
    expect(b.finalAnswer).toBe(a.finalAnswer);
  });

  it("runs with parameters over the named stages' own and their synthesis's, and keeps them in the session", async () => {
    await addPipeline(
      "tuned",
      "pipeline:\n  stages:\n    - id: draft\n      type: single\n      model: greedy\n      params: { max_tokens: 30 }\n    - id: panel\n      type: multi\n      input_from: draft\n      models: [greedy, cool]\n      aggregation: { method: synthesis, model: greedy, params: { max_tokens: 30 } }\n",
    );
    const session = await studio.run({ pipeline: "tuned", input: "Tom had a ball.", params: { panel: { max_tokens: 4, temperature: 0 } } });
    expect(session.status).toBe("completed");
    expect(session.stages.draft!.models[0]!.metrics.tokensOut).toBe(30);
    expect(session.stages.panel!.models.map((output) => output.metrics.tokensOut)).toEqual([4, 4]);
    const synthesis = session.stages.panel!.aggregation;
    expect(synthesis?.method === "synthesis" && synthesis.output.metrics.tokensOut).toBe(4);
    const stored = session.pipeline as { stages: Array<{ id: string; params: object; aggregation?: { params?: object } }> };
    expect(stored.stages[1]).toMatchObject({ params: { max_tokens: 4, temperature: 0 }, aggregation: { params: { max_tokens: 4, temperature: 0 } } });
    expect(stored.stages[0]!.params).toEqual({ max_tokens: 30 });
    await expect(studio.run({ pipeline: "tuned", input: "x", params: { nowhere: { max_tokens: 1 } } })).rejects.toThrow(/no stage "nowhere".*draft, panel/);
  });

  it("passes on the input plus the answer, or the answer alone", async () => {
    await addPipeline(
      "modes",
      "pipeline:\n  stages:\n    - id: plus\n      type: single\n      model: greedy\n      output_mode: input_plus_answer\n    - id: alone\n      type: single\n      model: greedy\n      input_from: plus\n",
    );
    const session = await studio.run({ pipeline: "modes", input: "Tom had a ball." });
    const plus = session.stages.plus!;
    expect(plus.output).toBe(`Tom had a ball.\n\n${plus.answer}`);
    expect(session.stages.alone!.output).toBe(session.stages.alone!.answer);
    expect(session.stages.alone!.models[0]!.prompt).toBe(plus.output);
  });

  it("merges a list input_from in the labelled format", async () => {
    await addPipeline(
      "merge",
      "pipeline:\n  stages:\n    - id: a\n      type: single\n      model: greedy\n    - id: b\n      type: single\n      model: cool\n    - id: c\n      type: single\n      model: greedy\n      input_from: [a, b]\n",
    );
    const session = await studio.run({ pipeline: "merge", input: "Lily saw a bird." });
    expect(session.stages.c!.models[0]!.prompt).toBe(`[stage: a]\n${session.stages.a!.output}\n\n[stage: b]\n${session.stages.b!.output}`);
  });

  it("votes, concatenates and fills a template over real answers", async () => {
    await addPipeline(
      "aggregations",
      `pipeline:
  stages:
    - id: vote
      type: multi
      models: [greedy, greedy, warm]
      aggregation: { method: vote }
    - id: concat
      type: multi
      models: [greedy, cool]
      aggregation: { method: concat, separator: "\\n--\\n" }
    - id: template
      type: multi
      models: [greedy, cool]
      aggregation: { method: template, template: "1={{answer.1}}|2={{answer.cool}}" }
`,
    );
    const session = await studio.run({ pipeline: "aggregations", input: "The sun was" });
    expect(session.status).toBe("completed");
    const vote = session.stages.vote!;
    // Two greedy runs agree, so their answer wins 2 to 1 (or 3 if the warm one happened to agree).
    expect(vote.aggregation).toMatchObject({ method: "vote" });
    expect(vote.answer).toBe(vote.models[0]!.answer.trim());
    const tallies = (vote.aggregation as { tallies: Array<{ votes: number; models: string[] }> }).tallies;
    expect(tallies[0]!.votes).toBeGreaterThanOrEqual(2);
    const concat = session.stages.concat!;
    expect(concat.answer).toBe(`[model: greedy]\n${concat.models[0]!.answer}\n--\n[model: cool]\n${concat.models[1]!.answer}`);
    const template = session.stages.template!;
    expect(template.answer).toBe(`1=${template.models[0]!.answer}|2=${template.models[1]!.answer}`);
  });

  it("reruns from a stage as a branch, reusing the stages upstream without recomputing them", async () => {
    const parent = await studio.run({ input: "Once upon a time" });
    const generations = runtime.stats().generations;
    const events: RunEvent[] = [];
    const branch = await studio.rerun(parent.id, { fromStage: "panel", cache: false, onEvent: (event) => events.push(event) });
    expect(branch.status).toBe("completed");
    expect(branch.parentRunId).toBe(parent.id);
    expect(branch.stages.draft).toMatchObject({ reused: true, output: parent.stages.draft!.output });
    // panel: 3 models + synthesis; ending: 1. draft is not generated again.
    expect(runtime.stats().generations - generations).toBe(5);
    expect(events.some((event) => event.type === "stage-delta" && event.stageId === "draft")).toBe(false);
    expect(events.find((event) => event.type === "stage-end" && event.stageId === "draft")).toMatchObject({ reused: true });
    const tree = await studio.sessions.tree(branch.id);
    expect(tree.id).toBe(parent.id);
    expect(tree.children.map((child) => child.id)).toEqual([branch.id]);

    expect(branch.inputEdited).toBeUndefined();
    const edited = await studio.rerun(parent.id, { fromStage: "ending", input: "A cat sat" });
    expect(edited.stages.draft!.reused).toBe(false);
    expect(edited.input).toBe("A cat sat");
    // The branch is marked as made with an edited input, in its record, its summary and the family tree.
    expect(edited.inputEdited).toBe(true);
    expect((await studio.sessions.list({ parentRunId: parent.id })).items.find((item) => item.id === edited.id)).toMatchObject({ inputEdited: true });
    expect((await studio.sessions.tree(edited.id)).children.find((child) => child.id === edited.id)).toMatchObject({ inputEdited: true });
    // The same input again is no edit.
    expect((await studio.rerun(parent.id, { fromStage: "ending", input: "Once upon a time" })).inputEdited).toBeUndefined();
  });

  it("cancels mid-stream, keeps the session as cancelled, and runs again after", async () => {
    const controller = new AbortController();
    const session = await studio.run({
      input: "Once upon a time",
      cache: false,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === "stage-delta") controller.abort();
      },
    });
    expect(session.status).toBe("cancelled");
    expect(session.stages.draft!.status).toBe("cancelled");
    expect((await studio.sessions.get(session.id)).status).toBe("cancelled");
    expect((await studio.run({ input: "Once upon a time" })).status).toBe("completed");
  });

  it("fails the run cleanly when the worker is killed mid-run, and the next run succeeds", async () => {
    await addPipeline("long", "pipeline:\n  stages:\n    - id: long\n      type: single\n      model: greedy\n      params: { max_tokens: 400 }\n    - id: next\n      type: single\n      model: greedy\n      input_from: long\n");
    await studio.run({ pipeline: "long", input: "warm up" });
    let killed: number | undefined;
    const session = await studio.run({
      pipeline: "long",
      input: "Once upon a time",
      cache: false,
      onEvent: (event) => {
        if (event.type === "stage-delta" && killed === undefined) {
          killed = runtime.stats().workerPid!;
          process.kill(killed, "SIGKILL");
        }
      },
    });
    expect(session.status).toBe("failed");
    expect(session.stages.long).toMatchObject({ status: "failed", error: { code: "worker-crashed" } });
    expect(session.stages.long!.error!.message).toMatch(/SIGKILL/);
    // What the pages need to say it in their language: the worker's process id and the signal, and the model.
    expect(session.stages.long!.error!.params).toMatchObject({ reason: "signal", pid: String(killed), signal: "SIGKILL", model: "greedy" });
    expect(session.stages.next).toMatchObject({ status: "skipped", error: { code: "upstream-failed", causeStageId: "long" } });
    const after = await studio.run({ pipeline: "long", input: "Once upon a time" });
    expect(after.status).toBe("completed");
  });

  it("refuses a model file outside the models folder before loading anything", async () => {
    await writeFiles(root, { "config/models.yaml": modelsYaml.replace(`greedy:\n    file: ${storiesFile}`, `greedy:\n    file: ../models/${storiesFile}`) });
    const loads = runtime.stats().modelLoads;
    const generations = runtime.stats().generations;
    await expect(studio.run({ input: "x" })).rejects.toMatchObject({ code: "config-invalid", message: expect.stringMatching(/models\.yaml:\d+:\d+: models\.greedy\.file: .*leaves the models folder/) });
    expect(runtime.stats().generations).toBe(generations);
    expect(runtime.stats().modelLoads).toBe(loads);
  });

  it("starts no worker for a remote-only pipeline, and none once it is closed", async () => {
    await writeFiles(root, {
      "config/models.yaml": testModelsYaml("  fleet:\n    backend: openai\n    base_url: http://127.0.0.1:9/v1\n    model: m\n"),
      "config/pipelines/remote.yaml": "pipeline:\n  stages:\n    - { id: a, type: single, model: fleet }\n",
      "config/pipelines/lost.yaml": "pipeline:\n  stages:\n    - { id: a, type: single, model: lost }\n",
    });
    const env = { PROJECT_LLM_CONFIG_DIR: path.join(root, "config"), PROJECT_LLM_MODELS_DIR: testModelsDir, PROJECT_LLM_SESSIONS_DIR: path.join(root, "sessions") };
    // Studios with runtimes of their own: a worker they start is theirs, not another test's.
    const own = Studio.open({ cwd: root, packageRoot: process.cwd(), env });
    try {
      await own.check({ pipeline: "remote" });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await own.runtime()).stats().workerStarts).toBe(0);
    } finally {
      await own.dispose();
    }
    // A pipeline with a local model asks for its worker while its setup is checked; closed at once after the
    // check refused the run, the studio never starts it.
    await writeFiles(root, { "config/models.yaml": testModelsYaml("  lost:\n    file: no-such-model.gguf\n") });
    const closed = Studio.open({ cwd: root, packageRoot: process.cwd(), env });
    await expect(closed.run({ pipeline: "lost", input: "x" })).rejects.toMatchObject({ code: "config-invalid" });
    await closed.dispose();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pid = (await closed.runtime().catch(() => undefined))?.stats().workerPid;
    if (pid !== undefined) expect(processAlive(pid)).toBe(false);
  });
});

// A short stage, then one that writes until it is stopped; and one short stage alone.
const endless = `pipeline:
  stages:
    - id: opening
      type: single
      model: greedy
      params: { max_tokens: 24 }
    - id: endless
      type: single
      model: warm
      input_from: opening
      params: { max_tokens: 1000000 }
`;
const short = "pipeline:\n  stages:\n    - { id: draft, type: single, model: greedy, params: { max_tokens: 24 } }\n";
let mounted: string | undefined;

/** The sessions folder on a tmpfs of its own, to be made read-only; a reason to skip when it cannot be mounted. */
function mountSessions(): string | undefined {
  const directory = path.join(root, "sessions");
  try {
    execFileSync("mkdir", ["-p", directory]);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", directory], { stdio: "pipe" });
  } catch (error) {
    return `cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})`;
  }
  mounted = directory;
  return undefined;
}
/**
 * Remounts the sessions folder. A read-only remount is refused ("mount point is busy") while a file there
 * is open for writing (a session's temp file, the session index's log): tried again a few times, 20 ms
 * apart, waiting on the event loop so that the write holding the file open can end and close it.
 */
async function remount(mode: "ro" | "rw"): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync("mount", ["-o", `remount,${mode}`, mounted!], { stdio: "pipe" });
      return;
    } catch (error) {
      if (attempt >= 50 || !/busy/.test(String((error as { stderr?: Buffer }).stderr ?? ""))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Fills the sessions folder's tmpfs to its last byte, at once and whatever is open there, so that the next
 * write fails (ENOSPC); the returned function frees the space again.
 */
function fillSessions(): () => void {
  const filler = path.join(mounted!, "filler");
  const fd = openSync(filler, "w");
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  return () => rmSync(filler, { force: true });
}

async function onDisk(id: string): Promise<SessionRecord | undefined> {
  try {
    return JSON.parse(await readFile(path.join(root, "sessions", `${id}.json`), "utf8")) as SessionRecord;
  } catch {
    return undefined;
  }
}

describe("a run's session on disk, while it goes and when it cannot be written", () => {
  beforeEach(async () => {
    await addPipeline("endless", endless);
    await addPipeline("short", short);
  });
  afterEach(() => {
    if (mounted) execFileSync("umount", [mounted]);
    mounted = undefined;
  });

  it("holds the stages that ended and the text streamed so far, written while the run goes", async () => {
    const controller = new AbortController();
    let id = "";
    const streamed: string[] = [];
    const running = studio.run({
      pipeline: "endless",
      input: "Once upon a time",
      signal: controller.signal,
      onSession: (runId) => (id = runId),
      onEvent: (event) => {
        if (event.type === "stage-delta" && event.stageId === "endless") streamed.push(event.text);
      },
    });
    // Read back from the file alone, while the run goes: the first stage's record, and text of the second.
    let seen: SessionRecord | undefined;
    try {
      await expect
        .poll(
          async () => {
            seen = id ? await onDisk(id) : undefined;
            return seen?.events?.filter((event) => event.type === "stage-delta" && event.stageId === "endless").length ?? 0;
          },
          { timeout: 30_000, interval: 100 },
        )
        .toBeGreaterThan(0);
    } finally {
      controller.abort();
    }
    const ended = await running;
    expect(seen).toMatchObject({ status: "running", stages: { opening: { status: "completed" } }, checkpointAt: expect.any(String) });
    expect(seen!.stages.endless).toBeUndefined();
    const written = seen!.events!.flatMap((event) => (event.type === "stage-delta" && event.stageId === "endless" ? [event.text] : []));
    // What the file holds is what streamed, up to its checkpoint.
    expect(streamed.join("").startsWith(written.join(""))).toBe(true);
    expect(Date.parse(seen!.checkpointAt!)).toBeGreaterThanOrEqual(seen!.events!.at(-1)!.at);
    expect(ended).toMatchObject({ status: "cancelled" });
    expect((await onDisk(id))!.checkpointAt).toBeUndefined();
  });

  it("ends the run failed with storage-failed, in its run-end as the server streams it, never completed", async (context) => {
    const skip = mountSessions();
    if (skip) return context.skip(skip);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const runs = new RunManager(studio);
      const seen: RunEvent[] = [];
      let readOnly = false;
      // Long enough (~0.3 s) that the disk breaks mid-run, whatever the pace of this loop against the run's.
      await addPipeline("long", short.replace("max_tokens: 24", "max_tokens: 400"));
      const { id } = await runs.start({ pipeline: "long", input: "Once upon a time" });
      for await (const event of runs.events(id)) {
        seen.push(event);
        // From its first text on, once its session file exists, nothing more can be written.
        if (event.type === "stage-delta" && !readOnly) {
          await vi.waitFor(async () => expect(await onDisk(id)).toBeDefined(), { interval: 2 });
          await remount("ro");
          readOnly = true;
        }
      }
      const end = seen.at(-1)!;
      expect(end).toMatchObject({
        type: "run-end",
        status: "failed",
        error: { code: "storage-failed", params: { reason: "read-only", folder: path.join(root, "sessions"), id } },
      });
      expect(end.type === "run-end" && end.finalAnswer).toBeFalsy();
      expect(end.type === "run-end" && end.error?.message).toContain(`could not be saved in the sessions folder ${path.join(root, "sessions")}: it is on a read-only file system`);
      expect(seen.filter((event) => event.type === "run-end")).toHaveLength(1);
      // It was tried again before it gave up.
      expect(errors.mock.calls.filter(([message]) => String(message).includes("trying again")).length).toBe(3);
      // What is on disk is the session as it was before the disk turned read-only: never completed.
      expect((await onDisk(id))!.status).toBe("running");
    } finally {
      errors.mockRestore();
    }
  });

  it("refuses to start a run whose session cannot be created, with storage-failed", async (context) => {
    const skip = mountSessions();
    if (skip) return context.skip(skip);
    await remount("ro");
    const error = await studio.run({ pipeline: "short", input: "Once upon a time" }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "storage-failed", details: { params: { reason: "read-only", folder: path.join(root, "sessions") } } });
    expect((error as Error).message).toContain("it is on a read-only file system");
  });

  it("completes when a write fails once and the next try works", async (context) => {
    const skip = mountSessions();
    if (skip) return context.skip(skip);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    let back: Promise<void> | undefined;
    try {
      let created = false;
      let ended = false;
      // The last stage has ended and the session file exists (its first write may come after the stage's
      // end): the final write comes next, onto a full disk that has room again a moment later.
      const breakDisk = () => {
        if (!created || !ended || back) return;
        const free = fillSessions();
        back = new Promise((resolve) => setTimeout(resolve, 300)).then(free);
      };
      const session = await studio.run({
        pipeline: "short",
        input: "Once upon a time",
        onSession: () => {
          created = true;
          breakDisk();
        },
        onEvent: (event) => {
          if (event.type !== "stage-end") return;
          ended = true;
          breakDisk();
        },
      });
      expect(errors.mock.calls.some(([message]) => String(message).includes("trying again"))).toBe(true);
      expect(session.status).toBe("completed");
      expect(await onDisk(session.id)).toMatchObject({ status: "completed", finalAnswer: session.finalAnswer });
    } finally {
      // The space is freed before the tmpfs goes (afterEach), whatever failed.
      await back;
      errors.mockRestore();
    }
  });
});
