import { describe, expect, it } from "vitest";
import { orderBalanced } from "./pipeline.js";

describe("the pipeline bench's ratios, balanced for which side's process was made first", () => {
  it("cancels a slowdown of the process made first, whichever side it is", () => {
    // Direct / engine is 0.95; the process made first runs 10% slower.
    const engineFirst = [0.95 / 1.1, 0.95 / 1.1, 0.95 / 1.1];
    const directFirst = [0.95 * 1.1, 0.95 * 1.1];
    const ratios = [...engineFirst, ...directFirst];
    const result = orderBalanced(ratios, [true, true, true, false, false]);
    expect(result.balanced).toBeCloseTo(0.95, 10);
    expect(result.engineFirst).toBeCloseTo(0.95 / 1.1, 10);
    expect(result.directFirst).toBeCloseTo(0.95 * 1.1, 10);
  });

  it("takes the middle of an even count of ratios, not its upper half", () => {
    const result = orderBalanced([0.8, 0.9, 1, 1.1], [true, true, false, false]);
    expect(result.engineFirst).toBeCloseTo(0.85, 10);
    expect(result.directFirst).toBeCloseTo(1.05, 10);
    expect(result.balanced).toBeCloseTo(Math.sqrt(0.85 * 1.05), 10);
  });

  it("is the plain median where only one order was run", () => {
    expect(orderBalanced([0.9, 1, 0.8], [true, true, true])).toMatchObject({ balanced: 0.9, engineFirst: 0.9 });
    expect(orderBalanced([0.9, 1, 0.8], [true, true, true]).directFirst).toBeNaN();
  });
});
