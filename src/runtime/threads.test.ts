import { describe, expect, it } from "vitest";
import { batchWidth, chooseThreads, maxBatchSequences, resolveParallel, smallModelBytes } from "./threads.js";

describe("chooseThreads", () => {
  it("keeps a configured count", () => {
    expect(chooseThreads({ configured: 3, weightBytes: 10, parallel: 1, cores: 16 })).toBe(3);
  });

  it("gives a small model one thread, however many cores", () => {
    expect(chooseThreads({ configured: "auto", weightBytes: 1_200_000, parallel: 1, cores: 16 })).toBe(1);
  });

  it("gives a large model every core but one, shared among the generations that run at once", () => {
    expect(chooseThreads({ configured: "auto", weightBytes: smallModelBytes * 8, parallel: 1, cores: 2 })).toBe(1);
    expect(chooseThreads({ configured: "auto", weightBytes: smallModelBytes * 8, parallel: 1, cores: 16 })).toBe(15);
    expect(chooseThreads({ configured: "auto", weightBytes: smallModelBytes * 8, parallel: 4, cores: 16 })).toBe(3);
    expect(chooseThreads({ configured: "auto", weightBytes: smallModelBytes * 8, parallel: 8, cores: 2 })).toBe(1);
  });
});

describe("resolveParallel", () => {
  it("keeps a configured count", () => {
    expect(resolveParallel(3, false)).toBe(3);
    expect(resolveParallel(2, "cuda")).toBe(2);
  });

  it("runs one generation at a time on a CPU and four on a GPU", () => {
    expect(resolveParallel("auto", false)).toBe(1);
    expect(resolveParallel("auto", "cuda")).toBe(4);
  });
});

describe("batchWidth", () => {
  it("batches on a CPU, whatever the model (measured to pay on each size and thread count)", () => {
    expect(batchWidth({ configured: "auto", gpu: false })).toBe(maxBatchSequences);
  });

  it("leaves a GPU to `parallel`, and obeys false or a count", () => {
    expect(batchWidth({ configured: "auto", gpu: "cuda" })).toBe(1);
    expect(batchWidth({ configured: false, gpu: false })).toBe(1);
    expect(batchWidth({ configured: 3, gpu: false })).toBe(3);
  });
});
