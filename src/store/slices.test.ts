import { describe, expect, it } from "vitest";
import { sortInSlices, TwoEndedArray } from "./slices.js";

/** A reproducible sequence of numbers in [0, 1), so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("sortInSlices", () => {
  it("sorts as Array.prototype.sort does, stably, for every length up to 300", async () => {
    const next = random(7);
    for (let length = 0; length <= 300; length++) {
      const items = Array.from({ length }, (_, position) => ({ key: Math.floor(next() * 20), position }));
      const byKey = (a: { key: number }, b: { key: number }) => a.key - b.key;
      expect(await sortInSlices(items, byKey, { sliceSize: 7 })).toEqual([...items].sort(byKey));
    }
  });

  it("yields to the event loop between slices: never more than sliceSize comparisons in one turn", async () => {
    const next = random(11);
    const items = Array.from({ length: 5000 }, () => next().toString(36));
    let comparisons = 0;
    let mostInOneTurn = 0;
    let pauses = 0;
    const sorted = await sortInSlices(
      items,
      (a, b) => {
        comparisons++;
        return a < b ? -1 : a > b ? 1 : 0;
      },
      {
        sliceSize: 500,
        pause: async () => {
          pauses++;
          mostInOneTurn = Math.max(mostInOneTurn, comparisons);
          comparisons = 0;
          await new Promise((resolve) => setImmediate(resolve));
        },
      },
    );
    expect(sorted).toEqual([...items].sort());
    expect(mostInOneTurn).toBeGreaterThan(0);
    expect(Math.max(mostInOneTurn, comparisons)).toBeLessThanOrEqual(500);
    // 5,000 items in 13 passes: more than a hundred slices.
    expect(pauses).toBeGreaterThan(100);
  });
});

describe("TwoEndedArray", () => {
  it("holds the same items in the same order as a plain array under any mix of inserts, removals and replacements", () => {
    const next = random(3);
    const model: number[] = [];
    const list = new TwoEndedArray<number>();
    for (let step = 0; step < 5000; step++) {
      const roll = next();
      const position = Math.floor(next() * (model.length + 1));
      if (roll < 0.3) {
        list.insert(0, step);
        model.unshift(step);
      } else if (roll < 0.55) {
        list.insert(model.length, step);
        model.push(step);
      } else if (roll < 0.8) {
        list.insert(position, step);
        model.splice(position, 0, step);
      } else if (model.length > 0 && roll < 0.93) {
        const at = Math.min(position, model.length - 1);
        list.remove(at);
        model.splice(at, 1);
      } else if (model.length > 0) {
        const at = Math.min(position, model.length - 1);
        list.replace(at, -step);
        model[at] = -step;
      }
      if (step % 250 === 0) {
        expect(list.length).toBe(model.length);
        expect([...list]).toEqual(model);
        expect(Array.from({ length: model.length }, (_, at) => list.at(at))).toEqual(model);
      }
    }
    expect([...list]).toEqual(model);
    list.clear();
    expect(list.length).toBe(0);
    expect([...list]).toEqual([]);
  });
});
