/**
 * The supervisor: the parent's side of the inference worker. It implements the engine's InferencePort,
 * forks the worker lazily, queues calls beyond the worker's parallelism, and when the worker dies
 * (a native abort, a kill) fails the calls in flight with `worker-crashed` and forks a fresh one for the
 * next call.
 */
import type { ChildProcess } from "node:child_process";
import { statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ProjectLlmError } from "../common/index.js";
import type { GenerateOptions, GenerateRequest, GenerateResult, InferencePort } from "../engine/index.js";
import type { ModelFacts, ParentMessage, WorkerMessage, WorkerSettings, WorkerStatus } from "./protocol.js";
import { BatchChooser, type BatchFigures, type BatchWay } from "./batch-choice.js";
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
   * of them runs may join it, up to `batchWidth`, and decode in one batch; a multi stage's calls
   * (`GenerateRequest.group`) do so where batching measured faster for their model than one at a time
   * (see batch-choice.ts); `false`: never beyond `parallel`; a number: that many on any model.
   */
  batch?: "auto" | false | number;
  /** RAM the loaded models may take together, by node-llama-cpp's estimates; default 80% of the total. */
  memoryBudgetBytes?: number;
  /** `false`: the worker never holds itself to one core (see cpu-placement.ts); default true. */
  cpuAffinity?: boolean;
  /** Where the worker keeps llama.cpp's simulated contexts for the next one (see estimate-cache.ts); unset: not kept. */
  estimatesFile?: string;
  /** Where `batch: auto` keeps what batching and one call at a time measured on each model (see batch-choice.ts); unset: in memory only. */
  batchFile?: string;
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

/** A call waiting for a slot: its model's batch key, whether it may join a batch on it, and how to let it go. */
interface Waiting {
  key: string;
  mayJoin: boolean;
  start: () => void;
}

/**
 * The calls of one multi stage on one loaded model (`GenerateRequest.group`) where `batch: auto` chooses
 * between a batch and one at a time by measurement (see batch-choice.ts): the way chosen for them, and
 * their tokens out over the time from the first one's start to the last one's end.
 */
interface Group {
  key: string;
  /** What the choice is kept under (see `choiceKey`). */
  choiceKey: string;
  way: BatchWay;
  /** Calls of the group not ended yet, and those of them running. */
  left: number;
  running: number;
  tokens: number;
  startedAt?: number;
  /**
   * False once a call failed or waited for a load, or another call on the model (another multi stage's,
   * a lone one) ran during the group: its time then says nothing about the way.
   */
  counts: boolean;
}

/** Groups followed at most: a group whose calls never all came (a model the engine could not resolve) goes once past it. */
const maxGroups = 256;

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
  /** The groups whose calls are going, by `GenerateRequest.group`. */
  #groups = new Map<string, Group>();
  readonly #batchChooser: BatchChooser;
  /**
   * The loaded models (batch keys) that have decoded a batch since they were loaded. A model's first batch
   * costs more than the next ones (measured: a 27M model's first group 0.6x of the next), which would
   * count against batching for good: it is not recorded.
   */
  #batchedBefore = new Set<string>();
  /** Calls running `alone` (see `#groupOf`) by their model's batch key: no other call joins them. */
  #aloneByModel = new Map<string, number>();
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
    this.#batchChooser = new BatchChooser(options.batchFile);
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
    this.#batchedBefore.clear();
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
   * batch width run, so it joins their batch rather than splitting the cores with another model. (A call of
   * a group that runs one at a time never joins: see `#groupOf`.)
   */
  #joinsBatch(key: string): boolean {
    if (this.#aloneByModel.has(key)) return false;
    const running = this.#runningByModel.get(key) ?? 0;
    const width = this.#batchWidth();
    return width > 1 && running > 0 && running === this.#running && running < width;
  }

  /**
   * The group a call belongs to where `batch: auto` measures the two ways (on a CPU, a multi stage's calls
   * on one loaded model: see batch-choice.ts); its first call chooses the way for all of them. Undefined
   * for any other call, and where the config fixes the way (`batch: false` or a width) or a GPU batches.
   */
  #groupOf(request: GenerateRequest, key: string, limit: number): Group | undefined {
    const together = request.together ?? 1;
    // With more than one generation at once (`parallel` set above 1 on a CPU) calls made one at a time would
    // not be: the way is not measured there.
    if (request.group === undefined || together <= 1 || this.#settings.batch !== "auto" || this.#gpu !== false || limit !== 1 || this.#batchWidth() <= 1) return undefined;
    let group = this.#groups.get(request.group);
    if (!group) {
      const kept = choiceKey(request, key);
      group = { key, choiceKey: kept, way: this.#batchChooser.choose(kept), left: together, running: 0, tokens: 0, counts: true };
      this.#groups.set(request.group, group);
      if (this.#groups.size > maxGroups) this.#groups.delete(this.#groups.keys().next().value!);
    }
    return group;
  }

  /**
   * A call of a group has ended (`result` undefined: it failed or was cancelled); the last one records the
   * group's rate. A call that waited for its model to load (its own load, or another call's) spoils it.
   */
  #groupCallEnded(id: string, group: Group, result: GenerateResult | undefined): void {
    group.left--;
    if (!result || result.load.loaded || result.load.loadMs > 0) group.counts = false;
    else group.tokens += result.tokensOut;
    if (group.left > 0) return;
    this.#groups.delete(id);
    // A model's first batch since its load, counted or not, is the one not measured.
    if (group.way === "batched" && !this.#batchedBefore.has(group.key)) {
      this.#batchedBefore.add(group.key);
      return;
    }
    if (group.counts && group.startedAt !== undefined) this.#batchChooser.record(group.choiceKey, group.way, (group.tokens / (performance.now() - group.startedAt)) * 1000);
  }

  /** What `batch: auto` measured on a loaded model (`request`: a call on it), and the way its next multi stage would take. */
  batchFigures(request: Pick<GenerateRequest, "model">): BatchFigures {
    return this.#batchChooser.figures(choiceKey(request, batchKey(request)));
  }

  /**
   * Waits for a free generation slot; resolves to a release function and the call's group (see
   * `#groupOf`). A slot is counted taken as soon as it is given (before the caller resumes), so that a
   * release sees the calls just started when it lets the next waiting ones join their batch.
   */
  async #slot(request: GenerateRequest, signal: AbortSignal | undefined): Promise<{ release: () => void; group?: Group }> {
    const limit = this.#limit ?? (await this.#spawn().ready);
    // Whether a call may join a batch depends on the worker's GPU (see `batchWidth`): known once it is up.
    if (this.#gpu === undefined && this.#settings.batch !== false) await this.#spawn().ready;
    // Aborted while the worker started: an abort listener added now would never fire.
    if (signal?.aborted) throw new ProjectLlmError("cancelled", "the generation was cancelled before it started");
    const key = batchKey(request);
    const group = this.#groupOf(request, key, limit);
    const mayJoin = group?.way !== "one-at-a-time";
    const take = () => {
      // Calls on this model overlapping a group spoil its time (and it theirs).
      if (group && (this.#runningByModel.get(key) ?? 0) > group.running) group.counts = false;
      for (const other of this.#groups.values()) if (other !== group && other.key === key && other.startedAt !== undefined) other.counts = false;
      this.#running++;
      this.#runningByModel.set(key, (this.#runningByModel.get(key) ?? 0) + 1);
      if (!mayJoin) this.#aloneByModel.set(key, (this.#aloneByModel.get(key) ?? 0) + 1);
      if (group) {
        group.running++;
        group.startedAt ??= performance.now();
      }
    };
    // A call joins a running batch only when no call on another model waits: else those would wait as
    // long as calls on this one kept coming.
    if (this.#running >= limit && !(mayJoin && this.#joinsBatch(key) && this.#queue.every((waiting) => waiting.key === key))) {
      await new Promise<void>((resolve, reject) => {
        const waiting: Waiting = {
          key,
          mayJoin,
          start: () => {
            signal?.removeEventListener("abort", onAbort);
            take();
            resolve();
          },
        };
        const onAbort = () => {
          this.#queue = this.#queue.filter((entry) => entry !== waiting);
          if (group) this.#groupCallEnded(request.group!, group, undefined);
          reject(new ProjectLlmError("cancelled", "the generation was cancelled while it waited for a free slot"));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#queue.push(waiting);
      });
    } else {
      take();
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#running--;
      const left = this.#runningByModel.get(key)! - 1;
      if (left === 0) this.#runningByModel.delete(key);
      else this.#runningByModel.set(key, left);
      if (!mayJoin) {
        const alone = this.#aloneByModel.get(key)! - 1;
        if (alone === 0) this.#aloneByModel.delete(key);
        else this.#aloneByModel.set(key, alone);
      }
      if (group) group.running--;
      // In their order: the next call when a slot is free, and the calls after it that join its batch (while
      // a batch still runs past the limit, only calls that join it).
      const free = () => this.#running < (this.#limit ?? 1);
      while (this.#queue.length > 0 && (free() || (this.#queue[0]!.mayJoin && this.#joinsBatch(this.#queue[0]!.key)))) this.#queue.shift()!.start();
    };
    return group ? { release, group } : { release };
  }

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    const { signal } = options;
    const cancelled = () => new ProjectLlmError("cancelled", `the generation on ${request.model.name} was cancelled`, { details: { params: { model: request.model.name } } });
    if (signal?.aborted) throw cancelled();
    const { release, group } = await this.#slot(request, signal);
    // The worker needs neither the group nor, for calls made one at a time, that they come together (it
    // would keep them to the sequences of its batch context): they take sequences as where calls never batch.
    const { group: groupId, together, ...rest } = request;
    const alone = group?.way === "one-at-a-time";
    const sent: GenerateRequest = alone || together === undefined ? rest : { ...rest, together };
    let call: { id: number; worker: Worker; promise: Promise<GenerateResult> };
    try {
      call = this.#request<GenerateResult>({ type: "generate", request: sent, ...(alone ? { alone } : {}) }, { onText: options.onText, onLoadProgress: options.onLoadProgress, isGenerate: true });
    } catch (error) {
      release();
      if (group) this.#groupCallEnded(groupId!, group, undefined);
      throw error;
    }
    const { id, worker, promise } = call;
    // The slot stays taken until the worker has really stopped the call (its reply or its exit),
    // even when the caller is answered at once on abort.
    promise.then(release, release);
    // A model (re)loaded: its next batch is a first one again (see `#batchedBefore`).
    promise.then((result) => result.load.loaded && this.#batchedBefore.delete(batchKey(request)), () => undefined);
    if (group) promise.then((result) => this.#groupCallEnded(groupId!, group, result), () => this.#groupCallEnded(groupId!, group, undefined));
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
    this.#batchChooser.flush();
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
function batchKey(request: Pick<GenerateRequest, "model">): string {
  const load = request.model.load;
  return JSON.stringify([request.model.path, load.context_size, load.gpu_layers, load.threads, load.batch_size ?? null]);
}

/**
 * What `batch: auto`'s figures for a loaded model are kept under, in a file that outlives the process: its
 * batch key, the file as found on disk (a file replaced under the same name is another), and the CPU (a
 * sessions folder moved to another machine measures again).
 */
function choiceKey(request: Pick<GenerateRequest, "model">, key: string): string {
  let file: [number, number] | null = null;
  try {
    const stats = statSync(request.model.path);
    file = [stats.size, Math.round(stats.mtimeMs)];
  } catch {
    // Gone: the call says so.
  }
  cpuModel ??= os.cpus()[0]?.model ?? "unknown";
  return JSON.stringify([key, file, os.arch(), cpuModel]);
}

/** The CPU's model name, read once (`os.cpus()` reads the system's tables at each call). */
let cpuModel: string | undefined;

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(options);
}
