/**
 * The supervisor: the parent's side of the inference worker. It implements the engine's InferencePort,
 * forks the worker lazily, queues calls beyond the worker's parallelism, and when the worker dies
 * (a native abort, a kill) fails the calls in flight with `worker-crashed` and forks a fresh one for the
 * next call.
 */
import type { ChildProcess } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { ProjectLlmError } from "../common/index.js";
import type { GenerateOptions, GenerateRequest, GenerateResult, InferencePort } from "../engine/index.js";
import type { ModelFacts, ParentMessage, WorkerMessage, WorkerSettings, WorkerStatus } from "./protocol.js";
import { batchWidth } from "./threads.js";
import { forkWorker, takePrestarted } from "./worker-process.js";

export interface RuntimeOptions {
  /** The compiled worker; default `dist/runtime/worker.js` under `cwd`. */
  workerPath?: string;
  cwd?: string;
  gpu?: WorkerSettings["gpu"];
  maxLoadedModels?: number;
  idleUnloadSeconds?: number;
  /**
   * Generations at once; more calls wait in a queue. `auto` (the default) is 1 on a CPU (its cores are
   * better spent on one generation) and 4 on a GPU; the worker resolves it once it knows which it has.
   */
  parallel?: "auto" | number;
  /**
   * `auto` (the default): calls on one loaded model (same file and load parameters) that come while one
   * of them runs may join it, up to `batchWidth`, and decode in one batch where that is faster (see
   * `batchWidth`); `false`: never beyond `parallel`; a number: that many on any model.
   */
  batch?: "auto" | false | number;
  /** RAM the loaded models may take together, by node-llama-cpp's estimates; default 80% of the total. */
  memoryBudgetBytes?: number;
  /** `false`: the worker never holds itself to one core (see cpu-placement.ts); default true. */
  cpuAffinity?: boolean;
  /** Where the worker keeps llama.cpp's simulated contexts for the next one (see estimate-cache.ts); unset: not kept. */
  estimatesFile?: string;
}

export interface RuntimeStats {
  /** Models loaded by workers since this runtime started (all workers together). */
  modelLoads: number;
  /** Generations that completed. */
  generations: number;
  /** Workers forked, the first included. */
  workerStarts: number;
  /** Workers forked after the first (after a crash or a kill). */
  workerRestarts: number;
  /** Workers that stopped while calls were in flight. */
  workerCrashes: number;
  /** The current worker's process id, when one runs. */
  workerPid?: number;
  /** Times a worker learned something that changes its memory estimates (what a model's load repacked): facts inspected before are out of date. */
  estimatesChanged: number;
}

/** A message without its id (distributes over the union, unlike a plain Omit). */
type Unnumbered<T> = T extends unknown ? Omit<T, "id"> : never;

interface Pending {
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
  onText?: (text: string) => void;
  onLoadProgress?: (progress: number) => void;
  isGenerate: boolean;
}

/** A call waiting for a slot: its model's batch key, and how to let it go. */
interface Waiting {
  key: string;
  start: () => void;
}

interface Worker {
  child: ChildProcess;
  pending: Map<number, Pending>;
  exited: boolean;
  /** Resolves with the worker's parallelism once node-llama-cpp is up; rejects when it dies first. */
  ready: Promise<number>;
  onReady: (parallel: number) => void;
  /** Its pool as it last said, on a CPU; unset while unknown (a failed call, an unload asked for). */
  pool?: WorkerStatus;
}

export class Runtime implements InferencePort {
  readonly #options: RuntimeOptions;
  readonly #settings: WorkerSettings;
  #worker: Worker | undefined;
  #nextId = 1;
  /** Slots for generations at once; unknown until the worker has resolved `auto`. */
  #limit: number | undefined;
  #running = 0;
  /** The calls running now by their model's batch key (file and load parameters). */
  #runningByModel = new Map<string, number>();
  /** The worker's GPU, or false on a CPU; unknown until a worker is up. */
  #gpu: string | false | undefined;
  #queue: Waiting[] = [];
  #disposed = false;
  #stats: RuntimeStats = { modelLoads: 0, generations: 0, workerStarts: 0, workerRestarts: 0, workerCrashes: 0, estimatesChanged: 0 };

  constructor(options: RuntimeOptions = {}) {
    this.#options = options;
    this.#settings = {
      gpu: options.gpu ?? "auto",
      maxLoadedModels: options.maxLoadedModels ?? 4,
      idleUnloadSeconds: options.idleUnloadSeconds ?? 600,
      parallel: options.parallel ?? "auto",
      batch: options.batch ?? "auto",
      memoryBudgetBytes: options.memoryBudgetBytes ?? os.totalmem() * 0.8,
      cpuAffinity: options.cpuAffinity ?? true,
      ...(options.estimatesFile === undefined ? {} : { estimatesFile: options.estimatesFile }),
    };
    this.#limit = typeof options.parallel === "number" ? options.parallel : undefined;
  }

  /** Generations at once: the configured count, or what `auto` resolved to (undefined until a worker has started). */
  get parallel(): number | undefined {
    return this.#limit;
  }

  /**
   * Starts the worker now if it is not running, without waiting for it: its start (Node, node-llama-cpp
   * and its binary's check: ~0.8 s here) then overlaps the caller's own work instead of following it.
   */
  start(): void {
    if (!this.#disposed) this.#spawn();
  }

  #spawn(): Worker {
    if (this.#disposed) throw new ProjectLlmError("internal", "the inference runtime has been disposed");
    if (this.#worker && !this.#worker.exited && this.#worker.child.connected) return this.#worker;
    const workerPath = this.#options.workerPath ?? path.join(/*turbopackIgnore: true*/ this.#options.cwd ?? process.cwd(), "dist", "runtime", "worker.js");
    // The one the CLI forked as it started, if any (see worker-process.ts).
    const child = takePrestarted(workerPath, this.#settings) ?? forkWorker(workerPath, this.#settings);
    let onReady: (parallel: number) => void = () => undefined;
    let onFailure: (error: unknown) => void = () => undefined;
    const ready = new Promise<number>((resolve, reject) => {
      onReady = resolve;
      onFailure = reject;
    });
    // Nobody may be waiting on it (a numeric `parallel`): its rejection must not go unhandled.
    ready.catch(() => undefined);
    const worker: Worker = { child, pending: new Map(), exited: false, ready, onReady };
    let stderrTail = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      stderrTail = (stderrTail + text).slice(-2000);
      // llama.cpp's two harmless warnings on files that mark unused special tokens as unset.
      if (!/bad special token/.test(text)) process.stderr.write(text);
    });
    child.on("message", (message: WorkerMessage) => this.#onMessage(worker, message));
    // Every listener here closes over this child's own record: an old worker's exit never touches a new one's calls.
    child.on("exit", (code, signal) => {
      worker.exited = true;
      if (this.#worker === worker) this.#worker = undefined;
      const reason = signal ? `signal ${signal}` : `exit code ${code}`;
      const last = stderrTail.trim().split("\n").filter((line) => !/bad special token/.test(line)).pop();
      const said = last?.slice(0, 300) ?? "";
      const crash = () =>
        new ProjectLlmError(
          "worker-crashed",
          `the inference worker (pid ${child.pid}) stopped with ${reason}${said ? `: ${said}` : ""}; the next call starts a new one`,
          {
            details: {
              pid: child.pid,
              exitCode: code,
              signal,
              // The process id as text: it is a name, not a quantity to format.
              params: { reason: signal ? "signal" : "exit", pid: String(child.pid), ...(signal ? { signal } : { code: code ?? 0 }), output: said ? "yes" : "no", detail: said },
            },
          },
        );
      onFailure(crash());
      if (worker.pending.size === 0) return;
      this.#stats.workerCrashes++;
      for (const pending of worker.pending.values()) pending.reject(crash());
      worker.pending.clear();
    });
    child.on("error", (error) => {
      for (const pending of worker.pending.values()) {
        pending.reject(new ProjectLlmError("worker-crashed", `the inference worker failed: ${error.message}`, { details: { params: { reason: "failed", detail: error.message } } }));
      }
      worker.pending.clear();
    });
    if (this.#stats.workerStarts > 0) this.#stats.workerRestarts++;
    this.#stats.workerStarts++;
    this.#stats.workerPid = child.pid;
    this.#worker = worker;
    return worker;
  }

  #onMessage(worker: Worker, message: WorkerMessage): void {
    if (message.type === "ready") {
      this.#limit ??= message.parallel;
      this.#gpu = message.gpu;
      worker.onReady(message.parallel);
      return;
    }
    if (message.type === "pool") {
      worker.pool = message.status;
      return;
    }
    if (message.type === "estimates-changed") {
      this.#stats.estimatesChanged++;
      return;
    }
    const pending = worker.pending.get(message.id);
    if (!pending) return;
    switch (message.type) {
      case "text":
        pending.onText?.(message.text);
        return;
      case "load-progress":
        pending.onLoadProgress?.(message.progress);
        return;
      case "result":
        worker.pending.delete(message.id);
        worker.pool = message.status;
        this.#stats.generations++;
        if (message.result.load.loaded) this.#stats.modelLoads++;
        pending.resolve(message.result as never);
        return;
      case "reply":
        worker.pending.delete(message.id);
        pending.resolve(message.value as never);
        return;
      case "error":
        worker.pending.delete(message.id);
        // A call that failed may have loaded or unloaded a model: the next status is asked for.
        worker.pool = undefined;
        pending.reject(new ProjectLlmError(message.code, message.message, message.params ? { details: { params: message.params } } : undefined));
        return;
    }
  }

  #request<T>(message: Unnumbered<ParentMessage>, handlers: Partial<Pending> = {}): { id: number; worker: Worker; promise: Promise<T> } {
    const worker = this.#spawn();
    const id = this.#nextId++;
    const promise = new Promise<T>((resolve, reject) => {
      worker.pending.set(id, { resolve: resolve as (value: never) => void, reject, isGenerate: false, ...handlers });
    });
    worker.child.send({ ...message, id } as ParentMessage);
    return { id, worker, promise };
  }

  /** How many calls on one loaded model may run at once in one batch, beyond `parallel` (1: none). */
  #batchWidth(): number {
    if (this.#settings.batch === false || this.#gpu === undefined) return 1;
    return batchWidth({ configured: this.#settings.batch, gpu: this.#gpu });
  }

  /**
   * Whether a call may start now beyond the limit: every call running is on its model and fewer than its
   * batch width run, so it joins their batch rather than splitting the cores with another model.
   */
  #joinsBatch(key: string): boolean {
    const running = this.#runningByModel.get(key) ?? 0;
    const width = this.#batchWidth();
    return width > 1 && running > 0 && running === this.#running && running < width;
  }

  /**
   * Waits for a free generation slot; resolves to a release function. A slot is counted taken as soon as
   * it is given (before the caller resumes), so that a release sees the calls just started when it lets
   * the next waiting ones join their batch.
   */
  async #slot(request: GenerateRequest, signal: AbortSignal | undefined): Promise<() => void> {
    const limit = this.#limit ?? (await this.#spawn().ready);
    // Whether a call may join a batch depends on the worker's GPU (see `batchWidth`): known once it is up.
    if (this.#gpu === undefined && this.#settings.batch !== false) await this.#spawn().ready;
    // Aborted while the worker started: an abort listener added now would never fire.
    if (signal?.aborted) throw new ProjectLlmError("cancelled", "the generation was cancelled before it started");
    const key = batchKey(request);
    const take = () => {
      this.#running++;
      this.#runningByModel.set(key, (this.#runningByModel.get(key) ?? 0) + 1);
    };
    // A call joins a running batch only when no call on another model waits: else those would wait as
    // long as calls on this one kept coming.
    if (this.#running >= limit && !(this.#joinsBatch(key) && this.#queue.every((waiting) => waiting.key === key))) {
      await new Promise<void>((resolve, reject) => {
        const waiting: Waiting = {
          key,
          start: () => {
            signal?.removeEventListener("abort", onAbort);
            take();
            resolve();
          },
        };
        const onAbort = () => {
          this.#queue = this.#queue.filter((entry) => entry !== waiting);
          reject(new ProjectLlmError("cancelled", "the generation was cancelled while it waited for a free slot"));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#queue.push(waiting);
      });
    } else {
      take();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      const left = this.#runningByModel.get(key)! - 1;
      if (left === 0) this.#runningByModel.delete(key);
      else this.#runningByModel.set(key, left);
      // In their order: the next call when a slot is free, and the calls after it that join its batch (while
      // a batch still runs past the limit, only calls that join it).
      const free = () => this.#running < (this.#limit ?? 1);
      while (this.#queue.length > 0 && (free() || this.#joinsBatch(this.#queue[0]!.key))) this.#queue.shift()!.start();
    };
  }

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    const { signal } = options;
    const cancelled = () => new ProjectLlmError("cancelled", `the generation on ${request.model.name} was cancelled`, { details: { params: { model: request.model.name } } });
    if (signal?.aborted) throw cancelled();
    const release = await this.#slot(request, signal);
    let call: { id: number; worker: Worker; promise: Promise<GenerateResult> };
    try {
      call = this.#request<GenerateResult>(
        { type: "generate", request },
        { onText: options.onText, onLoadProgress: options.onLoadProgress, isGenerate: true },
      );
    } catch (error) {
      release();
      throw error;
    }
    const { id, worker, promise } = call;
    // The slot stays taken until the worker has really stopped the call (its reply or its exit),
    // even when the caller is answered at once on abort.
    promise.then(release, release);
    if (!signal) return promise;
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        const pending = worker.pending.get(id);
        if (pending) {
          pending.onText = undefined;
          pending.onLoadProgress = undefined;
        }
        if (!worker.exited && worker.child.connected) worker.child.send({ type: "cancel", id } satisfies ParentMessage);
        reject(cancelled());
      };
    });
    signal.addEventListener("abort", onAbort, { once: true });
    // Aborted between the slot and now: the listener above would never fire.
    if (signal.aborted) onAbort();
    try {
      return await Promise.race([promise, aborted]);
    } catch (error) {
      // A worker's own `cancelled` or a crash after the abort: the caller asked to stop, so it is a cancel.
      if (signal.aborted && !(ProjectLlmError.isInstance(error) && error.code === "cancelled")) throw cancelled();
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** GGUF facts and memory estimates of a file, at a context size. */
  async inspect(file: string, options: { contextSize: number; gpuLayers: "auto" | "max" | number; threads?: "auto" | number; batchSize?: number }): Promise<ModelFacts> {
    return this.#request<ModelFacts>({ type: "inspect", path: file, contextSize: options.contextSize, gpuLayers: options.gpuLayers, threads: options.threads ?? "auto", batchSize: options.batchSize }).promise;
  }

  /**
   * What the worker holds now (starts it when none runs). On a CPU, while no call runs, it is the pool
   * as the worker last said it (with each call's result and each idle unload): what the worker would
   * answer, without the round trip to it (a run's plan asks before each run).
   */
  async status(): Promise<WorkerStatus> {
    const worker = this.#worker;
    const known = worker && !worker.exited && this.#running === 0 ? worker.pool : undefined;
    if (known) return { ...known, loaded: known.loaded.map((entry) => ({ ...entry, load: { ...entry.load } })) };
    return this.#request<WorkerStatus>({ type: "status" }).promise;
  }

  /** The models loaded now, without starting a worker when none runs. */
  async loadedPaths(): Promise<string[]> {
    if (!this.#worker || this.#worker.exited) return [];
    return (await this.status()).loaded.map((entry) => entry.path);
  }

  /** Unloads one model (by path) or every model: an idle one now, a busy one once its calls end; resolves to the number of either. */
  async unload(file?: string): Promise<number> {
    if (!this.#worker || this.#worker.exited) return 0;
    const worker = this.#worker;
    worker.pool = undefined;
    // A result sent before the worker unloaded may come after the mirror was cleared: cleared again once done.
    return this.#request<number>({ type: "unload", path: file }).promise.finally(() => {
      worker.pool = undefined;
    });
  }

  stats(): RuntimeStats {
    return { ...this.#stats };
  }

  /** Stops the worker (a `shutdown` message, then SIGKILL after 3 s); calls in flight fail with `worker-crashed`. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    for (const waiting of this.#queue.splice(0)) waiting.start();
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker || worker.exited) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => worker.child.kill("SIGKILL"), 3000);
      worker.child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      if (worker.child.connected) {
        const id = this.#nextId++;
        worker.child.send({ type: "shutdown", id } satisfies ParentMessage, (error) => {
          if (error) worker.child.kill("SIGKILL");
        });
      } else {
        worker.child.kill("SIGKILL");
      }
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** Calls with the same key run on one loaded model (the worker's pool key, less the threads it resolves). */
function batchKey(request: GenerateRequest): string {
  const load = request.model.load;
  return JSON.stringify([request.model.path, load.context_size, load.gpu_layers, load.threads, load.batch_size ?? null]);
}

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(options);
}
