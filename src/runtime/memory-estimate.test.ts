import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { GgmlType } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { repackedFromGrowth, repackedTypesOn, repackRuleRelease } from "./memory-estimate.js";

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

describe("repackedTypesOn", () => {
  const flags = (line: string) => new Set(line.split(" "));
  it("follows llama.cpp's rule on x86-64: AVX2 repacks Q4_0, Q4_K, IQ4_NL and MXFP4, AVX-512 Q2_K too, no CPU Q8_0", () => {
    const zen4 = repackedTypesOn("x64", flags("fpu sse4_2 avx avx2 fma f16c bmi2 avx512f avx512bw avx512_vnni"))!;
    expect([...zen4].sort()).toEqual([GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.IQ4_NL, GgmlType.MXFP4, GgmlType.Q2_K].sort());
    expect(zen4.has(GgmlType.Q8_0)).toBe(false);
    expect(repackedTypesOn("x64", flags("fpu sse4_2 avx avx2 fma f16c bmi2"))!.has(GgmlType.Q2_K)).toBe(false);
    expect(repackedTypesOn("x64", flags("fpu sse4_2 avx"))!.size).toBe(0);
  });

  it("leaves unknown what it cannot tell: a CPU with AMX, ARM, no flags", () => {
    expect(repackedTypesOn("x64", flags("avx2 avx512f amx_tile amx_int8"))).toBeUndefined();
    expect(repackedTypesOn("arm64", flags("fp asimd asimddp i8mm"))).toBeUndefined();
    expect(repackedTypesOn("x64", undefined)).toBeUndefined();
  });

  it("is the rule of the llama.cpp release installed: another release must be read again", async () => {
    const release = JSON.parse(await readFile(path.join(path.dirname(createRequire(import.meta.url).resolve("node-llama-cpp")), "..", "llama", "binariesGithubRelease.json"), "utf8")) as { release: string };
    expect(release.release).toBe(repackRuleRelease);
  });
});
