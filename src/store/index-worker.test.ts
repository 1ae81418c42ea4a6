import { readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { inlineLoadBytes, loadWindow, runIndexJob } from "./index-worker.js";

/** The threads of this process (Linux; elsewhere 0, and the checks below always hold). */
const threads = () => (process.platform === "linux" ? readdirSync("/proc/self/task").length : 0);

describe("runIndexJob", () => {
  it("reads an index in chunks in a worker thread without running ahead of the thread that takes them (a backlog is deserialized in one turn)", async () => {
    const { dir, cleanup } = await tempDir("project-llm-index-worker-");
    try {
      const sessions = Array.from({ length: 400 }, (_, position) => ({ id: `session-${String(position).padStart(4, "0")}`, startedAt: new Date(position * 1000).toISOString() }));
      const snapshot = path.join(dir, "index.json");
      await writeFile(snapshot, JSON.stringify({ version: 1, sessions }));
      const received: unknown[] = [];
      const aheads: number[] = [];
      const threadsBefore = threads();
      const result = await runIndexJob({ kind: "load", snapshot, logs: [], chunkSize: 10 }, async (summaries, info) => {
        if (received.length === 0 && process.platform === "linux") expect(threads()).toBeGreaterThan(threadsBefore);
        received.push(...summaries);
        aheads.push(info.ahead);
        // A slow consumer: a worker that does not wait posts all 40 chunks meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }, { inlineUpTo: 0 });
      expect(result).toEqual({ ok: true, logLines: 0 });
      expect(received).toEqual(sessions);
      expect(aheads).toHaveLength(40);
      expect(Math.max(...aheads)).toBeLessThanOrEqual(loadWindow - 1);
    } finally {
      await cleanup();
    }
  });

  it("reads a small index in the calling thread, with its log applied, one chunk per turn", async () => {
    const { dir, cleanup } = await tempDir("project-llm-index-worker-");
    try {
      const sessions = Array.from({ length: 25 }, (_, position) => ({ id: `session-${position}`, name: "before" }));
      const snapshot = path.join(dir, "index.json");
      const log = path.join(dir, "index.log");
      await writeFile(snapshot, JSON.stringify({ version: 1, sessions }));
      await writeFile(log, `${JSON.stringify({ set: { id: "session-3", name: "after" } })}\n${JSON.stringify({ delete: "session-0" })}\n{"set": {"id": "cut sh`);
      const threadsBefore = threads();
      const received: Array<{ id: string; name: string }> = [];
      // Counts turns of the event loop (one `setImmediate` each): each chunk is handed over in a turn of its own.
      let turns = 0;
      let ticking = true;
      const tick = () => {
        turns++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      const turnsAtChunk: number[] = [];
      const result = await runIndexJob({ kind: "load", snapshot, logs: [log, path.join(dir, "index.log.missing")], chunkSize: 10 }, (summaries, info) => {
        expect(info.ahead).toBe(0);
        // No thread was started for it (the worker's test above sees one more while it reads; one that
        // test's worker left may end meanwhile).
        expect(threads()).toBeLessThanOrEqual(threadsBefore);
        turnsAtChunk.push(turns);
        received.push(...(summaries as typeof received));
      });
      ticking = false;
      expect(result).toEqual({ ok: true, logLines: 2 });
      expect(received.map((summary) => summary.id)).toEqual(sessions.slice(1).map((summary) => summary.id));
      expect(received.find((summary) => summary.id === "session-3")?.name).toBe("after");
      expect(turnsAtChunk).toHaveLength(3);
      expect(turnsAtChunk[1]!).toBeGreaterThan(turnsAtChunk[0]!);
      expect(turnsAtChunk[2]!).toBeGreaterThan(turnsAtChunk[1]!);
      // A damaged index says so, as the worker's does.
      await writeFile(snapshot, "{ not json");
      expect(await runIndexJob({ kind: "load", snapshot, logs: [], chunkSize: 10 })).toEqual({ ok: false, problem: "not JSON" });
      expect(inlineLoadBytes).toBeGreaterThan(JSON.stringify({ version: 1, sessions }).length);
    } finally {
      await cleanup();
    }
  });

  for (const where of ["a worker thread", "the calling thread"] as const) {
    it(`stops a load when the chunk handler fails, and says why (in ${where})`, async () => {
      const { dir, cleanup } = await tempDir("project-llm-index-worker-");
      try {
        const snapshot = path.join(dir, "index.json");
        await writeFile(snapshot, JSON.stringify({ version: 1, sessions: Array.from({ length: 100 }, (_, position) => ({ id: `s${position}` })) }));
        let chunks = 0;
        const loading = runIndexJob(
          { kind: "load", snapshot, logs: [], chunkSize: 10 },
          () => {
            chunks++;
            throw new Error("not the index schema");
          },
          { inlineUpTo: where === "a worker thread" ? 0 : inlineLoadBytes },
        );
        await expect(loading).rejects.toThrow("not the index schema");
        expect(chunks).toBe(1);
      } finally {
        await cleanup();
      }
    });
  }
});
