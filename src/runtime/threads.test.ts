import { describe, expect, it } from "vitest";
import { chooseThreads, smallModelBytes } from "./threads.js";

describe("chooseThreads", () => {
  it("keeps a configured count", () => {
    expect(chooseThreads({ configured: 3, weightBytes: 10, parallel: 1, cores: 16 })).toBe(3);
  });

  it("gives a small model one thread, however many cores", () => {
    expect(chooseThreads({ configured: "auto", weightBytes: 1_200_000, parallel: 1, cores: 16 })).toBe(1);
  });

  it("shares the cores among the generations that run at once for a large model", () => {
    expect(chooseThreads({ configured: "auto", weightBytes: smallModelBytes * 8, parallel: 1, cores: 2 })).toBe(2);
    expect(chooseThreads({ configured: "auto", weightBytes: smallModelBytes * 8, parallel: 4, cores: 16 })).toBe(4);
    expect(chooseThreads({ configured: "auto", weightBytes: smallModelBytes * 8, parallel: 8, cores: 2 })).toBe(1);
  });
});
