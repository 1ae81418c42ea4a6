/**
 * Integration: what a run keeps on disk while it goes (checkpoints of the real file store, read back from
 * the file), and how it ends when its session cannot be written: real runs on the real model, a real
 * read-only disk (a tmpfs mounted read-only; mounting needs root, as CI has; a folder of mode 0555 would
 * not do, since it does not stop root).
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunEvent } from "../engine/index.js";
import { createRuntime, type Runtime } from "../runtime/index.js";
import { RunManager } from "../server/run-manager.js";
import type { SessionRecord } from "../store/index.js";
import { tempDir, testModelsYaml, writeFiles } from "../testing/fixtures.js";
import { openTestStudio } from "../testing/studio.js";
import type { Studio } from "./studio.js";

const modelsYaml = testModelsYaml();
const basePipeline = `base_pipeline:
  stages:
    - id: draft
      type: single
      model: greedy
      params: { max_tokens: 24 }
`;
// A short stage, then one that writes until it is stopped.
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

let runtime: Runtime;
let root: string;
let cleanup: () => Promise<void>;
let studio: Studio;
let mounted: string | undefined;

beforeAll(() => {
  runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
});
afterAll(async () => runtime.dispose());
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  studio = await openTestStudio(root, runtime, { modelsYaml, pipelineYaml: basePipeline });
  await writeFiles(root, { "config/pipelines/endless.yaml": endless });
});
afterEach(async () => {
  await studio.dispose();
  if (mounted) execFileSync("umount", [mounted]);
  mounted = undefined;
  await cleanup();
});

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
const remount = (mode: "ro" | "rw"): void => void execFileSync("mount", ["-o", `remount,${mode}`, mounted!], { stdio: "pipe" });

async function onDisk(id: string): Promise<SessionRecord | undefined> {
  try {
    return JSON.parse(await readFile(path.join(root, "sessions", `${id}.json`), "utf8")) as SessionRecord;
  } catch {
    return undefined;
  }
}

describe("a running session on disk", () => {
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
});

describe("a session that cannot be written", () => {
  it("ends the run failed with storage-failed, in its run-end as the server streams it, never completed", async (context) => {
    const skip = mountSessions();
    if (skip) return context.skip(skip);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const runs = new RunManager(studio);
      const seen: RunEvent[] = [];
      let readOnly = false;
      const { id } = await runs.start({ pipeline: "base", input: "Once upon a time" });
      for await (const event of runs.events(id)) {
        seen.push(event);
        // The session exists; from its first text on, nothing more can be written.
        if (event.type === "stage-delta" && !readOnly) {
          remount("ro");
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

  it("completes when a write fails once and the next try works", async (context) => {
    const skip = mountSessions();
    if (skip) return context.skip(skip);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      let back: Promise<void> | undefined;
      const session = await studio.run({
        input: "Once upon a time",
        onEvent: (event) => {
          // The last stage ends: the final write comes next, onto a read-only disk that is back a moment later.
          if (event.type === "stage-end" && !back) {
            remount("ro");
            back = new Promise((resolve) => setTimeout(resolve, 300)).then(() => remount("rw"));
          }
        },
      });
      await back;
      expect(errors.mock.calls.some(([message]) => String(message).includes("trying again"))).toBe(true);
      expect(session.status).toBe("completed");
      expect(await onDisk(session.id)).toMatchObject({ status: "completed", finalAnswer: session.finalAnswer });
    } finally {
      errors.mockRestore();
    }
  });
});
