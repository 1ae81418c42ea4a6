import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { loadWindow, runIndexJob } from "./index-worker.js";

describe("runIndexJob", () => {
  it("reads an index in chunks without running ahead of the thread that takes them (a backlog is deserialized in one turn)", async () => {
    const { dir, cleanup } = await tempDir("project-llm-index-worker-");
    try {
      const sessions = Array.from({ length: 400 }, (_, position) => ({ id: `session-${String(position).padStart(4, "0")}`, startedAt: new Date(position * 1000).toISOString() }));
      const snapshot = path.join(dir, "index.json");
      await writeFile(snapshot, JSON.stringify({ version: 1, sessions }));
      const received: unknown[] = [];
      const aheads: number[] = [];
      const result = await runIndexJob({ kind: "load", snapshot, logs: [], chunkSize: 10 }, async (summaries, info) => {
        received.push(...summaries);
        aheads.push(info.ahead);
        // A slow consumer: a worker that does not wait posts all 40 chunks meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 5));
      });
      expect(result).toEqual({ ok: true, logLines: 0 });
      expect(received).toEqual(sessions);
      expect(aheads).toHaveLength(40);
      expect(Math.max(...aheads)).toBeLessThanOrEqual(loadWindow - 1);
    } finally {
      await cleanup();
    }
  });

  it("stops a load when the chunk handler fails, and says why", async () => {
    const { dir, cleanup } = await tempDir("project-llm-index-worker-");
    try {
      const snapshot = path.join(dir, "index.json");
      await writeFile(snapshot, JSON.stringify({ version: 1, sessions: Array.from({ length: 100 }, (_, position) => ({ id: `s${position}` })) }));
      let chunks = 0;
      const loading = runIndexJob({ kind: "load", snapshot, logs: [], chunkSize: 10 }, () => {
        chunks++;
        throw new Error("not the index schema");
      });
      await expect(loading).rejects.toThrow("not the index schema");
      expect(chunks).toBe(1);
    } finally {
      await cleanup();
    }
  });
});
