/**
 * The memory this process may use: the host's, or a container's where its cgroup sets a lower limit. In
 * Docker `os.totalmem()` and `os.freemem()` are the host's, so a plan and a pool budget made from them
 * would count memory the container is killed for using.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface SystemMemory {
  /** Bytes in all: the host's, or the container's limit when lower. */
  total: number;
  /** Bytes free now: the host's, or what the container's limit leaves when less. */
  free: number;
}

export interface SystemMemoryOptions {
  /**
   * The cgroup folder of this process (default `/sys/fs/cgroup`, a container's own cgroup): cgroup v2's
   * `memory.max` and `memory.current`, or else v1's `memory/memory.limit_in_bytes` and `memory/memory.usage_in_bytes`.
   */
  cgroupDir?: string;
  /** `process.constrainedMemory()` (libuv reads cgroup v1 and v2 alike); absent where Node lacks it. */
  constrained?: number;
  hostTotal?: number;
  hostFree?: number;
}

/**
 * A cgroup file's byte count; undefined when the file is absent or says "max" (no limit). Read at once:
 * these are kernel pseudo-files (no disk behind them), and a run's plan reads them before its first token,
 * where an asynchronous read's four trips through the thread pool cost a millisecond on a busy machine.
 */
function cgroupBytes(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
  const bytes = Number(text);
  return text === "" || !Number.isFinite(bytes) || bytes < 0 ? undefined : bytes;
}

/** The memory this process may use (see the module's comment). */
export async function systemMemory(options: SystemMemoryOptions = {}): Promise<SystemMemory> {
  const hostTotal = options.hostTotal ?? os.totalmem();
  const hostFree = options.hostFree ?? os.freemem();
  const constrained = "constrained" in options ? options.constrained : (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  const cgroupDir = options.cgroupDir ?? "/sys/fs/cgroup";
  let [max, current] = [cgroupBytes(path.join(cgroupDir, "memory.max")), cgroupBytes(path.join(cgroupDir, "memory.current"))];
  if (max === undefined && current === undefined) {
    // cgroup v1 (older Docker hosts): no limit reads as a huge number, left out below.
    [max, current] = [cgroupBytes(path.join(cgroupDir, "memory", "memory.limit_in_bytes")), cgroupBytes(path.join(cgroupDir, "memory", "memory.usage_in_bytes"))];
  }
  // No limit reads as 0, as 2^64 or as more than the host has: the host's memory is the limit then.
  const limits = [constrained, max].filter((bytes): bytes is number => bytes !== undefined && bytes > 0 && bytes < hostTotal);
  const total = Math.min(hostTotal, ...limits);
  const left = max !== undefined && current !== undefined && max < hostTotal ? Math.max(0, max - current) : total;
  return { total, free: Math.min(hostFree, left, total) };
}
