/**
 * llama.cpp's simulated allocation of a context (node-llama-cpp's `estimateContextResourceRequirementsV2`:
 * the model loaded without its weights, then the context made without its buffers), kept in a file from
 * one inference worker to the next. Each simulation takes a few milliseconds on a small model and more on
 * a large one, and the plan before a run waits for them: in a fresh worker they came after node-llama-cpp's
 * start, on the path to a cold run's first token (~10 ms of stories260K's; BENCHMARKS.md, "A cold run").
 * The result depends on the model file, the context's settings, the llama.cpp build and the GPUs it
 * sees, which the key names (see `contextEstimateKey`); a changed file (another size, time or inode),
 * build or device is another key. node-llama-cpp keeps such results in memory only, per `GgufInsights`,
 * so this is our own. It also keeps, per model file, what llama.cpp's CPU backend repacked of its weights
 * when the worker loaded it on this machine (see `repackKey`): that depends on the CPU, and no simulation
 * tells it.
 *
 * The file is JSON, at most `maxEntries` entries (the least recently used go first), written whole to a
 * temporary file and renamed (no fsync: a lost or torn file costs one more simulation, and a file that is
 * not what this module writes is ignored). Workers of several studios on one sessions folder merge their
 * entries into it. Its folder is made inside an existing one only: a plan made before any session is
 * stored leaves no sessions folder behind (its entries are kept for a later save).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tempFileFor } from "../common/durable-write.js";

export interface ContextEstimate {
  cpuRam: number;
  gpuVram: number;
}

/** Entries kept in the file: a few per model and context setting. */
export const maxEntries = 512;
/** A new entry is written this long after it was made, with any made meanwhile. */
const saveDelayMs = 50;
/** An entry read from the file has its time of use written again once it is this old (not at each use: each worker reads them). */
const refreshAfterMs = 24 * 60 * 60 * 1000;
/**
 * Names the simulation's own settings in each key: the worker simulates every context with
 * node-llama-cpp's defaults (flash attention `auto`, F16 caches, no full SWA cache, the default mmap). A
 * change of those settings changes this, so that no entry made with the old ones is taken.
 */
const simulationSettings = "defaults-1";

interface Entry extends ContextEstimate {
  /** When it was last used (ms since the epoch): the least recently used go first. */
  usedAt: number;
}

const isSize = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value) && value >= 0;

/** The entries of the file's text; none when it is not what `save` writes. */
function parse(text: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return entries;
  }
  if (typeof data !== "object" || data === null || (data as { version?: unknown }).version !== 1) return entries;
  const stored = (data as { entries?: unknown }).entries;
  if (typeof stored !== "object" || stored === null) return entries;
  for (const [key, value] of Object.entries(stored)) {
    if (!Array.isArray(value) || value.length !== 3 || !value.every(isSize)) continue;
    const [cpuRam, gpuVram, usedAt] = value as [number, number, number];
    entries.set(key, { cpuRam, gpuVram, usedAt });
  }
  return entries;
}

function readEntries(file: string): Map<string, Entry> {
  try {
    return parse(readFileSync(file, "utf8"));
  } catch {
    return new Map();
  }
}

/**
 * The key of a context's estimate: the llama.cpp build (`runtime`: its GPU backend, build and release,
 * node-llama-cpp's version), the file as found on disk, and the context's settings.
 */
export function contextEstimateKey(runtime: unknown, file: unknown, context: { contextSize: number; gpuLayers: number; batchSize?: number; sequences: number }): string {
  return JSON.stringify([simulationSettings, runtime, file, context.contextSize, context.gpuLayers, context.batchSize ?? null, context.sequences]);
}

/**
 * The key of what the CPU backend repacked of a model file's weights as it loaded them on the CPU alone
 * (kept as `cpuRam`): the build and the CPU (`runtime`, which kernels it has and picks), and the file.
 */
export function repackKey(runtime: unknown, file: unknown): string {
  return JSON.stringify(["repacked", runtime, file]);
}

export class ContextEstimateCache {
  readonly #file: string | undefined;
  readonly #entries: Map<string, Entry>;
  /** Keys made since the last save, and those used whose time of use in the file is old (see `refreshAfterMs`). */
  readonly #changed = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  /** A failed save has been told (once: the next ones would say the same). */
  #told = false;

  /** `file`: where the entries are kept; undefined keeps them in memory only. Read once, here. */
  constructor(file: string | undefined) {
    this.#file = file;
    this.#entries = file === undefined ? new Map() : readEntries(file);
  }

  get(key: string): ContextEstimate | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const now = Date.now();
    if (now - entry.usedAt > refreshAfterMs) this.#changed.add(key);
    entry.usedAt = now;
    if (this.#changed.size > 0) this.#saveSoon();
    return { cpuRam: entry.cpuRam, gpuVram: entry.gpuVram };
  }

  set(key: string, estimate: ContextEstimate): void {
    if (!isSize(estimate.cpuRam) || !isSize(estimate.gpuVram)) return;
    this.#entries.set(key, { cpuRam: estimate.cpuRam, gpuVram: estimate.gpuVram, usedAt: Date.now() });
    this.#changed.add(key);
    this.#saveSoon();
  }

  #saveSoon(): void {
    if (this.#file === undefined || this.#timer) return;
    this.#timer = setTimeout(() => this.save(), saveDelayMs);
    // A pending save never keeps the worker alive: `save` is called again as it exits (see worker.ts).
    this.#timer.unref();
  }

  /**
   * Writes the new entries into the file now, merged with what other workers wrote there meanwhile.
   * Synchronous, so that it can be called as the process exits; a failure is said once on stderr and
   * costs the next worker its simulations, nothing else.
   */
  save(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const file = this.#file;
    if (file === undefined || this.#changed.size === 0) return;
    const folder = path.dirname(file);
    try {
      mkdirSync(folder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException)?.code;
      // The folder above is not there (no session stored yet): the entries wait for a later save.
      if (code === "ENOENT") return;
      if (code !== "EEXIST") return this.#failed(error);
    }
    const merged = readEntries(file);
    for (const key of this.#changed) merged.set(key, this.#entries.get(key)!);
    const kept = [...merged].sort((a, b) => b[1].usedAt - a[1].usedAt).slice(0, maxEntries);
    const text = JSON.stringify({ version: 1, entries: Object.fromEntries(kept.map(([key, entry]) => [key, [entry.cpuRam, entry.gpuVram, entry.usedAt]])) });
    const temp = tempFileFor(file);
    try {
      writeFileSync(temp, text, { encoding: "utf8", mode: 0o600 });
      renameSync(temp, file);
      this.#changed.clear();
    } catch (error) {
      try {
        rmSync(temp, { force: true });
      } catch {
        // The write's own error is the one to tell.
      }
      this.#failed(error);
    }
  }

  /** A save that failed: said once (the next ones would say the same); its entries are tried again with the next. */
  #failed(error: unknown): void {
    if (!this.#told) process.stderr.write(`inference worker: the memory estimates were not kept in ${this.#file} (${(error as Error)?.message ?? String(error)})\n`);
    this.#told = true;
  }
}
