import { describe, expect, it } from "vitest";
import { repackedFromGrowth } from "./memory-estimate.js";

const mib = 1024 * 1024;

describe("repackedFromGrowth", () => {
  it("counts all of the repackable share where the load grew by half of it or more", () => {
    expect(repackedFromGrowth(410 * mib, 408 * mib, 32 * mib)).toBe(408 * mib);
    expect(repackedFromGrowth(204 * mib, 408 * mib, 32 * mib)).toBe(408 * mib);
  });

  it("counts a smaller growth and the slack", () => {
    expect(repackedFromGrowth(10 * mib, 408 * mib, 32 * mib)).toBe(42 * mib);
    expect(repackedFromGrowth(30 * mib, 70 * mib, 32 * mib)).toBe(62 * mib);
    expect(repackedFromGrowth(34 * mib, 70 * mib, 32 * mib)).toBe(66 * mib);
    expect(repackedFromGrowth(36 * mib, 70 * mib, 32 * mib)).toBe(70 * mib);
    // Never more than the share.
    expect(repackedFromGrowth(15 * mib, 40 * mib, 32 * mib)).toBe(40 * mib);
  });

  it("reads memory freed during the load as no growth", () => {
    expect(repackedFromGrowth(-5 * mib, 408 * mib, 32 * mib)).toBe(32 * mib);
  });
});
