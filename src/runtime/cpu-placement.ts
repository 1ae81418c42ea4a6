/**
 * Where the inference worker's threads run. node-llama-cpp decodes each token in a thread of libuv's pool
 * and hands the result back to the worker's main thread, two hand-offs a token; with one compute thread
 * (`threads: 1`, which `auto` gives models under 64 MiB, and every model on a two-core machine) the two
 * threads take turns and never run at once. Left to the scheduler they often sit on two cores, and each
 * hand-off wakes an idle core: on this project's two-vCPU virtual machine stories260K decoded 64 tokens in
 * 28-37 ms so, against 20-21 ms with the process held to one core, and the 27M model's 4-5% less time;
 * but a 400M model's took 10-13% more (BENCHMARKS.md, "One core for a one-thread worker"). So a CPU-only
 * worker whose every loaded model is under 64 MiB (`smallModelBytes`) and computes on one thread, one
 * generation at a time, holds itself to one core (the one it runs on, once it has been idle a moment: see
 * the worker's `placeThreads`). With a larger model, more threads, a GPU, or after the config's
 * `runtime.cpu_affinity: false`, it runs wherever the system puts it (a worker that held itself to one
 * core lets go of it).
 *
 * Linux only, with util-linux's `taskset` (/usr/bin or /bin: on every Debian and Ubuntu, and in the
 * image): Node has no call that sets a process's CPU affinity, and no npm package for it is kept up (a
 * native addon for one system call). Elsewhere, or where the call is refused (a sandbox), the worker runs
 * where the system puts it.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { smallModelBytes } from "./threads.js";

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
  /** Each loaded (or loading) model: its compute threads and its weights' bytes. */
  models: ReadonlyArray<{ threads: number; weightBytes: number }>;
  /** Generations at once. */
  parallel: number;
  /** The GPU in use, or false on a CPU. */
  gpu: string | false;
  /** `runtime.cpu_affinity` is not `false`. */
  enabled: boolean;
}

/** The CPU this process's main thread ran on last (`/proc/self/stat`'s 39th field), on Linux. */
export function currentCpu(statFile = "/proc/self/stat"): number | undefined {
  try {
    const text = readFileSync(statFile, "utf8");
    // The fields after the command's name (in parentheses, which may hold spaces): the state is the 3rd.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const cpu = Number(fields[39 - 3]);
    return Number.isInteger(cpu) && cpu >= 0 ? cpu : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The one CPU the worker should hold itself to (see the module's comment), or undefined: wherever the
 * system puts it. `current`: the CPU it runs on now, kept where it may use it, so that two workers (two
 * studios, a CLI run beside the studio) placed where the system had spread them keep apart; else the last.
 */
export function chooseCpu({ allowed, models, parallel, gpu, enabled }: PlacementFacts, current?: number): number | undefined {
  if (!enabled || gpu !== false || !allowed || allowed.length < 2) return undefined;
  if (models.length === 0 || parallel !== 1 || models.some((model) => model.threads !== 1 || model.weightBytes >= smallModelBytes)) return undefined;
  return current !== undefined && allowed.includes(current) ? current : allowed.at(-1);
}

/** util-linux's `taskset`, by its own path (never one a `PATH` under the project's control could name). */
export function findTaskset(): string | undefined {
  return ["/usr/bin/taskset", "/bin/taskset"].find((file) => existsSync(file));
}

/**
 * Holds this process (every thread of it, and those it makes later) to one CPU, or lets it run on all it
 * may, as `place` is told last. One `taskset` call at a time, each for the latest wish: calls that finish
 * out of order never leave the process where it was not asked to be. A failed call (a sandbox's refusal,
 * a thread gone mid-way) may have moved some threads: every thread is put back on all the CPUs once, and
 * placement stops for the process's life, said once on stderr.
 */
export class CpuPlacement {
  readonly #allowed: readonly number[] | undefined;
  readonly #taskset: string | undefined;
  /** The CPU asked for, or undefined: all of `allowed`. */
  #wanted: number | undefined;
  /** Where the last call that succeeded put it (at first: all of `allowed`, as the process started). */
  #applied: number | undefined;
  #running = false;
  #broken = false;

  constructor(allowed: readonly number[] | undefined, taskset = findTaskset()) {
    this.#allowed = allowed;
    this.#taskset = taskset;
  }

  /** The CPU asked for last, or undefined: all of them. */
  get current(): number | undefined {
    return this.#wanted;
  }

  get allowed(): readonly number[] | undefined {
    return this.#allowed;
  }

  place(cpu: number | undefined): void {
    if (this.#broken || !this.#allowed || !this.#taskset) return;
    this.#wanted = cpu;
    this.#next();
  }

  #next(): void {
    const allowed = this.#allowed!;
    const taskset = this.#taskset!;
    if (this.#running || this.#broken || this.#wanted === this.#applied) return;
    const target = this.#wanted;
    this.#running = true;
    const pid = String(process.pid);
    // -a: every thread the process has now; those it makes later inherit their maker's placement.
    execFile(taskset, ["-a", "-p", "-c", target === undefined ? allowed.join(",") : String(target), pid], { timeout: 5000 }, (error) => {
      this.#running = false;
      if (!error) {
        this.#applied = target;
        this.#next();
        return;
      }
      this.#broken = true;
      this.#wanted = undefined;
      execFile(taskset, ["-a", "-p", "-c", allowed.join(","), pid], { timeout: 5000 }, () => undefined);
      process.stderr.write(`inference worker: its threads run where the system puts them (taskset -p failed: ${error.message.split("\n")[0]})\n`);
    });
  }
}
