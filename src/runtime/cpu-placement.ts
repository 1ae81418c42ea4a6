/**
 * Where the inference worker's threads run. node-llama-cpp decodes each token in a thread of libuv's pool
 * and hands the result back to the worker's main thread, two hand-offs a token; with one compute thread
 * (`threads: 1`, which `auto` gives models under 64 MiB, and every model on a two-core machine) the two
 * threads take turns and never run at once. Left to the scheduler they often sit on two cores, and each
 * hand-off wakes an idle core: on this project's two-vCPU virtual machine stories260K decoded 64 tokens in
 * 28-37 ms so, against 20-21 ms with the process held to one core (BENCHMARKS.md, "One core for a
 * one-thread worker"). So a CPU-only worker whose every loaded model computes on one thread, one generation
 * at a time, holds itself to one core: the last one it may use, the first being the one the studio's
 * process is most often on. With more threads, a GPU, or after the config's `runtime.cpu_affinity: false`,
 * it runs wherever the system puts it (a worker that held itself to one core lets go of it).
 *
 * Linux only, with util-linux's `taskset` (present on every Debian and in the image): Node has no call
 * that sets a process's CPU affinity, and no npm package for it is kept up (a native addon for one system
 * call). Elsewhere, or where the call is refused (a sandbox), the worker runs where the system puts it.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";

/** The CPUs of a kernel list such as `0-3,8,10-11`, in order; undefined when it is not one. */
export function parseCpuList(text: string): number[] | undefined {
  const cpus: number[] = [];
  for (const part of text.trim().split(",")) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!range) return undefined;
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (last < first || last - first > 4096) return undefined;
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus.length > 0 ? cpus : undefined;
}

/** The CPUs this process may run on (its affinity, as a container's cpuset limits it), on Linux; undefined elsewhere. */
export function allowedCpus(statusFile = "/proc/self/status"): number[] | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(statusFile, "utf8"));
    return line ? parseCpuList(line[1]!) : undefined;
  } catch {
    return undefined;
  }
}

export interface PlacementFacts {
  /** The CPUs the worker may run on (read before it held itself to any). */
  allowed: readonly number[] | undefined;
  /** The compute threads of each loaded model. */
  threads: readonly number[];
  /** Generations at once. */
  parallel: number;
  /** The GPU in use, or false on a CPU. */
  gpu: string | false;
  /** `runtime.cpu_affinity` is not `false`. */
  enabled: boolean;
}

/** The one CPU the worker should hold itself to (see the module's comment), or undefined: wherever the system puts it. */
export function chooseCpu({ allowed, threads, parallel, gpu, enabled }: PlacementFacts): number | undefined {
  if (!enabled || gpu !== false || !allowed || allowed.length < 2) return undefined;
  if (threads.length === 0 || parallel !== 1 || threads.some((count) => count !== 1)) return undefined;
  return allowed.at(-1);
}

/**
 * Holds this process (every thread of it, and those it makes later) to one CPU, or lets it run on all it
 * may, as `place` is told; each change is one `taskset` call, made only when the wanted placement changes.
 * A refused call (no `taskset`, a sandbox) turns placement off for the process's life, said once on stderr.
 */
export class CpuPlacement {
  readonly #allowed: readonly number[] | undefined;
  /** The CPU held to, or undefined: all of `allowed`. */
  #current: number | undefined;
  #broken = false;
  /** The `taskset` call under way, if any (tests wait for it). */
  settled: Promise<void> = Promise.resolve();

  constructor(allowed: readonly number[] | undefined) {
    this.#allowed = allowed;
  }

  get current(): number | undefined {
    return this.#current;
  }

  get allowed(): readonly number[] | undefined {
    return this.#allowed;
  }

  place(cpu: number | undefined): void {
    if (this.#broken || !this.#allowed || cpu === this.#current) return;
    this.#current = cpu;
    const list = cpu === undefined ? this.#allowed.join(",") : String(cpu);
    this.settled = new Promise((resolve) => {
      // -a: every thread the process has now; those it makes later inherit their maker's placement.
      execFile("taskset", ["-a", "-p", "-c", list, String(process.pid)], { timeout: 5000 }, (error) => {
        if (error) {
          this.#broken = true;
          this.#current = undefined;
          // No taskset on this system: nothing to say; a refusal is worth a line.
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") process.stderr.write(`inference worker: its threads run where the system puts them (taskset -p failed: ${error.message.split("\n")[0]})\n`);
        }
        resolve();
      });
    });
  }
}
