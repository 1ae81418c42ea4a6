/** The behaviour every SessionStore must have: run by each implementation's test file. */
import { describe, expect, it } from "vitest";
import { newRunId, type SessionRecord } from "./session.js";
import type { SessionStore } from "./session-store.js";

let clock = Date.UTC(2026, 0, 1);
/** A session with a fresh id a second after the last one. */
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
    pipeline: { stages: [] },
    modelsConfig: {},
    models: {},
    stages: {},
    finalAnswer: "there was a cat",
    ...overrides,
  };
}

export function sessionStoreConformance(name: string, open: () => Promise<{ store: SessionStore; cleanup: () => Promise<void> }>) {
  describe(`${name} (SessionStore conformance)`, () => {
    const withStore = async (work: (store: SessionStore) => Promise<void>) => {
      const { store, cleanup } = await open();
      try {
        await work(store);
      } finally {
        await cleanup();
      }
    };

    it("saves and gets a session, and an update replaces it", () =>
      withStore(async (store) => {
        const session = makeSession({ status: "running", finalAnswer: undefined });
        await store.save(session);
        expect(await store.get(session.id)).toEqual(session);
        await store.save({ ...session, status: "completed", finalAnswer: "done" });
        expect(await store.get(session.id)).toMatchObject({ status: "completed", finalAnswer: "done" });
        expect((await store.list()).total).toBe(1);
      }));

    it("says session-not-found for an unknown id and invalid-id for a malformed one", () =>
      withStore(async (store) => {
        await expect(store.get(newRunId())).rejects.toMatchObject({ code: "session-not-found" });
        for (const bad of ["../etc/passwd", "a/b", "", "20260101-000000-zzzzzz"]) await expect(store.get(bad)).rejects.toMatchObject({ code: "invalid-id" });
      }));

    it("lists newest first with filters, search and paging", () =>
      withStore(async (store) => {
        const a = makeSession({ input: "a dragon story" });
        const b = makeSession({ status: "failed", pipelineName: "other" });
        const c = makeSession({ input: "A DRAGON and a cat" });
        for (const session of [a, b, c]) await store.save(session);
        expect((await store.list()).items.map((item) => item.id)).toEqual([c.id, b.id, a.id]);
        expect((await store.list({ order: "oldest" })).items[0]!.id).toBe(a.id);
        expect((await store.list({ status: "failed" })).items.map((item) => item.id)).toEqual([b.id]);
        expect((await store.list({ pipeline: "base" })).total).toBe(2);
        expect((await store.list({ query: "DRAGON and" })).items.map((item) => item.id)).toEqual([c.id]);
        const page = await store.list({ limit: 1, offset: 1 });
        expect(page).toMatchObject({ total: 3, items: [{ id: b.id }] });
      }));

    it("deletes a session", () =>
      withStore(async (store) => {
        const session = makeSession();
        await store.save(session);
        await store.delete(session.id);
        await expect(store.get(session.id)).rejects.toMatchObject({ code: "session-not-found" });
        expect((await store.list()).total).toBe(0);
      }));

    it("draws the family tree from the root through every branch", () =>
      withStore(async (store) => {
        const root = makeSession();
        const branch = makeSession({ parentRunId: root.id, rerunFromStage: "b" });
        const twig = makeSession({ parentRunId: branch.id, rerunFromStage: "c" });
        const sibling = makeSession({ parentRunId: root.id, rerunFromStage: "a" });
        const stranger = makeSession();
        for (const session of [root, branch, twig, sibling, stranger]) await store.save(session);
        const tree = await store.tree(twig.id);
        expect(tree.id).toBe(root.id);
        expect(tree.children.map((child) => child.id)).toEqual([branch.id, sibling.id]);
        expect(tree.children[0]!.children.map((child) => [child.id, child.rerunFromStage])).toEqual([[twig.id, "c"]]);
        expect((await store.tree(stranger.id)).children).toEqual([]);
      }));

    it("marks sessions left running as interrupted", () =>
      withStore(async (store) => {
        const running = makeSession({ status: "running" });
        const done = makeSession();
        await store.save(running);
        await store.save(done);
        expect(await store.interruptRunning()).toEqual([running.id]);
        expect((await store.get(running.id)).status).toBe("interrupted");
        expect((await store.get(done.id)).status).toBe("completed");
      }));
  });
}
