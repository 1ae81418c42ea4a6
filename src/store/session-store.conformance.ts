/**
 * The behaviour every SessionStore must have, run by each implementation's test file:
 * `sessionStoreConformance("Name", async () => ({ store, cleanup }))`.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../engine/index.js";
import { makeStageRecord } from "../testing/session-records.js";
import { newRunId, type SessionRecord } from "./session.js";
import { processOwner, type SessionOwner } from "./session-owner.js";
import type { SessionStore } from "./session-store.js";

let clock = Date.UTC(2026, 0, 1);

/** A session with a fresh id, started a second after the last one made. */
export function makeSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  clock += 1000;
  return {
    version: 1,
    id: newRunId(new Date(clock)),
    pipelineName: "base",
    input: "Once upon a time",
    status: "completed",
    startedAt: new Date(clock).toISOString(),
    endedAt: new Date(clock + 500).toISOString(),
    durationMs: 500,
    pipeline: { stages: [{ id: "draft", type: "single", model: "tiny" }] },
    modelsConfig: { models: { tiny: { file: "stories260K.gguf" } } },
    models: {},
    stages: {},
    finalAnswer: "there was a cat",
    ...overrides,
  };
}

export { makeStageRecord };

/** A whole run with a model identity, a stage and its events. */
export function makeFullSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const session = makeSession(overrides);
  const events: RunEvent[] = [
    { runId: session.id, seq: 0, at: 1, type: "run-start", pipeline: "base", input: session.input, stages: [], reusedStageIds: [] },
    { runId: session.id, seq: 1, at: 2, type: "stage-delta", stageId: "draft", model: "tiny", part: "model", text: "there was" },
    { runId: session.id, seq: 2, at: 3, type: "run-end", status: "completed", finalAnswer: "there was a cat", durationMs: 4 },
  ];
  return {
    ...session,
    models: {
      tiny: { file: "stories260K.gguf", path: "/models/stories260K.gguf", size: 1185376, mtimeMs: 1700000000000, headerSha256: "a".repeat(64), params: { temperature: 0 } },
    },
    stages: { draft: makeStageRecord("draft", "there was a cat") },
    events,
    ...overrides,
  };
}

export type StoreFactory = () => Promise<{ store: SessionStore; cleanup: () => Promise<void> }>;

export function sessionStoreConformance(name: string, open: StoreFactory): void {
  describe(`${name} (SessionStore conformance)`, () => {
    const withStore = async (work: (store: SessionStore) => Promise<void>) => {
      const { store, cleanup } = await open();
      try {
        await work(store);
      } finally {
        await cleanup();
      }
    };

    it("saves and gets a whole session, and a second save replaces it", () =>
      withStore(async (store) => {
        const session = makeFullSession({ status: "running", finalAnswer: undefined, endedAt: undefined, durationMs: undefined });
        await store.save(session);
        expect(await store.get(session.id)).toEqual(session);
        await store.save({ ...session, status: "completed", finalAnswer: "done", endedAt: new Date().toISOString() });
        expect(await store.get(session.id)).toMatchObject({ status: "completed", finalAnswer: "done", events: session.events });
        const page = await store.list();
        expect(page.total).toBe(1);
        expect(page.items[0]).toMatchObject({ id: session.id, status: "completed", finalPreview: "done" });
      }));

    it("hands out copies: changing a session read or saved does not change the stored one", () =>
      withStore(async (store) => {
        const session = makeFullSession();
        await store.save(session);
        session.input = "changed after save";
        const read = await store.get(session.id);
        read.stages.draft!.output = "changed after get";
        const again = await store.get(session.id);
        expect(again.input).toBe("Once upon a time");
        expect(again.stages.draft!.output).toBe("there was a cat");
      }));

    it("creates a new session and refuses to create one whose id is taken", () =>
      withStore(async (store) => {
        const session = makeSession();
        expect(await store.has(session.id)).toBe(false);
        await store.create(session);
        expect(await store.has(session.id)).toBe(true);
        await expect(store.create({ ...session, input: "other" })).rejects.toMatchObject({ code: "invalid-id" });
        expect((await store.get(session.id)).input).toBe(session.input);
        expect((await store.list()).total).toBe(1);
      }));

    it("says session-not-found for an unknown id", () =>
      withStore(async (store) => {
        const unknown = newRunId();
        await expect(store.get(unknown)).rejects.toMatchObject({ code: "session-not-found" });
        await expect(store.delete(unknown)).rejects.toMatchObject({ code: "session-not-found" });
        await expect(store.tree(unknown)).rejects.toMatchObject({ code: "session-not-found" });
      }));

    it("refuses malformed ids with invalid-id in every method", () =>
      withStore(async (store) => {
        for (const bad of ["../etc/passwd", "a/b", "", "20260101-000000-zzzzzz", "20260101-000000-abcdef/../x", "20260101-000000-ABCDEF"]) {
          await expect(store.get(bad)).rejects.toMatchObject({ code: "invalid-id" });
          await expect(store.has(bad)).rejects.toMatchObject({ code: "invalid-id" });
          await expect(store.delete(bad)).rejects.toMatchObject({ code: "invalid-id" });
          await expect(store.tree(bad)).rejects.toMatchObject({ code: "invalid-id" });
          await expect(store.save(makeSession({ id: bad }))).rejects.toMatchObject({ code: "invalid-id" });
          await expect(store.create(makeSession({ id: bad }))).rejects.toMatchObject({ code: "invalid-id" });
        }
        expect((await store.list()).total).toBe(0);
      }));

    it("refuses to store a record that does not match the session schema", () =>
      withStore(async (store) => {
        const bad = { ...makeSession(), status: "finished" } as unknown as SessionRecord;
        await expect(store.save(bad)).rejects.toMatchObject({ code: "internal" });
        await expect(store.save({ ...makeSession(), startedAt: "yesterday" })).rejects.toMatchObject({ code: "internal" });
        await expect(store.save({ ...makeSession(), events: [{ at: 1 }] } as unknown as SessionRecord)).rejects.toMatchObject({ code: "internal", message: expect.stringContaining("events.0") });
        await expect(store.save({ ...makeSession(), stages: { a: "done" } } as unknown as SessionRecord)).rejects.toMatchObject({ code: "internal", message: expect.stringContaining("stages.a") });
        expect((await store.list()).total).toBe(0);
      }));

    it("lists newest first with filters, search and paging", () =>
      withStore(async (store) => {
        const a = makeSession({ input: "a dragon story" });
        const b = makeSession({ status: "failed", pipelineName: "other", finalAnswer: undefined, api: { model: "wordsmith" } });
        const c = makeSession({ input: "A DRAGON and a cat", finalAnswer: "the end of the dragon" });
        const d = makeSession({ parentRunId: a.id, rerunFromStage: "draft", finalAnswer: "a unicorn" });
        for (const session of [c, a, d, b]) await store.save(session);
        const ids = async (options: Parameters<SessionStore["list"]>[0]) => (await store.list(options)).items.map((item) => item.id);
        expect(await ids({})).toEqual([d.id, c.id, b.id, a.id]);
        expect(await ids({ order: "oldest" })).toEqual([a.id, b.id, c.id, d.id]);
        expect(await ids({ status: "failed" })).toEqual([b.id]);
        expect(await ids({ pipeline: "base" })).toEqual([d.id, c.id, a.id]);
        expect(await ids({ parentRunId: a.id })).toEqual([d.id]);
        expect(await ids({ query: "DRAGON and" })).toEqual([c.id]);
        expect(await ids({ query: "dragon" })).toEqual([c.id, a.id]);
        expect(await ids({ query: "unicorn" })).toEqual([d.id]);
        expect(await ids({ query: b.id.slice(-6) })).toEqual([b.id]);
        // An API call's model, which History shows for it.
        expect(await ids({ query: "WORDSMITH" })).toEqual([b.id]);
        expect(await ids({ query: "dragon", status: "failed" })).toEqual([]);
        expect(await store.list({ limit: 2, offset: 1 })).toMatchObject({ total: 4, items: [{ id: c.id }, { id: b.id }] });
        expect(await store.list({ limit: 2, offset: 3, order: "oldest" })).toMatchObject({ total: 4, items: [{ id: d.id }] });
        expect(await store.list({ offset: 10 })).toEqual({ total: 4, items: [] });
        expect(await store.list({ limit: 0 })).toEqual({ total: 4, items: [] });
      }));

    it("summarizes a session with previews of its input and final answer", () =>
      withStore(async (store) => {
        const session = makeSession({
          input: "x".repeat(500),
          finalAnswer: "y".repeat(300),
          parentRunId: newRunId(),
          rerunFromStage: "draft",
          inputEdited: true,
          inlinePipeline: true,
        });
        await store.save(session);
        const [summary] = (await store.list()).items;
        expect(summary).toEqual({
          id: session.id,
          parentRunId: session.parentRunId,
          rerunFromStage: "draft",
          inputEdited: true,
          inlinePipeline: true,
          pipelineName: "base",
          status: "completed",
          startedAt: session.startedAt,
          endedAt: session.endedAt,
          durationMs: 500,
          inputPreview: "x".repeat(200),
          finalPreview: "y".repeat(200),
        });
      }));

    it("deletes a session, and its branches stay as roots of their own", () =>
      withStore(async (store) => {
        const parent = makeSession();
        const branch = makeSession({ parentRunId: parent.id, rerunFromStage: "draft" });
        await store.save(parent);
        await store.save(branch);
        await store.delete(parent.id);
        await expect(store.get(parent.id)).rejects.toMatchObject({ code: "session-not-found" });
        expect((await store.list()).items.map((item) => item.id)).toEqual([branch.id]);
        expect(await store.tree(branch.id)).toMatchObject({ id: branch.id, parentRunId: parent.id, children: [] });
      }));

    it("draws the family tree from the root through every branch", () =>
      withStore(async (store) => {
        const root = makeSession();
        const branch = makeSession({ parentRunId: root.id, rerunFromStage: "b" });
        const twig = makeSession({ parentRunId: branch.id, rerunFromStage: "c", status: "failed", inputEdited: true });
        const sibling = makeSession({ parentRunId: root.id, rerunFromStage: "a" });
        const stranger = makeSession();
        for (const session of [twig, stranger, sibling, root, branch]) await store.save(session);
        const expected = {
          id: root.id,
          status: "completed",
          startedAt: root.startedAt,
          pipelineName: "base",
          children: [
            {
              id: branch.id,
              parentRunId: root.id,
              rerunFromStage: "b",
              status: "completed",
              startedAt: branch.startedAt,
              pipelineName: "base",
              children: [
                { id: twig.id, parentRunId: branch.id, rerunFromStage: "c", inputEdited: true, status: "failed", startedAt: twig.startedAt, pipelineName: "base", children: [] },
              ],
            },
            { id: sibling.id, parentRunId: root.id, rerunFromStage: "a", status: "completed", startedAt: sibling.startedAt, pipelineName: "base", children: [] },
          ],
        };
        for (const member of [root, branch, twig, sibling]) expect(await store.tree(member.id)).toEqual(expected);
        expect(await store.tree(stranger.id)).toMatchObject({ id: stranger.id, children: [] });
      }));

    it("marks sessions left running as interrupted, once", () =>
      withStore(async (store) => {
        const running = makeSession({ status: "running", endedAt: undefined, durationMs: undefined, finalAnswer: undefined });
        const done = makeSession();
        await store.save(running);
        await store.save(done);
        expect(await store.interruptRunning()).toEqual([running.id]);
        const after = await store.get(running.id);
        expect(after.status).toBe("interrupted");
        expect(Date.parse(after.endedAt!)).toBeGreaterThanOrEqual(Date.parse(running.startedAt));
        expect(after.durationMs).toBe(Date.parse(after.endedAt!) - Date.parse(running.startedAt));
        expect(await store.get(done.id)).toEqual(done);
        expect((await store.list({ status: "interrupted" })).items.map((item) => item.id)).toEqual([running.id]);
        expect(await store.interruptRunning()).toEqual([]);
      }));

    it("ends a session left running at its last checkpoint, keeping its stages and text, with a run-end that says so", () =>
      withStore(async (store) => {
        const full = makeFullSession();
        const start = Date.parse(full.startedAt);
        const checkpointAt = new Date(start + 3000).toISOString();
        const events = full.events!.filter((event) => event.type !== "run-end").map((event) => ({ ...event, at: start + event.seq * 100 }));
        const running = { ...full, status: "running" as const, endedAt: undefined, durationMs: undefined, finalAnswer: undefined, checkpointAt, events };
        await store.save(running);
        expect(await store.interruptRunning()).toEqual([running.id]);
        const after = await store.get(running.id);
        expect(after).toMatchObject({ status: "interrupted", endedAt: checkpointAt, durationMs: 3000, stages: full.stages, error: { code: "interrupted" } });
        expect(after.checkpointAt).toBeUndefined();
        expect(after.events!.slice(0, -1)).toEqual(events);
        expect(after.events!.at(-1)).toMatchObject({ type: "run-end", seq: events.length, at: start + 3000, status: "interrupted", durationMs: 3000, error: { code: "interrupted" } });
      }));

    it("leaves running a session that another live process of this host runs, and marks the others interrupted", () =>
      withStore(async (store) => {
        const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
        try {
          const gone = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
          await once(gone, "exit");
          const running = (owner?: SessionOwner) =>
            makeSession({ status: "running", endedAt: undefined, durationMs: undefined, finalAnswer: undefined, ...(owner ? { owner } : {}) });
          const elsewhere = running(processOwner(live.pid));
          const left = [
            running(processOwner(gone.pid)),
            // This very process: the caller runs nothing, so the session was left by an earlier life of its pid.
            running(processOwner()),
            running({ ...processOwner(live.pid), host: "another-host" }),
            // A session of an earlier version, with no owner.
            running(),
          ];
          // The live process's pid, had it been given to it after the session's own process ended (where the start can be read).
          if (processOwner(live.pid).start !== undefined) left.push(running({ ...processOwner(live.pid), start: "another-boot/1" }));
          for (const session of [elsewhere, ...left]) await store.save(session);

          expect((await store.interruptRunning()).sort()).toEqual(left.map((session) => session.id).sort());
          expect(await store.get(elsewhere.id)).toEqual(elsewhere);
          for (const session of left) {
            const after = await store.get(session.id);
            expect(after.status).toBe("interrupted");
            expect(after).not.toHaveProperty("owner");
          }
          expect((await store.list({ status: "running" })).items.map((item) => item.id)).toEqual([elsewhere.id]);

          live.kill();
          await once(live, "exit");
          expect(await store.interruptRunning()).toEqual([elsewhere.id]);
        } finally {
          live.kill();
        }
      }));

    it("rebuilds its index to the same listing", () =>
      withStore(async (store) => {
        for (let index = 0; index < 5; index++) await store.save(makeSession({ status: index % 2 === 0 ? "completed" : "failed" }));
        const before = await store.list();
        const progress: Array<[number, number]> = [];
        expect(await store.rebuildIndex({ onProgress: (read, total) => progress.push([read, total]) })).toEqual({ indexed: 5, damaged: [] });
        expect(progress.at(-1)).toEqual([5, 5]);
        expect(await store.list()).toEqual(before);
        // Once the index is whole, a partial listing is the same listing, not marked as indexing.
        expect(await store.list({ partial: true })).toEqual(before);
        expect(await store.check()).toEqual([]);
      }));

    it("keeps its listing in order through saves that change a session and its start time", () =>
      withStore(async (store) => {
        const sessions = Array.from({ length: 6 }, () => makeSession());
        for (const session of [...sessions].reverse()) await store.save(session);
        // A session saved again (a checkpoint), and one whose start time moved to be the newest.
        await store.save({ ...sessions[2]!, finalAnswer: "checkpoint" });
        const moved = { ...sessions[0]!, startedAt: new Date(Date.parse(sessions[5]!.startedAt) + 500).toISOString() };
        await store.save(moved);
        await store.delete(sessions[3]!.id);
        const listed = await store.list();
        expect(listed.items.map((item) => item.id)).toEqual([moved.id, sessions[5]!.id, sessions[4]!.id, sessions[2]!.id, sessions[1]!.id]);
        expect(listed.items[3]!.finalPreview).toBe("checkpoint");
        expect((await store.list({ order: "oldest", limit: 2 })).items.map((item) => item.id)).toEqual([sessions[1]!.id, sessions[2]!.id]);
      }));

    it("keeps every one of many concurrent saves", () =>
      withStore(async (store) => {
        const sessions = Array.from({ length: 20 }, () => makeSession());
        await Promise.all(sessions.map((session) => store.save(session)));
        expect((await store.list({ limit: 100, order: "oldest" })).items.map((item) => item.id)).toEqual(sessions.map((session) => session.id));
      }));
  });
}
