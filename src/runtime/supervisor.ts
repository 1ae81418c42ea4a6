/**
 * The supervisor: the parent's side of the inference worker. It implements the engine's InferencePort,
 * forks the worker lazily, queues calls beyond the worker's parallelism, and when the worker dies
 * (a native abort, a kill) fails the calls in flight with `worker-crashed` and forks a fresh one for the
 * next call.
 */
import { fork, type ChildProcess } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { ProjectLlmError } from "../common/index.js";
import type { GenerateOptions, GenerateRequest, GenerateResult, InferencePort } from "../engine/index.js";
import type { ModelFacts, ParentMessage, WorkerMessage, WorkerSettings, WorkerStatus } from "./protocol.js";

export interface RuntimeOptions {
  /** The compiled worker; default `dist/runtime/worker.js` under `cwd`. */
  workerPath?: string;
  cwd?: string;
  gpu?: WorkerSettings["gpu"];
  maxLoadedModels?: number;
  idleUnloadSeconds?: number;
  /** Generations at once; `auto` is 1 (a CPU shares its cores better one at a time). */
  parallel?: "auto" | number;
  /** RAM the loaded models may take together, by node-llama-cpp's estimates; default 80% of the total. */
  memoryBudgetBytes?: number;
}

export interface RuntimeStats {
  /** Models loaded by workers since this runtime started (all workers together). */
  modelLoads: number;
  generations: number;
  workerStarts: number;
  workerCrashes: number;
  workerPid?: number;
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

interface Worker {
  child: ChildProcess;
  pending: Map<number, Pending>;
  exited: boolean;
}

export class Runtime implements InferencePort {
  readonly #options: RuntimeOptions;
  readonly #settings: WorkerSettings;
  #worker: Worker | undefined;
  #nextId = 1;
  #running = 0;
  #queue: Array<() => void> = [];
  #disposed = false;
  #stats: RuntimeStats = { modelLoads: 0, generations: 0, workerStarts: 0, workerCrashes: 0 };

  constructor(options: RuntimeOptions = {}) {
    this.#options = options;
    this.#settings = {
      gpu: options.gpu ?? "auto",
      maxLoadedModels: options.maxLoadedModels ?? 4,
      idleUnloadSeconds: options.idleUnloadSeconds ?? 600,
      parallel: options.parallel === undefined || options.parallel === "auto" ? 1 : options.parallel,
      memoryBudgetBytes: options.memoryBudgetBytes ?? os.totalmem() * 0.8,
    };
  }

  get parallel(): number {
    return this.#settings.parallel;
  }

  #spawn(): Worker {
    if (this.#disposed) throw new ProjectLlmError("internal", "the inference runtime has been disposed");
    if (this.#worker && !this.#worker.exited) return this.#worker;
    const workerPath = this.#options.workerPath ?? path.join(/*turbopackIgnore: true*/ this.#options.cwd ?? process.cwd(), "dist", "runtime", "worker.js");
    const child = fork(workerPath, [], {
      // Next.js dev sets NODE_OPTIONS and execArgv that a plain Node worker must not inherit.
      execArgv: [],
      env: { ...process.env, NODE_OPTIONS: "", PROJECT_LLM_WORKER_SETTINGS: JSON.stringify(this.#settings) },
      stdio: ["ignore", "inherit", "pipe", "ipc"],
      serialization: "advanced",
    });
    const worker: Worker = { child, pending: new Map(), exited: false };
    let stderrTail = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      stderrTail = (stderrTail + text).slice(-2000);
      // llama.cpp's two harmless warnings on files that mark unused special tokens as unset.
      if (!/bad special token/.test(text)) process.stderr.write(text);
    });
    child.on("message", (message: WorkerMessage) => this.#onMessage(worker, message));
    child.on("exit", (code, signal) => {
      worker.exited = true;
      if (this.#worker === worker) this.#worker = undefined;
      if (worker.pending.size === 0) return;
      this.#stats.workerCrashes++;
      const reason = signal ? `signal ${signal}` : `exit code ${code}`;
      const last = stderrTail.trim().split("\n").filter((line) => !/bad special token/.test(line)).pop();
      for (const pending of worker.pending.values()) {
        pending.reject(
          new ProjectLlmError("worker-crashed", `the inference worker stopped (${reason})${last ? `: ${last.slice(0, 300)}` : ""}; it restarts on the next run`),
        );
      }
      worker.pending.clear();
    });
    child.on("error", (error) => {
      for (const pending of worker.pending.values()) pending.reject(new ProjectLlmError("worker-crashed", `the inference worker failed: ${error.message}`));
      worker.pending.clear();
    });
    this.#stats.workerStarts++;
    this.#stats.workerPid = child.pid;
    this.#worker = worker;
    return worker;
  }

  #onMessage(worker: Worker, message: WorkerMessage): void {
    if (message.type === "ready") return;
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
        pending.reject(new ProjectLlmError(message.code, message.message));
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

  /** Waits for a free generation slot; resolves to a release function. */
  async #slot(signal: AbortSignal | undefined): Promise<() => void> {
    if (this.#running >= this.#settings.parallel) {
      await new Promise<void>((resolve, reject) => {
        const start = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          this.#queue = this.#queue.filter((entry) => entry !== start);
          reject(new ProjectLlmError("cancelled", "cancelled"));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#queue.push(start);
      });
    }
    this.#running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      this.#queue.shift()?.();
    };
  }

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    const { signal } = options;
    if (signal?.aborted) throw new ProjectLlmError("cancelled", "cancelled");
    const release = await this.#slot(signal);
    try {
      const { id, worker, promise } = this.#request<GenerateResult>(
        { type: "generate", request },
        { onText: options.onText, onLoadProgress: options.onLoadProgress, isGenerate: true },
      );
      const onAbort = () => {
        if (!worker.exited) worker.child.send({ type: "cancel", id } satisfies ParentMessage);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        return await promise;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    } finally {
      release();
    }
  }

  /** GGUF facts and memory estimates of a file, at a context size. */
  async inspect(file: string, options: { contextSize: number; gpuLayers: "auto" | "max" | number; threads: "auto" | number }): Promise<ModelFacts> {
    return this.#request<ModelFacts>({ type: "inspect", path: file, ...options }).promise;
  }

  /** What the worker holds now (starts it when none runs). */
  async status(): Promise<WorkerStatus> {
    return this.#request<WorkerStatus>({ type: "status" }).promise;
  }

  /** The models loaded now, without starting a worker when none runs. */
  async loadedPaths(): Promise<string[]> {
    if (!this.#worker || this.#worker.exited) return [];
    return (await this.status()).loaded.map((entry) => entry.path);
  }

  /** Unloads one model (by path) or every idle model; resolves to the number unloaded. */
  async unload(file?: string): Promise<number> {
    if (!this.#worker || this.#worker.exited) return 0;
    return this.#request<number>({ type: "unload", path: file }).promise;
  }

  stats(): RuntimeStats {
    return { ...this.#stats };
  }

  /** Stops the worker; calls in flight fail with `worker-crashed`. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker || worker.exited) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => worker.child.kill("SIGKILL"), 3000);
      worker.child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      worker.child.disconnect();
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(options);
}
