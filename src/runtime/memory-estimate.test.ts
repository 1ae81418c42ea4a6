import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { GgmlType } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { repackedFromGrowth, repackedMeasured, repackedTypesOn, repackRuleRelease } from "./memory-estimate.js";

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

describe("repackedMeasured", () => {
  const slack = 32 * mib;
  it("keeps no more than the CPU's rule says where the load grew by no more: a Q4_K_M model repacks its Q4_K part alone", () => {
    // 100 MiB it may repack on some CPU, 70 of them Q4_K (repacked with AVX2), 30 Q6_K (not).
    expect(repackedMeasured(71 * mib, 100 * mib, 70 * mib, slack)).toBe(71 * mib);
    expect(repackedFromGrowth(71 * mib, 100 * mib, slack)).toBe(100 * mib);
  });

  it("keeps the growth where the rule says nothing is repacked, and believes a load that grew by more than the rule says", () => {
    expect(repackedMeasured(10 * mib, 400 * mib, 0, slack)).toBe(10 * mib);
    expect(repackedMeasured(405 * mib, 400 * mib, 0, slack)).toBe(400 * mib);
  });

  it("is repackedFromGrowth where the rule is not known (every type counted)", () => {
    expect(repackedMeasured(10 * mib, 400 * mib, 400 * mib, slack)).toBe(42 * mib);
    expect(repackedMeasured(300 * mib, 400 * mib, 400 * mib, slack)).toBe(400 * mib);
  });
});
