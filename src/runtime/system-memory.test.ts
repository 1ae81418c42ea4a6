import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemMemory } from "./system-memory.js";

const GiB = 1024 ** 3;
const host = { hostTotal: 64 * GiB, hostFree: 40 * GiB };

describe("systemMemory", () => {
  // A fake cgroup folder: the real one is the machine's and cannot be set from a test.
  let cgroup: string;
  beforeEach(async () => {
    cgroup = await mkdtemp(path.join(os.tmpdir(), "fake-cgroup-"));
  });
  afterEach(async () => {
    await rm(cgroup, { recursive: true, force: true });
  });

  it("takes a container's limit for the total, and the limit less its usage for what is free", async () => {
    await writeFile(path.join(cgroup, "memory.max"), "8589934592\n");
    await writeFile(path.join(cgroup, "memory.current"), "2147483648\n");
    expect(await systemMemory({ ...host, cgroupDir: cgroup, constrained: undefined })).toEqual({ total: 8 * GiB, free: 6 * GiB });
  });

  it("keeps the host's free memory when it is less than the container's limit leaves", async () => {
    await writeFile(path.join(cgroup, "memory.max"), String(8 * GiB));
    await writeFile(path.join(cgroup, "memory.current"), String(1 * GiB));
    expect(await systemMemory({ hostTotal: 64 * GiB, hostFree: 3 * GiB, cgroupDir: cgroup, constrained: undefined })).toEqual({ total: 8 * GiB, free: 3 * GiB });
  });

  it("reads \"max\" and absent files as no limit", async () => {
    await writeFile(path.join(cgroup, "memory.max"), "max\n");
    await writeFile(path.join(cgroup, "memory.current"), String(5 * GiB));
    expect(await systemMemory({ ...host, cgroupDir: cgroup, constrained: undefined })).toEqual({ total: 64 * GiB, free: 40 * GiB });
    expect(await systemMemory({ ...host, cgroupDir: path.join(cgroup, "absent"), constrained: undefined })).toEqual({ total: 64 * GiB, free: 40 * GiB });
  });

  it("reads cgroup v1's files where v2's are absent, and its huge 'no limit' as none", async () => {
    await mkdir(path.join(cgroup, "memory"));
    await writeFile(path.join(cgroup, "memory", "memory.limit_in_bytes"), String(4 * GiB));
    await writeFile(path.join(cgroup, "memory", "memory.usage_in_bytes"), String(1 * GiB));
    expect(await systemMemory({ ...host, cgroupDir: cgroup, constrained: undefined })).toEqual({ total: 4 * GiB, free: 3 * GiB });
    await writeFile(path.join(cgroup, "memory", "memory.limit_in_bytes"), "9223372036854771712");
    expect(await systemMemory({ ...host, cgroupDir: cgroup, constrained: undefined })).toEqual({ total: 64 * GiB, free: 40 * GiB });
  });

  it("takes process.constrainedMemory's limit where no cgroup v2 file says one, and ignores its 'no limit' values", async () => {
    const absent = path.join(cgroup, "absent");
    expect(await systemMemory({ ...host, cgroupDir: absent, constrained: 4 * GiB })).toEqual({ total: 4 * GiB, free: 4 * GiB });
    expect(await systemMemory({ ...host, cgroupDir: absent, constrained: 2 ** 64 })).toEqual({ total: 64 * GiB, free: 40 * GiB });
    expect(await systemMemory({ ...host, cgroupDir: absent, constrained: 0 })).toEqual({ total: 64 * GiB, free: 40 * GiB });
  });
});
