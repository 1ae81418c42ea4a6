import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { contextEstimateKey, ContextEstimateCache, maxEntries } from "./estimate-cache.js";

const key = (sequences: number, file = "stories.gguf") => contextEstimateKey(["cpu", "prebuilt", "b1"], [file, 1, 2, 3], { contextSize: 2048, gpuLayers: 0, sequences });

afterEach(() => vi.restoreAllMocks());

/** Runs `work` in a temporary folder, removed after it. */
async function inTempDir(work: (dir: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir("project-llm-estimates-");
  try {
    await work(dir);
  } finally {
    await cleanup();
  }
}

describe("the memory estimates kept across workers", () => {
  it("keeps what one worker simulated for the next, and merges what two workers kept", async () =>
    inTempDir(async (dir) => {
      const file = path.join(dir, "memory-estimates", "contexts.json");
      const first = new ContextEstimateCache(file);
      expect(first.get(key(1))).toBeUndefined();
      first.set(key(1), { cpuRam: 1_000_000, gpuVram: 0 });
      // A second worker that started before the first one saved.
      const second = new ContextEstimateCache(file);
      second.set(key(3), { cpuRam: 3_000_000, gpuVram: 5 });
      first.save();
      second.save();
      const next = new ContextEstimateCache(file);
      expect(next.get(key(1))).toEqual({ cpuRam: 1_000_000, gpuVram: 0 });
      expect(next.get(key(3))).toEqual({ cpuRam: 3_000_000, gpuVram: 5 });
      // Another file, or the same settings with another sequence count, is another key.
      expect(next.get(key(1, "other.gguf"))).toBeUndefined();
      expect(next.get(key(2))).toBeUndefined();
      expect(JSON.parse(await readFile(file, "utf8")).version).toBe(1);
    }));

  it("saves by itself shortly after a new entry", async () =>
    inTempDir(async (dir) => {
      const file = path.join(dir, "contexts.json");
      new ContextEstimateCache(file).set(key(1), { cpuRam: 7, gpuVram: 0 });
      await vi.waitFor(async () => expect(new ContextEstimateCache(file).get(key(1))).toEqual({ cpuRam: 7, gpuVram: 0 }), { timeout: 2000 });
    }));

  it("ignores a file it did not write, and entries that are not sizes", async () =>
    inTempDir(async (dir) => {
      const file = path.join(dir, "contexts.json");
      for (const text of ["{ not json", "[]", JSON.stringify({ version: 2, entries: { [key(1)]: [1, 0, 1] } }), JSON.stringify({ version: 1, entries: null })]) {
        await writeFile(file, text);
        expect(new ContextEstimateCache(file).get(key(1))).toBeUndefined();
      }
      await writeFile(file, JSON.stringify({ version: 1, entries: { [key(1)]: [-1, 0, 1], [key(2)]: ["1", 0, 1], [key(3)]: [1, 0], [key(4)]: [4, 0, 1] } }));
      const cache = new ContextEstimateCache(file);
      expect([1, 2, 3].map((sequences) => cache.get(key(sequences)))).toEqual([undefined, undefined, undefined]);
      expect(cache.get(key(4))).toEqual({ cpuRam: 4, gpuVram: 0 });
      // Nor does it keep what is not a size.
      cache.set(key(5), { cpuRam: Number.NaN, gpuVram: 0 });
      expect(cache.get(key(5))).toBeUndefined();
    }));

  it(`keeps the ${maxEntries} most recently used entries`, async () =>
    inTempDir(async (dir) => {
      const file = path.join(dir, "contexts.json");
      let now = 1_000;
      vi.spyOn(Date, "now").mockImplementation(() => now++);
      const cache = new ContextEstimateCache(file);
      for (let sequences = 1; sequences <= maxEntries + 3; sequences++) cache.set(key(sequences), { cpuRam: sequences, gpuVram: 0 });
      // Used again: the oldest now, of those set first.
      cache.get(key(1));
      cache.save();
      const next = new ContextEstimateCache(file);
      expect(next.get(key(1))).toEqual({ cpuRam: 1, gpuVram: 0 });
      expect([2, 3, 4, 5].map((sequences) => next.get(key(sequences)) === undefined)).toEqual([true, true, true, false]);
      expect(Object.keys(JSON.parse(await readFile(file, "utf8")).entries)).toHaveLength(maxEntries);
    }));

  it("makes no sessions folder: its entries wait until there is one", async () =>
    inTempDir(async (dir) => {
      const sessions = path.join(dir, "sessions");
      const file = path.join(sessions, "memory-estimates", "contexts.json");
      const cache = new ContextEstimateCache(file);
      cache.set(key(1), { cpuRam: 1, gpuVram: 0 });
      cache.save();
      expect(await readdir(dir)).toEqual([]);
      await mkdir(sessions);
      cache.save();
      expect(new ContextEstimateCache(file).get(key(1))).toEqual({ cpuRam: 1, gpuVram: 0 });
    }));

  it("writes an entry's time of use again when the one in the file is a day old", async () =>
    inTempDir(async (dir) => {
      const file = path.join(dir, "contexts.json");
      const dayAndMore = 25 * 60 * 60 * 1000;
      await writeFile(file, JSON.stringify({ version: 1, entries: { [key(1)]: [1, 0, Date.now() - dayAndMore], [key(2)]: [2, 0, Date.now() - 1000] } }));
      const cache = new ContextEstimateCache(file);
      expect(cache.get(key(1))).toEqual({ cpuRam: 1, gpuVram: 0 });
      expect(cache.get(key(2))).toEqual({ cpuRam: 2, gpuVram: 0 });
      cache.save();
      const entries = JSON.parse(await readFile(file, "utf8")).entries as Record<string, [number, number, number]>;
      expect(Date.now() - entries[key(1)]![2]).toBeLessThan(60_000);
      // A recent one is not written for its use alone.
      expect(Date.now() - entries[key(2)]![2]).toBeGreaterThanOrEqual(1000);
    }));

  it("says once that it cannot write, and goes on", async () =>
    inTempDir(async (dir) => {
      // A file where its folder should be: no folder can be made there, whoever runs the test.
      const locked = path.join(dir, "locked");
      await writeFile(locked, "");
      const written: string[] = [];
      vi.spyOn(process.stderr, "write").mockImplementation((text) => written.push(String(text)) > 0);
      const cache = new ContextEstimateCache(path.join(locked, "contexts.json"));
      cache.set(key(1), { cpuRam: 1, gpuVram: 0 });
      cache.save();
      cache.set(key(2), { cpuRam: 2, gpuVram: 0 });
      cache.save();
      expect(written).toHaveLength(1);
      expect(written[0]).toContain("the memory estimates were not kept in");
      expect(cache.get(key(2))).toEqual({ cpuRam: 2, gpuVram: 0 });
    }));
});
