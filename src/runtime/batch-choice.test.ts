import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { BatchChooser, clearRatio, exploreClearEvery, exploreEvery, firstPairs, keptPairs, pairWithinMs, type BatchWay } from "./batch-choice.js";

/** Groups chosen and recorded in turn, at `rate(way, index)` tokens/s, a second apart; answers the ways taken. */
function run(chooser: BatchChooser, groups: number, rate: (way: BatchWay, index: number) => number, start = 0): BatchWay[] {
  const ways: BatchWay[] = [];
  for (let index = 0; index < groups; index++) {
    const way = chooser.choose("m");
    ways.push(way);
    chooser.record("m", way, rate(way, start + index), (start + index) * 1000);
  }
  return ways;
}

describe("BatchChooser", () => {
  it("measures each way in turn, batched first, then takes the faster and measures the other every few groups", () => {
    const chooser = new BatchChooser();
    const rate = (way: BatchWay) => (way === "batched" ? 90 : 100);
    // 1 + firstPairs groups make firstPairs pairs.
    expect(run(chooser, 1 + firstPairs, rate)).toEqual(["batched", "one-at-a-time", "batched", "one-at-a-time"]);
    expect(chooser.figures("m").ratios).toEqual(Array(firstPairs).fill(0.9));
    const ways = run(chooser, 3 * exploreEvery, rate, 1 + firstPairs);
    // One group in `exploreEvery` goes the other way, the rest the faster one.
    expect(ways.filter((way) => way === "batched")).toHaveLength(3);
    expect(ways.slice(0, exploreEvery - 1).every((way) => way === "one-at-a-time")).toBe(true);
    expect(ways[exploreEvery - 1]).toBe("batched");
    // Another model is measured from nothing.
    expect(chooser.choose("other")).toBe("batched");
  });

  it("compares the ways side by side in time: a machine that slows down does not make the way it is taking look slower", () => {
    const chooser = new BatchChooser();
    // One at a time is 20% faster throughout, and the machine halves its speed after the first groups.
    const rate = (way: BatchWay, index: number) => (way === "batched" ? 80 : 100) * (index < 8 ? 2 : 1);
    run(chooser, 40, rate);
    expect(chooser.figures("m").next).toBe("one-at-a-time");
    expect(chooser.figures("m").ratios.every((ratio) => Math.abs(ratio - 0.8) < 1e-9)).toBe(true);
  });

  it("follows a change: once the recent pairs favour the other way, it is the one taken", () => {
    const chooser = new BatchChooser();
    run(chooser, 1 + firstPairs, (way) => (way === "batched" ? 120 : 100));
    expect(chooser.figures("m").next).toBe("batched");
    // The machine got busy: batches lose now; the pairs each check of the other way makes turn the choice.
    run(chooser, 4 * exploreClearEvery, (way) => (way === "batched" ? 50 : 100), 1 + firstPairs);
    expect(chooser.figures("m").next).toBe("one-at-a-time");
    expect(chooser.figures("m").ratios).toHaveLength(keptPairs);
  });

  it("checks the other way less often where one is clearly faster: a check there costs that much", () => {
    const chooser = new BatchChooser();
    const rate = (way: BatchWay) => (way === "batched" ? 70 : 100);
    run(chooser, 1 + firstPairs, rate);
    const ways = run(chooser, 2 * exploreClearEvery, rate, 1 + firstPairs);
    expect(1 / 0.7).toBeGreaterThan(clearRatio);
    expect(ways.filter((way) => way === "batched")).toHaveLength(2);
    expect(ways[exploreClearEvery - 1]).toBe("batched");
  });

  it("makes no pair of groups far apart in time", () => {
    const chooser = new BatchChooser();
    chooser.record("m", "batched", 100, 0);
    chooser.record("m", "one-at-a-time", 50, pairWithinMs + 1);
    expect(chooser.figures("m").ratios).toEqual([]);
    chooser.record("m", "batched", 100, pairWithinMs + 2);
    expect(chooser.figures("m").ratios).toEqual([2]);
  });

  it("keeps what another process wrote to its file meanwhile, and of a model both measured the one used last", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = path.join(dir, "batching.json");
      const studio = new BatchChooser(file);
      const cli = new BatchChooser(file);
      // Both read the file (none yet) before either writes.
      studio.figures("shared");
      cli.figures("shared");
      studio.record("studio's model", "batched", 100);
      studio.choose("shared");
      studio.record("shared", "batched", 100);
      studio.record("shared", "one-at-a-time", 25);
      studio.flush();
      cli.record("cli's model", "batched", 100);
      cli.record("cli's model", "one-at-a-time", 50);
      // The CLI used the shared model after the studio did: its figures are kept, and the studio takes them.
      await new Promise((resolve) => setTimeout(resolve, 5));
      cli.choose("shared");
      cli.record("shared", "batched", 100);
      cli.record("shared", "one-at-a-time", 200);
      cli.flush();
      studio.record("studio's model", "one-at-a-time", 50);
      studio.flush();
      const both = new BatchChooser(file);
      expect(both.figures("studio's model").ratios).toEqual([2]);
      expect(both.figures("cli's model").ratios).toEqual([2]);
      expect(both.figures("shared").ratios).toEqual([0.5]);
      expect(studio.figures("shared").ratios).toEqual([0.5]);
    } finally {
      await cleanup();
    }
  });

  it("keeps the figures in its file for the next one, and measures again from nothing when the file is not its own", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = path.join(dir, "estimates", "batching.json");
      const chooser = new BatchChooser(file);
      run(chooser, 1 + firstPairs, (way) => (way === "batched" ? 80 : 100), Date.now() / 1000);
      chooser.record("m", "one-at-a-time", Number.NaN);
      chooser.flush();
      expect(new BatchChooser(file).figures("m")).toEqual({ ratios: Array(firstPairs).fill(0.8), next: "one-at-a-time" });
      expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ version: 2 });
      await writeFile(file, '{"version": 2, "models": {"m": {"ratios": ["fast"], "sinceOther": 0, "usedAt": 0}}}');
      expect(new BatchChooser(file).figures("m")).toEqual({ ratios: [], next: "batched" });
      await writeFile(file, "not json");
      expect(new BatchChooser(file).choose("m")).toBe("batched");
    } finally {
      await cleanup();
    }
  });
});
