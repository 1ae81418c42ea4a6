import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { allowedCpus, chooseCpu, CpuPlacement, currentCpu, parseCpuList } from "./cpu-placement.js";
import { smallModelBytes } from "./threads.js";

describe("parseCpuList", () => {
  it("reads the kernel's lists of CPUs and ranges", () => {
    expect(parseCpuList("0-1")).toEqual([0, 1]);
    expect(parseCpuList("0-3,8,10-11\n")).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList("5")).toEqual([5]);
  });

  it("refuses what is not one", () => {
    for (const text of ["", "a", "3-1", "1,,2", "0-99999"]) expect(parseCpuList(text)).toBeUndefined();
  });
});

describe("allowedCpus", () => {
  it("reads a process's affinity from its status file, and nothing from a file without one", async () => {
    if (process.platform !== "linux") return;
    const { dir, cleanup } = await tempDir("project-llm-cpus-");
    try {
      const status = path.join(dir, "status");
      await writeFile(status, "Name:\tnode\nCpus_allowed:\tf\nCpus_allowed_list:\t0-2,7\nMems_allowed_list:\t0\n");
      expect(allowedCpus(status)).toEqual([0, 1, 2, 7]);
      await writeFile(status, "Name:\tnode\n");
      expect(allowedCpus(status)).toBeUndefined();
      expect(allowedCpus(path.join(dir, "missing"))).toBeUndefined();
      // This process's own list holds at least one CPU.
      expect(allowedCpus()?.length).toBeGreaterThan(0);
    } finally {
      await cleanup();
    }
  });
});

describe("currentCpu", () => {
  it("reads the CPU from a stat line, whatever the command's name holds", async () => {
    const { dir, cleanup } = await tempDir("project-llm-cpus-");
    try {
      const stat = path.join(dir, "stat");
      const after = Array.from({ length: 50 }, (_, index) => (index === 36 ? "5" : "0")).join(" ");
      await writeFile(stat, `1234 (node (a) b) S ${after.split(" ").slice(1).join(" ")}\n`);
      expect(currentCpu(stat)).toBe(5);
      expect(currentCpu(path.join(dir, "missing"))).toBeUndefined();
      if (process.platform === "linux") expect(allowedCpus()).toContain(currentCpu());
    } finally {
      await cleanup();
    }
  });
});

describe("chooseCpu", () => {
  const small = { threads: 1, weightBytes: 1_200_000 };
  const facts = { allowed: [0, 1, 2, 3], models: [small], parallel: 1, gpu: false as const, enabled: true };

  it("keeps a worker whose models are small and each compute on one thread, one generation at a time, to the CPU it is on (else the last it may use)", () => {
    expect(chooseCpu(facts, 1)).toBe(1);
    expect(chooseCpu({ ...facts, models: [small, small, { threads: 1, weightBytes: smallModelBytes - 1 }] }, 2)).toBe(2);
    expect(chooseCpu(facts)).toBe(3);
    // On a CPU it may no longer use (its cpuset changed): the last it may.
    expect(chooseCpu({ ...facts, allowed: [0, 1, 2, 7] }, 5)).toBe(7);
  });

  it("lets it run anywhere with a model of 64 MiB or more (one core made the 400M model slower), more threads, several generations, a GPU, no model, one CPU, or placement turned off", () => {
    expect(chooseCpu({ ...facts, models: [small, { threads: 1, weightBytes: smallModelBytes }] })).toBeUndefined();
    expect(chooseCpu({ ...facts, models: [small, { threads: 3, weightBytes: 1000 }] })).toBeUndefined();
    expect(chooseCpu({ ...facts, parallel: 2 })).toBeUndefined();
    expect(chooseCpu({ ...facts, gpu: "cuda" })).toBeUndefined();
    expect(chooseCpu({ ...facts, models: [] })).toBeUndefined();
    expect(chooseCpu({ ...facts, allowed: [0] })).toBeUndefined();
    expect(chooseCpu({ ...facts, allowed: undefined })).toBeUndefined();
    expect(chooseCpu({ ...facts, enabled: false })).toBeUndefined();
  });
});

describe("CpuPlacement", () => {
  /** A stand-in for taskset (a shell script, real processes): it logs its arguments, and fails while a file `fail` is there. */
  async function fakeTaskset(dir: string): Promise<{ path: string; calls: () => Promise<string[]> }> {
    const file = path.join(dir, "taskset");
    const log = path.join(dir, "log");
    await writeFile(file, `#!/bin/sh\nsleep 0.05\necho "$*" >> "${log}"\n[ -e "${path.join(dir, "fail")}" ] && exit 1\nexit 0\n`, { mode: 0o755 });
    return { path: file, calls: () => readFile(log, "utf8").then((text) => text.trim().split("\n").filter(Boolean), () => []) };
  }
  const until = async (check: () => Promise<boolean>) => {
    for (let tries = 0; tries < 200 && !(await check()); tries++) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  it("makes one call at a time, each for the latest wish, and none for a wish already met", async () => {
    if (process.platform === "win32") return;
    const { dir, cleanup } = await tempDir("project-llm-placement-");
    try {
      const taskset = await fakeTaskset(dir);
      const placement = new CpuPlacement([0, 1, 2, 3], taskset.path);
      const pid = String(process.pid);
      // Three wishes while the first call runs: once it ends, the latest (CPU 3, what it did) needs no call.
      placement.place(3);
      placement.place(undefined);
      placement.place(2);
      placement.place(3);
      await until(async () => (await taskset.calls()).length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await taskset.calls()).toEqual([`-a -p -c 3 ${pid}`]);
      // Then two changes in a row: the second waits for the first.
      placement.place(undefined);
      placement.place(1);
      await until(async () => (await taskset.calls()).length >= 3);
      expect(await taskset.calls()).toEqual([`-a -p -c 3 ${pid}`, `-a -p -c 0,1,2,3 ${pid}`, `-a -p -c 1 ${pid}`]);
      expect(placement.current).toBe(1);
    } finally {
      await cleanup();
    }
  });

  it("after a failed call puts every thread back on all the CPUs once, and places no more", async () => {
    if (process.platform === "win32") return;
    const { dir, cleanup } = await tempDir("project-llm-placement-");
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const taskset = await fakeTaskset(dir);
      await writeFile(path.join(dir, "fail"), "");
      const placement = new CpuPlacement([0, 1], taskset.path);
      const pid = String(process.pid);
      placement.place(1);
      await until(async () => (await taskset.calls()).length >= 2);
      expect(await taskset.calls()).toEqual([`-a -p -c 1 ${pid}`, `-a -p -c 0,1 ${pid}`]);
      expect(placement.current).toBeUndefined();
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining("taskset -p failed"));
      placement.place(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await taskset.calls()).toHaveLength(2);
    } finally {
      stderr.mockRestore();
      await cleanup();
    }
  });
});
