import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { access, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { writeFileDurably } from "../common/index.js";
import { FileSessionStore, type FileSessionStoreOptions } from "./file-session-store.js";
import { makeFullSession, makeSession, sessionStoreConformance } from "./session-store.conformance.js";
import { processOwner } from "./session-owner.js";

sessionStoreConformance("FileSessionStore", async () => {
  const { dir, cleanup } = await tempDir("project-llm-store-");
  const store = new FileSessionStore(dir);
  // Its index is written before its folder is removed, not by a timer later into a folder that is gone.
  return { store, cleanup: () => store.flush().finally(cleanup) };
});

const consoleErrors = vi.spyOn(console, "error");

afterAll(async () => {
  // A store left with a write of its index pending (they wait 1 s) would try it now, in a folder that is gone.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  expect(consoleErrors.mock.calls).toEqual([]);
});

/** The stores the current test opened, flushed before its folder is removed. */
const opened: FileSessionStore[] = [];

function openStore(dir: string, options?: FileSessionStoreOptions): FileSessionStore {
  const store = new FileSessionStore(dir, options);
  opened.push(store);
  return store;
}

/** A temp folder for one test, removed afterwards even when the test fails. */
async function inTempDir(work: (dir: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir("project-llm-store-");
  try {
    await work(dir);
  } finally {
    try {
      for (const store of opened.splice(0)) await store.flush();
    } finally {
      await cleanup();
    }
  }
}

const exists = (file: string) => access(file).then(() => true, () => false);

/**
 * The summaries the index on disk holds, by id: index.json with its change logs applied in order (the
 * segments being folded, then index.log), read here independently of the store's own reader.
 */
async function indexOnDisk(dir: string): Promise<Map<string, { id: string; status?: string; finalPreview?: string }>> {
  const snapshot = JSON.parse(await readFile(path.join(dir, "index.json"), "utf8")) as { version: number; sessions: Array<{ id: string }> };
  expect(snapshot.version).toBe(1);
  const summaries = new Map(snapshot.sessions.map((summary) => [summary.id, summary]));
  const logs = (await readdir(dir)).filter((name) => name.endsWith(".compacting")).sort();
  for (const log of [...logs, "index.log"]) {
    const text = await readFile(path.join(dir, log), "utf8").catch(() => "");
    for (const line of text.split("\n").filter(Boolean)) {
      const change = JSON.parse(line) as { set?: { id: string }; delete?: string };
      if (change.set) summaries.set(change.set.id, change.set);
      else summaries.delete(change.delete!);
    }
  }
  return summaries;
}

const indexedIds = async (dir: string) => [...(await indexOnDisk(dir)).keys()].sort();

describe("FileSessionStore on disk", () => {
  it("writes one whole JSON file per session and leaves no temp file", () =>
    inTempDir(async (dir) => {
      const store = openStore(dir);
      const session = makeFullSession();
      await store.save(session);
      await store.save({ ...session, finalAnswer: "a second version" });
      expect(JSON.parse(await readFile(path.join(dir, `${session.id}.json`), "utf8"))).toEqual({ ...session, finalAnswer: "a second version" });
      // The index follows later, in one write; a store opened before that reads the session files themselves.
      const reopened = openStore(dir);
      expect((await reopened.list()).items.map((item) => item.finalPreview)).toEqual(["a second version"]);
      await store.flush();
      await reopened.flush();
      expect([...(await indexOnDisk(dir)).values()]).toMatchObject([{ id: session.id, finalPreview: "a second version" }]);
      // index.log is there unless the other store's rebuild folded it into index.json just then.
      expect((await readdir(dir)).filter((name) => name !== "index.log").sort()).toEqual([`${session.id}.json`, "index.json"].sort());
    }));

  it("writeFileDurably replaces a file whole and cleans up its temp file when the write fails", () =>
    inTempDir(async (dir) => {
      const file = path.join(dir, "target.json");
      await writeFileDurably(file, "old");
      await writeFileDurably(file, "new");
      expect(await readFile(file, "utf8")).toBe("new");
      await expect(writeFileDurably(path.join(dir, "missing-folder", "x.json"), "x")).rejects.toMatchObject({ code: "ENOENT" });
      expect(await readdir(dir)).toEqual(["target.json"]);
    }));

  it("keeps sessions across instances (a new process sees what the last one wrote)", () =>
    inTempDir(async (dir) => {
      const root = makeFullSession();
      const branch = makeSession({ parentRunId: root.id, rerunFromStage: "draft" });
      const first = openStore(dir);
      await first.save(root);
      await first.save(branch);
      const second = openStore(dir);
      expect(await second.get(root.id)).toEqual(root);
      expect(await second.list()).toEqual(await first.list());
      expect(await second.tree(branch.id)).toMatchObject({ id: root.id, children: [{ id: branch.id, rerunFromStage: "draft", children: [] }] });
    }));

  for (const [damage, write] of [
    ["missing", (file: string) => rm(file)],
    ["not JSON", (file: string) => writeFile(file, "{ torn")],
    ["not the index schema", (file: string) => writeFile(file, JSON.stringify({ version: 1, sessions: [{ id: "../x" }] }))],
    ["of another version", (file: string) => writeFile(file, JSON.stringify({ version: 2, entries: [] }))],
  ] as const) {
    it(`rebuilds an index that is ${damage} from the session files, with the same listing`, () =>
      inTempDir(async (dir) => {
        const sessions = [makeFullSession(), makeSession({ status: "failed", finalAnswer: undefined }), makeSession({ pipelineName: "other" })];
        const first = openStore(dir);
        for (const session of sessions) await first.save(session);
        await first.flush();
        const listing = await first.list();
        await write(path.join(dir, "index.json"));
        const second = openStore(dir);
        expect(await second.list()).toEqual(listing);
        expect(await second.list({ status: "failed" })).toMatchObject({ total: 1, items: [{ id: sessions[1]!.id }] });
        // The rebuilt index was written back whole, with no log left to amend it: a third instance reads it as valid.
        await second.flush();
        const stored = JSON.parse(await readFile(path.join(dir, "index.json"), "utf8"));
        expect(stored.sessions.map((summary: { id: string }) => summary.id)).toEqual(sessions.map((session) => session.id));
        expect((await readdir(dir)).filter((name) => name.startsWith("index."))).toEqual(["index.json"]);
        expect(await openStore(dir).list()).toEqual(listing);
      }));
  }

  it("reconciles an index that is out of step: files it lacks are added, entries without a file dropped, running entries refreshed", () =>
    inTempDir(async (dir) => {
      const kept = makeSession({ status: "running", finalAnswer: undefined, endedAt: undefined, durationMs: undefined });
      const removed = makeSession();
      const first = openStore(dir);
      await first.save(kept);
      await first.save(removed);
      // As if a process crashed after writing session files but before writing the index:
      const added = makeSession({ input: "written by hand" });
      await writeFile(path.join(dir, `${added.id}.json`), JSON.stringify(added));
      await writeFile(path.join(dir, `${kept.id}.json`), JSON.stringify({ ...kept, status: "completed", finalAnswer: "finished" }));
      await rm(path.join(dir, `${removed.id}.json`));
      const second = openStore(dir);
      const page = await second.list();
      expect(page.items.map((item) => [item.id, item.status])).toEqual([
        [added.id, "completed"],
        [kept.id, "completed"],
      ]);
      expect(page.items[1]!.finalPreview).toBe("finished");
    }));

  it("lists what another process writes into its folder without being reopened, and neither writes the other's sessions out of index.json", () =>
    inTempDir(async (dir) => {
      const studio = openStore(dir);
      const ours = makeFullSession({ input: "from the studio" });
      await studio.save(ours);
      expect((await studio.list()).total).toBe(1);

      // A second process (the CLI) opens the folder and runs two sessions while the studio is open.
      const cli = openStore(dir);
      await cli.open();
      const running = makeSession({ input: "from the terminal", status: "running", finalAnswer: undefined, endedAt: undefined, durationMs: undefined });
      const branch = makeSession({ input: "a branch from the terminal", parentRunId: ours.id, rerunFromStage: "draft" });
      await cli.save(running);
      await cli.save(branch);
      expect((await studio.list()).items.map((item) => [item.id, item.status])).toEqual([
        [branch.id, "completed"],
        [running.id, "running"],
        [ours.id, "completed"],
      ]);
      expect(await studio.tree(ours.id)).toMatchObject({ id: ours.id, children: [{ id: branch.id }] });
      // Its run ends: the studio's listing follows.
      await cli.save({ ...running, status: "completed", finalAnswer: "the end", endedAt: new Date().toISOString(), durationMs: 10 });
      expect((await studio.list({ query: "terminal", status: "completed" })).total).toBe(2);

      // The studio runs one more after the CLI opened; whichever writes index.json last, it holds all four.
      const later = makeSession({ input: "from the studio, later" });
      await studio.save(later);
      const indexed = () => indexedIds(dir);
      const all = [ours.id, running.id, branch.id, later.id].sort();
      await studio.flush();
      await cli.flush();
      expect(await indexed()).toEqual(all);
      await cli.delete(branch.id);
      await cli.flush();
      await studio.flush();
      expect((await studio.list()).items.map((item) => item.id).sort()).toEqual(all.filter((id) => id !== branch.id));
      expect(await indexed()).toEqual(all.filter((id) => id !== branch.id));
    }));

  it("lists from memory while the folder's modification time stays the same, and reconciles once it changes", () =>
    inTempDir(async (dir) => {
      const store = openStore(dir);
      const first = makeSession();
      await store.save(first);
      await store.flush();
      // The folder last changed a minute ago: its time is trusted to show the next change.
      const minuteAgo = new Date(Date.now() - 60_000);
      await utimes(dir, minuteAgo, minuteAgo);
      expect((await store.list()).total).toBe(1);
      // A file put there with the folder's time set back as it was: the store does not list the folder again.
      const unseen = makeSession();
      await writeFile(path.join(dir, `${unseen.id}.json`), JSON.stringify(unseen));
      await utimes(dir, minuteAgo, minuteAgo);
      expect((await store.list()).items.map((item) => item.id)).toEqual([first.id]);
      // Any change of the folder's time, and it does.
      const now = new Date();
      await utimes(dir, now, now);
      expect((await store.list()).items.map((item) => item.id)).toEqual([unseen.id, first.id]);
    }));

  it("ignores a torn temp file and removes it when it opens", () =>
    inTempDir(async (dir) => {
      const session = makeFullSession();
      await openStore(dir).save(session);
      const torn = path.join(dir, `.${session.id}.json.4242-deadbeef.tmp`);
      await writeFile(torn, '{ "version": 1, "id": "half a ses');
      const store = openStore(dir);
      expect(await store.get(session.id)).toEqual(session);
      expect((await store.list()).items.map((item) => item.id)).toEqual([session.id]);
      expect(await exists(torn)).toBe(false);
      expect((await readdir(dir)).sort()).toEqual([`${session.id}.json`, "index.json"].sort());
    }));

  it("leaves a damaged session file out of the listing, reports it on rebuild, and says so on get", () =>
    inTempDir(async (dir) => {
      const good = makeSession();
      const bad = makeSession();
      const store = openStore(dir);
      await store.save(good);
      await writeFile(path.join(dir, `${bad.id}.json`), "{ torn");
      expect(await store.rebuildIndex()).toEqual({ indexed: 1, damaged: [{ file: `${bad.id}.json`, problem: "not-json", detail: expect.stringContaining("JSON") }] });
      expect((await store.list()).items.map((item) => item.id)).toEqual([good.id]);
      await expect(store.get(bad.id)).rejects.toMatchObject({ code: "session-damaged", message: expect.stringContaining("is not JSON") });
    }));

  it("lists every file it cannot read as damaged, with what is wrong, until it is mended or removed", () =>
    inTempDir(async (dir) => {
      const good = makeSession();
      const store = openStore(dir);
      await store.save(good);
      await store.flush();
      const torn = makeSession();
      const mismatched = makeSession();
      const notASession = makeSession();
      await writeFile(path.join(dir, `${torn.id}.json`), JSON.stringify(torn).slice(0, 60));
      await writeFile(path.join(dir, `${mismatched.id}.json`), JSON.stringify({ ...good, id: good.id }));
      await writeFile(path.join(dir, `${notASession.id}.json`), JSON.stringify({ ...notASession, status: "sleeping" }));
      await writeFile(path.join(dir, "my copy.json"), JSON.stringify(good));
      await writeFile(path.join(dir, "notes.txt"), "not a session, and not named as one");

      const expected = [
        { file: `${torn.id}.json`, problem: "not-json", detail: expect.stringContaining("JSON") },
        { file: `${mismatched.id}.json`, problem: "id-mismatch", detail: `it holds session ${good.id}` },
        { file: `${notASession.id}.json`, problem: "not-a-session", detail: expect.stringMatching(/^status: /) },
        { file: "my copy.json", problem: "not-a-run-id", detail: expect.stringContaining("is not a run id") },
      ];
      // The store that wrote the folder notices them, and so does one opened afresh.
      for (const reader of [store, openStore(dir)]) {
        const page = await reader.list();
        expect(page.items.map((item) => item.id)).toEqual([good.id]);
        expect(page.total).toBe(1);
        expect(page.damaged).toEqual(expected);
      }
      expect(await store.check()).toEqual(expected);

      await expect(store.get(torn.id)).rejects.toMatchObject({ code: "session-damaged", message: expect.stringMatching(/is not JSON.*sessions check/) });
      await expect(store.get(mismatched.id)).rejects.toMatchObject({ code: "session-damaged", message: expect.stringContaining(`holds session ${good.id}`) });
      await expect(store.get(notASession.id)).rejects.toMatchObject({ code: "session-damaged", message: expect.stringContaining("does not match the session schema: status") });

      // Mended, or moved away: no longer damaged.
      await store.save(torn);
      await rm(path.join(dir, "my copy.json"));
      const page = await store.list();
      expect(page.items.map((item) => item.id)).toEqual([torn.id, good.id]);
      expect(page.damaged?.map((damaged) => damaged.file)).toEqual([`${mismatched.id}.json`, `${notASession.id}.json`]);
    }));

  it("keeps the index right through many saves of a running session, folding its log into index.json", () =>
    inTempDir(async (dir) => {
      // Folded past 100 lines here (1,000 by default), so that the test makes fewer saves.
      const store = openStore(dir, { compactAfterLines: 100 });
      const others = Array.from({ length: 20 }, (_, index) => makeSession({ input: `other ${index}` }));
      for (const other of others) await store.save(other);
      const run = makeSession({ status: "running", finalAnswer: undefined, endedAt: undefined, durationMs: undefined });
      // A checkpoint every 2 s of a long run, each reaching the log (flush) before the next.
      const saves = 250;
      for (let step = 0; step < saves; step++) {
        await store.save({ ...run, finalAnswer: `text so far ${step}` });
        await store.flush();
      }
      await store.delete(others[0]!.id);
      await store.save({ ...run, status: "completed", finalAnswer: "the end", endedAt: new Date().toISOString(), durationMs: 2_200_000 });
      await store.flush();

      // The log was folded into index.json past 100 lines: what is left of it is shorter.
      const log = await readFile(path.join(dir, "index.log"), "utf8").catch(() => "");
      expect(log.split("\n").filter(Boolean).length).toBeLessThanOrEqual(101);
      expect((await readdir(dir)).filter((name) => name.endsWith(".compacting"))).toEqual([]);
      const snapshot = JSON.parse(await readFile(path.join(dir, "index.json"), "utf8")) as { sessions: Array<{ id: string }> };
      expect(snapshot.sessions.length).toBeGreaterThan(15);

      const onDisk = await indexOnDisk(dir);
      expect([...onDisk.keys()].sort()).toEqual([...others.slice(1).map((other) => other.id), run.id].sort());
      expect(onDisk.get(run.id)).toMatchObject({ status: "completed", finalPreview: "the end" });
      const reopened = openStore(dir);
      expect(await reopened.list({ limit: 100 })).toEqual(await store.list({ limit: 100 }));
      expect((await reopened.list({ status: "completed", query: "the end" })).items.map((item) => item.id)).toEqual([run.id]);
    }));

  it("answers a partial listing at once while it rebuilds its index, and a whole one when asked to wait", () =>
    inTempDir(async (dir) => {
      const sessions = Array.from({ length: 2_000 }, (_, index) => makeSession({ input: `story ${index}` }));
      for (const session of sessions) writeFileSync(path.join(dir, `${session.id}.json`), JSON.stringify(session));
      const store = openStore(dir);
      await store.open();
      expect(store.indexing).toBe(true);
      const partial = await store.list({ partial: true, limit: 10 });
      expect(partial.indexing).toEqual({ indexed: partial.total });
      expect(partial.total).toBeLessThan(2_000);
      const whole = await store.list({ limit: 10 });
      expect(whole.indexing).toBeUndefined();
      expect(whole.total).toBe(2_000);
      expect(whole.items.map((item) => item.id)).toEqual(sessions.slice(-10).reverse().map((session) => session.id));
      expect(store.indexing).toBe(false);
    }));

  it("starting on a folder without an index, answers interruptRunning at once, and marks the sessions left running once the files are read (or when one is read), not a run it started meanwhile", () =>
    inTempDir(async (dir) => {
      const notEnded = { status: "running" as const, finalAnswer: undefined, endedAt: undefined, durationMs: undefined };
      // Left running by a process that is gone.
      const stale = makeSession({ ...notEnded, owner: { host: hostname(), pid: spawnSync(process.execPath, ["-e", ""]).pid } });
      for (const session of [...Array.from({ length: 300 }, () => makeSession()), stale]) writeFileSync(path.join(dir, `${session.id}.json`), JSON.stringify(session));
      const store = openStore(dir);
      expect(await store.interruptRunning()).toEqual([]);
      expect(store.indexing).toBe(true);
      // Read while the index is built, the session left running is interrupted already.
      expect((await store.get(stale.id)).status).toBe("interrupted");
      expect(store.indexing).toBe(true);
      // A run of this process, started while the index is built.
      const ours = makeSession({ ...notEnded, owner: processOwner() });
      await store.create(ours);
      expect((await store.get(ours.id)).status).toBe("running");
      await store.flush();
      expect(JSON.parse(await readFile(path.join(dir, `${stale.id}.json`), "utf8")).status).toBe("interrupted");
      expect(JSON.parse(await readFile(path.join(dir, `${ours.id}.json`), "utf8")).status).toBe("running");
      expect((await store.list({ status: "running" })).items.map((item) => item.id)).toEqual([ours.id]);
      expect((await store.list({ status: "interrupted" })).items.map((item) => item.id)).toEqual([stale.id]);
    }));

  it("rebuilds the index when it is deleted, reporting progress and damaged files", () =>
    inTempDir(async (dir) => {
      const sessions = Array.from({ length: 30 }, () => makeSession());
      const store = openStore(dir);
      for (const session of sessions) await store.save(session);
      await store.flush();
      await writeFile(path.join(dir, "torn.json"), "{");
      for (const name of await readdir(dir)) if (name.startsWith("index.")) await rm(path.join(dir, name));
      const progress: Array<[number, number]> = [];
      const report = await openStore(dir).rebuildIndex({ onProgress: (read, total) => progress.push([read, total]) });
      expect(report).toEqual({ indexed: 30, damaged: [{ file: "torn.json", problem: "not-a-run-id", detail: expect.any(String) }] });
      expect(progress.at(-1)).toEqual([30, 30]);
      expect(await indexedIds(dir)).toEqual(sessions.map((session) => session.id).sort());
    }));

  it("refuses ids that would leave its folder before touching the disk", () =>
    inTempDir(async (parent) => {
      const dir = path.join(parent, "sessions");
      const store = openStore(dir);
      for (const bad of ["../etc/passwd", "../../etc/passwd", "a/b", "", `../${makeSession().id}`]) {
        await expect(store.get(bad)).rejects.toMatchObject({ code: "invalid-id" });
        await expect(store.delete(bad)).rejects.toMatchObject({ code: "invalid-id" });
        await expect(store.save(makeSession({ id: bad }))).rejects.toMatchObject({ code: "invalid-id" });
      }
      // The store creates its folder when it first opens: it never did.
      expect(await exists(dir)).toBe(false);
      expect(await readdir(parent)).toEqual([]);
    }));

  it("reads a folder that is not there as empty and creates it only to write a session", () =>
    inTempDir(async (parent) => {
      const dir = path.join(parent, "sessions");
      const store = openStore(dir);
      expect(await store.list()).toEqual({ items: [], total: 0 });
      const session = makeSession();
      expect(await store.has(session.id)).toBe(false);
      await expect(store.get(session.id)).rejects.toMatchObject({ code: "session-not-found" });
      await expect(store.tree(session.id)).rejects.toMatchObject({ code: "session-not-found" });
      expect(await store.rebuildIndex()).toEqual({ indexed: 0, damaged: [] });
      await store.flush();
      expect(await readdir(parent)).toEqual([]);

      await store.save(session);
      await store.flush();
      expect((await readdir(dir)).sort()).toEqual([`${session.id}.json`, "index.json", "index.log"].sort());
      expect((await openStore(dir).list()).items.map((item) => item.id)).toEqual([session.id]);
    }));

  it("writes no index into a folder of no sessions that it only reads", () =>
    inTempDir(async (dir) => {
      await writeFile(path.join(dir, "notes.txt"), "not a session");
      expect((await openStore(dir).list()).total).toBe(0);
      expect(await readdir(dir)).toEqual(["notes.txt"]);
    }));

  it("marks running sessions interrupted on disk, and leaves a session finished since then alone", () =>
    inTempDir(async (dir) => {
      const store = openStore(dir);
      const stale = makeSession({ status: "running", finalAnswer: undefined, endedAt: undefined, durationMs: undefined });
      const finished = makeSession({ status: "running", finalAnswer: undefined, endedAt: undefined, durationMs: undefined });
      await store.save(stale);
      await store.save(finished);
      // Another writer finished this one after our index was loaded.
      await writeFile(path.join(dir, `${finished.id}.json`), JSON.stringify({ ...finished, status: "completed", finalAnswer: "done" }));
      expect(await store.interruptRunning()).toEqual([stale.id]);
      expect(JSON.parse(await readFile(path.join(dir, `${stale.id}.json`), "utf8")).status).toBe("interrupted");
      expect((await store.get(finished.id)).status).toBe("completed");
      expect((await openStore(dir).list()).items.map((item) => item.status).sort()).toEqual(["completed", "interrupted"]);
    }));

  it("starting, leaves running the session another live process runs, and lists it as that process ends it", () =>
    inTempDir(async (dir) => {
      // The process of a CLI run: the session is its own while it runs.
      const cliProcess = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
      try {
        const cli = openStore(dir);
        const run = makeSession({ status: "running", owner: processOwner(cliProcess.pid), finalAnswer: undefined, endedAt: undefined, durationMs: undefined });
        await cli.create(run);

        // The studio starts on the same folder while the run goes.
        const studio = openStore(dir);
        expect(await studio.interruptRunning()).toEqual([]);
        expect(JSON.parse(await readFile(path.join(dir, `${run.id}.json`), "utf8"))).toEqual(run);
        expect((await studio.list()).items.map((item) => [item.id, item.status])).toEqual([[run.id, "running"]]);

        const { owner: _, ...ended } = { ...run, status: "completed" as const, finalAnswer: "the end", endedAt: new Date().toISOString(), durationMs: 10 };
        await cli.save(ended);
        expect((await studio.list()).items.map((item) => [item.id, item.status, item.finalPreview])).toEqual([[run.id, "completed", "the end"]]);
        await cli.flush();
        await studio.flush();
      } finally {
        cliProcess.kill();
      }
    }));

  it("lists a filtered page of 10,000 sessions quickly once the index is loaded", () =>
    inTempDir(async (dir) => {
      const sessions = Array.from({ length: 10_000 }, (_, index) =>
        makeSession({ status: index % 10 === 0 ? "failed" : "completed", input: `story number n${index}x`, pipelineName: index % 2 === 0 ? "even" : "odd" }),
      );
      for (const session of sessions) writeFileSync(path.join(dir, `${session.id}.json`), JSON.stringify(session));

      let started = performance.now();
      const building = openStore(dir);
      await building.open();
      await building.flush();
      const rebuildMs = performance.now() - started;

      started = performance.now();
      const store = openStore(dir);
      await store.open();
      const loadMs = performance.now() - started;

      started = performance.now();
      const page = await store.list({ status: "failed", pipeline: "even", query: "story", limit: 50, offset: 100 });
      const listMs = performance.now() - started;
      started = performance.now();
      const searched = await store.list({ query: "number n9999x" });
      const searchMs = performance.now() - started;

      console.log(
        `10,000 sessions: index rebuilt from files in ${rebuildMs.toFixed(0)} ms, loaded from index.json in ${loadMs.toFixed(0)} ms; ` +
          `filtered page ${listMs.toFixed(1)} ms, search ${searchMs.toFixed(1)} ms`,
      );
      expect(page.total).toBe(1000);
      expect(page.items).toHaveLength(50);
      const failedEven = sessions.filter((session) => session.status === "failed" && session.pipelineName === "even").reverse();
      expect(page.items.map((item) => item.id)).toEqual(failedEven.slice(100, 150).map((session) => session.id));
      expect(searched.items.map((item) => item.id)).toEqual([sessions[9999]!.id]);
      expect(listMs).toBeLessThan(500);
      expect(searchMs).toBeLessThan(500);
    }));
});
