/**
 * The inference worker: a child process that owns node-llama-cpp, so that a native abort inside
 * llama.cpp (out of memory, an assertion on a bad file) ends this process and not the server or the CLI.
 * It keeps a warm pool of loaded models, each with a context that is reused across calls.
 */
// First: it takes the parent's messages while the rest loads.
import { handleMessages, workerSettings } from "./worker-inbox.js";
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import os from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { ChatHistoryItem, ChatWrapper, GgufInsights, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type { ErrorCode, ErrorParams } from "../common/index.js";
import type { GenerateRequest, GenerateResult } from "../engine/index.js";
import type { ModelFacts, ParentMessage, WorkerMessage, WorkerStatus } from "./protocol.js";
import { isOutOfMemory, loadWithFallback } from "./gpu-fallback.js";
import { cpuFlags, estimateResident, heuristicContext, repackedBytes, repackedMeasured, repackedTypesHere, repackRuleRelease, simulateContext, type ResidentEstimate } from "./memory-estimate.js";
import { contextEstimateKey, ContextEstimateCache, repackKey } from "./estimate-cache.js";
import { historyTranscript } from "./conversation.js";
import { samplingOptions } from "./sampling.js";
import { systemMemory } from "./system-memory.js";
import { batchWidth, chooseThreads, resolveParallel } from "./threads.js";
import { allowedCpus, chooseCpu, CpuPlacement, currentCpu } from "./cpu-placement.js";
import { lightenFirstGgufRead } from "./gguf-read.js";
import { llamaImports } from "./llama-imports.js";

// Only the parts of node-llama-cpp used here (see llama-imports.ts); its reader patched before any model
// file is read (see gguf-read.ts).
const [{ getLlama, getModuleVersion, GgufInsights: GgufInsightsClass, GgufFileType, GgmlType, LlamaChat, LlamaCompletion, LlamaLogLevel, readGgufFileInfo, resolveChatWrapper }] = await Promise.all([
  llamaImports("getLlama", "getModuleVersion", "GgufInsights", "GgufFileType", "GgmlType", "LlamaChat", "LlamaCompletion", "LlamaLogLevel", "readGgufFileInfo", "resolveChatWrapper"),
  lightenFirstGgufRead(),
]);

const settings = await workerSettings();
/**
 * The cores and CPUs this process may use, read before it holds itself to one (see cpu-placement.ts): the
 * thread counts `auto` chooses are the machine's, not those of the one core a small model's worker keeps to.
 */
const cores = os.availableParallelism();
const cpus = new CpuPlacement(allowedCpus());
/**
 * Text is sent to the parent in batches at most this far apart (the first text at once): one message per
 * token cost ~10% of a small model's decode on two cores, one per 5 ms 3-10%, one per 20 ms 2-3% more
 * than one per 50 ms (BENCHMARKS.md, pipelines against a direct script: each message wakes the studio,
 * whose work slows the decode on the other core). Fifty milliseconds is twenty updates a second, smooth
 * for reading; a model slower than twenty tokens a second sends each token as it comes.
 */
const flushIntervalMs = 50;

/** Sequences each loaded model keeps for prompt prefix reuse, memory allowing (see `chooseSequences`). */
const keptSequences = 4;

/**
 * Loads whose sequences hold up to this many tokens in all have the estimate with their extra sequences
 * started beside the load's own (see `chooseSequences`): llama.cpp's simulation of such a context takes a
 * few milliseconds (32,768 tokens in each of four sequences).
 */
const speculatedTokens = 4 * 32_768;

/** How long the worker is idle (no call, no load) before a loaded model's extra context is made (see `PoolEntry.extra`). */
const extraIdleMs = 100;

/** An error this worker means to report: its code, its English message and the values that message names. */
class WorkerError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly params: ErrorParams,
  ) {
    super(message);
  }
}

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/** A sequence of a pool entry's contexts, kept between calls with the tokens it holds in the KV cache. */
interface KeptSequence {
  sequence: LlamaContextSequence;
  /** Whether it is one of the extra context's (see `PoolEntry.extra`). */
  extra: boolean;
  busy: boolean;
  lastUsedAt: number;
  /** How many of the tokens it holds were the last call's prompt (the rest are its answer). */
  promptTokens: number;
}

interface PoolEntry {
  key: string;
  path: string;
  model: LlamaModel;
  /** The context made with the load: `parallel` sequences. */
  context: LlamaContext;
  /**
   * The context of the sequences beyond `parallel` (kept ones and a batch's, see `chooseSequences`), made
   * after the load, never before the first call: its KV caches are cleared at creation (~0.35 ms a MiB
   * here: 285 ms for the 400M model's four). It is made while the first call runs when the call's run may
   * call the model several times at once (`GenerateRequest.runTogether`: a multi stage's batch or its
   * sequences, or stages running side by side, then need it, and it is ready for them); else once the
   * worker has had no call and no load for `extraIdleMs` (see `makeExtraWhenIdle`), or when a call first
   * wants it, whichever comes first: made beside a cold run's calls it took their memory bandwidth and the
   * other core (the 27M chain's cold run ~30 ms slower, 3%). A call that wants it waits for it either way,
   * so which sequence a call takes never depends on when it is made.
   * `extra()` starts it when it has not been started, and settles to undefined when there is none (or it
   * could not be made).
   */
  extra: () => Promise<LlamaContext | undefined>;
  /** The extra context's creation, once started. */
  extraStarted?: Promise<LlamaContext | undefined>;
  /** The idle wait after which it is made (see `extra`). */
  extraTimer?: NodeJS.Timeout;
  /** The extra context once made; `extraPending` until then (also before it is started). */
  extraMade?: LlamaContext;
  extraPending: boolean;
  /** Unloaded: the extra context is no longer started. */
  unloaded?: boolean;
  /**
   * The sequences taken so far from both contexts, kept after each call so that a later call whose prompt
   * starts with the same tokens evaluates only the rest (see `takeSequence`).
   */
  sequences: KeptSequence[];
  /** Calls waiting for a sequence to be released (more calls than sequences: see `load`). */
  sequenceWaiters: Array<() => void>;
  contextSize: number;
  /** The load as configured (see `WorkerStatus`'s `load`). */
  load: { contextSize: number; gpuLayers: "auto" | "max" | number; batchSize?: number };
  threads: number;
  /** The file's size: its weights' bytes, near enough (see `chooseCpu`). */
  weightBytes: number;
  gpuLayers: number;
  lastUsedAt: number;
  busy: number;
  /**
   * Asked to unload while calls ran on it: it goes when the last of them ends (a call that comes before
   * then still finds it, and holds it as long as it runs).
   */
  unloadWhenIdle?: boolean;
  /** The chat wrapper of a model with a chat template (from its template: resolved once, at the load); a model without one is prompted as plain text. */
  chatWrapper?: ChatWrapper;
  /** node-llama-cpp's estimate of the RAM this model and its context take. */
  memoryBytes: number;
  /** The VRAM its layers and context on the GPU take, by the same estimate (0 on a CPU). */
  vramBytes: number;
  fallback?: string;
}

let llamaPromise: Promise<Llama> | undefined;
/** node-llama-cpp once started. */
let loadedLlama: Llama | undefined;
const pool = new Map<string, PoolEntry>();
/** Loads under way, by pool key, with the model file each loads. */
const loading = new Map<string, { path: string; entry: Promise<PoolEntry>; threads: number; weightBytes: number }>();
/** Loads under way that an unload asked for: the model goes once the calls that wait for it end. */
const unloadOnceLoaded = new Set<string>();
const calls = new Map<number, AbortController>();
let modelLoads = 0;
let generations = 0;
/** Generations at once, resolved from the settings once the GPU (or its absence) is known. */
let parallel = 1;

function llama(): Promise<Llama> {
  // `build: "never"`: never try to download and compile llama.cpp; the prebuilt binaries are used.
  llamaPromise ??= getLlama({ gpu: settings.gpu ?? "auto", build: "never", logLevel: LlamaLogLevel.error }).then((instance) => {
    parallel = resolveParallel(settings.parallel ?? "auto", instance.gpu);
    loadedLlama = instance;
    return instance;
  });
  return llamaPromise;
}

/**
 * A file as the caches below know it: as `fileMemo` has it, a file replaced by one of the same size and
 * time (`cp -p`) is another inode or change time.
 */
function fileIdentity(path: string): string {
  const file = statSync(path);
  return JSON.stringify([path, file.dev, file.ino, file.size, file.mtimeMs, file.ctimeMs]);
}

/** Each file's insights, by the file's identity: a run's plan and its load read a file once. */
const insightsByFile = new Map<string, Promise<GgufInsights>>();

/**
 * The file's GGUF facts; a file that is not a readable GGUF fails here, before llama.cpp touches it. Its
 * header is read while node-llama-cpp may still be starting (`instance` pending: ~0.4 s in a fresh worker,
 * which a cold run's plan waits for), as the insights need both.
 */
function readInsights(instance: Llama | Promise<Llama>, path: string): Promise<GgufInsights> {
  let key: string | undefined;
  try {
    key = fileIdentity(path);
  } catch {
    // Not cached: the read below fails with what is wrong.
  }
  let insights = key === undefined ? undefined : insightsByFile.get(key);
  if (!insights) {
    const info = readGgufFileInfo(path, { logWarnings: false }).catch((error: unknown) => {
      const detail = (error as Error)?.message ?? String(error);
      throw new WorkerError("model-load-failed", `cannot read ${path} as a GGUF model (${detail}): check that the file is a complete .gguf model`, { reason: "unreadable", path, detail });
    });
    insights = Promise.all([info, instance]).then(([read, llama]) => GgufInsightsClass.from(read, llama));
    if (key !== undefined) {
      // A file's insights hold its whole vocabulary: a few files' worth at most.
      if (insightsByFile.size >= 8) insightsByFile.clear();
      const cached = key;
      insightsByFile.set(cached, insights);
      insights.catch(() => insightsByFile.delete(cached));
    }
  }
  return insights;
}

function poolKey(request: GenerateRequest, threads: number): string {
  const load = request.model.load;
  return JSON.stringify([request.model.path, load.context_size, load.gpu_layers, threads, load.batch_size ?? null]);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    throw new WorkerError("model-missing", `model file ${path} is missing`, { reason: "file", path });
  }
}

/** Models out of the pool whose memory is still being freed: a load waits for them before it counts what is free. */
const freeing = new Set<Promise<void>>();

/** The wanted placement of the worker's threads for the models loaded and loading (see cpu-placement.ts). */
function wantedCpu(): number | undefined {
  const gpu = loadedLlama?.gpu;
  if (gpu === undefined) return undefined;
  const models = [...pool.values(), ...loading.values()].map(({ threads, weightBytes }) => ({ threads, weightBytes }));
  const facts = { allowed: cpus.allowed, models, parallel, gpu, enabled: settings.cpuAffinity !== false };
  // The CPU it is on is read (a file of /proc) only where it would be held to one.
  if (chooseCpu(facts) === undefined) return undefined;
  return chooseCpu(facts, cpus.current ?? currentCpu());
}

const workerBusy = () => loading.size > 0 || [...pool.values()].some((entry) => entry.busy > 0);
let placeTimer: NodeJS.Timeout | undefined;

/**
 * Holds the worker to one core, or lets it go (see cpu-placement.ts). Letting go is at once (a load with
 * more threads must have the cores as it starts). Holding waits until the worker has had no call and no
 * load for `extraIdleMs` (each call's end starts the wait again; a timer that finds a call or a load under
 * way does nothing, and that one's end starts it again): the `taskset` process (10-18 ms here) and the
 * move then never come between the back-to-back calls of a run, nor in a cold run, whose load and calls
 * (and a model's extra context made beside them) keep the cores they had; the runs after it have the one
 * core (a call that comes while the `taskset` runs waits for nothing, but shares its core with it).
 */
function placeThreads(): void {
  const cpu = wantedCpu();
  if (placeTimer) clearTimeout(placeTimer);
  placeTimer = undefined;
  if (cpu === undefined || cpu === cpus.current) return cpus.place(cpu);
  placeTimer = setTimeout(() => {
    placeTimer = undefined;
    if (!workerBusy()) cpus.place(wantedCpu());
  }, extraIdleMs);
  placeTimer.unref();
}

function unloadEntry(entry: PoolEntry): Promise<void> {
  unloadsStarted++;
  pool.delete(entry.key);
  placeThreads();
  entry.unloaded = true;
  if (entry.extraTimer) clearTimeout(entry.extraTimer);
  const done = (async () => {
    await (await entry.extraStarted)?.dispose();
    await entry.context.dispose();
    await entry.model.dispose();
  })();
  freeing.add(done);
  done.then(
    () => freeing.delete(done),
    () => freeing.delete(done),
  );
  return done;
}

/**
 * Makes room for a model that needs `incomingBytes`: least recently used idle models go first, until at
 * most `maxLoadedModels - 1` stay loaded and the estimates fit in the memory budget with the new one.
 */
async function evict(incomingBytes: number): Promise<void> {
  const idle = [...pool.values()].filter((entry) => entry.busy === 0).sort((a, b) => a.lastUsedAt - b.lastUsedAt);
  const used = () => [...pool.values()].reduce((sum, entry) => sum + entry.memoryBytes, 0);
  while (idle.length > 0 && (pool.size > settings.maxLoadedModels - 1 || used() + incomingBytes > settings.memoryBudgetBytes)) {
    await unloadEntry(idle.shift()!);
  }
}

/**
 * Resident estimates by file identity and load settings: the plan before a run asks for one (`inspect`)
 * just before the run's load needs it, and node-llama-cpp's simulation costs a few milliseconds.
 */
const residentEstimates = new Map<string, Promise<ResidentEstimate>>();

/** llama.cpp's simulated contexts, kept from one worker to the next (see estimate-cache.ts). */
const contextEstimates = new ContextEstimateCache(settings.estimatesFile);
// A save still waiting for its delay is made as the worker exits (it exits with `process.exit`).
process.on("exit", () => contextEstimates.save());

/**
 * The llama.cpp build and devices the simulations ran on, as the estimates' keys name them (see
 * `contextEstimateKey`): node-llama-cpp's version, its GPU backend, build and llama.cpp release, and the
 * GPUs it sees (flash attention's `auto` and a split across GPUs depend on them).
 */
let buildIdentity: Promise<unknown> | undefined;
function llamaBuild(instance: Llama): Promise<unknown> {
  buildIdentity ??= Promise.all([getModuleVersion().catch(() => "unknown"), instance.gpu === false ? [] : instance.getGpuDeviceNames().catch(() => ["unknown"])]).then(([version, devices]) => [
    version,
    instance.gpu,
    instance.buildType,
    instance.llamaCppRelease.release,
    devices,
  ]);
  return buildIdentity;
}

const sameEstimate = (a: { cpuRam: number; gpuVram: number }, b: { cpuRam: number; gpuVram: number }) => a.cpuRam === b.cpuRam && a.gpuVram === b.gpuVram;

function resident(insights: GgufInsights, path: string, options: { contextSize: number; gpuLayers: number; sequences: number; extraSequences?: number; batchSize?: number }): Promise<ResidentEstimate> {
  const file = fileIdentity(path);
  const key = JSON.stringify([file, options.contextSize, options.gpuLayers, options.batchSize ?? null, options.sequences, options.extraSequences ?? 0]);
  let estimate = residentEstimates.get(key);
  if (!estimate) {
    if (residentEstimates.size >= 64) residentEstimates.clear();
    const simulate = async (sequences: number) => {
      const context = { contextSize: options.contextSize, gpuLayers: options.gpuLayers, batchSize: options.batchSize, sequences };
      const cacheKey = contextEstimateKey(await llamaBuild(await llama()), file, context);
      const known = contextEstimates.get(cacheKey);
      if (known) return known;
      const simulated = await simulateContext(insights, context);
      // node-llama-cpp answers with its heuristic where its simulation failed (and says so only in a log
      // this worker does not show): that answer is used, not kept for the next worker.
      if (!sameEstimate(simulated, heuristicContext(insights, context))) contextEstimates.set(cacheKey, simulated);
      return simulated;
    };
    estimate = Promise.all([repackedWhenLoaded(file), llama()]).then(([repacked, instance]) => estimateResident(insights, options, simulate, repacked, repackedTypesFor(instance)));
    residentEstimates.set(key, estimate);
    estimate.catch(() => residentEstimates.delete(key));
  }
  return estimate;
}

/** `cpuFlags`, hashed: a virtual machine may hide some of a CPU's sets behind its model's name. */
const cpuFeatures = cpuFlags === undefined ? undefined : createHash("sha256").update(cpuFlags).digest("hex").slice(0, 16);

/** The types llama.cpp's CPU backend repacks on this CPU, where its rule is known for this build (see `repackedTypesOn`). */
function repackedTypesFor(instance: Llama): ReadonlySet<number> | undefined {
  return instance.llamaCppRelease.release === repackRuleRelease ? repackedTypesHere : undefined;
}

/** The CPU and llama.cpp build a repacking holds for (see `repackKey`): which kernels the build has, and which the CPU can run. */
async function repackRuntime(): Promise<unknown> {
  return [await llamaBuild(await llama()), os.arch(), os.cpus()[0]?.model ?? "unknown", cpuFeatures ?? null];
}

/** What the CPU backend repacked of `file`'s weights when this machine loaded it on the CPU alone (see `loadMeasuringRepack`), if it has. */
async function repackedWhenLoaded(file: string): Promise<number | undefined> {
  return contextEstimates.get(repackKey(await repackRuntime(), file))?.cpuRam;
}

/** Model loads and unloads started, so that a load that measures what it repacks knows whether another one ran meanwhile (see `loadMeasuringRepack`). */
let loadsStarted = 0;
let unloadsStarted = 0;
/** Calls and plans started (a plan's simulations make and free llama.cpp's memory too). */
let requestsStarted = 0;

/**
 * What a load must be able to repack for it to be measured (see `loadMeasuringRepack`): glibc maps a
 * buffer this large afresh (its largest threshold for reusing freed memory is 32 MiB), so the repacked
 * copy, one buffer, is new memory that the measure sees whole.
 */
const measuredRepackBytes = 40 * 1024 * 1024;
/** Added to a measured growth that is not the whole repackable share: V8's heap collected during the load, memory glibc had kept. */
const repackMeasureSlack = 32 * 1024 * 1024;

/** This process's anonymous resident memory (Linux's RssAnon), or undefined where it cannot be read. */
function anonymousBytes(): number | undefined {
  try {
    const kib = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Loads a model, and where this machine has not loaded that file on the CPU alone before and its weights
 * hold at least `measuredRepackBytes` of types llama.cpp's CPU backend may repack (on some CPU: see
 * memory-estimate.ts), measures what the load repacked: the growth of the worker's anonymous memory across
 * the load. The weights themselves are mapped from the file (not anonymous); the repacked copy is one
 * buffer written whole as the load makes it. A growth of half the repackable share or more counts as all
 * of it (a part of the tensors may not be repacked: over, never under); a smaller one counts as itself and
 * `repackMeasureSlack` more (what the load allocates besides: over, never under). That is kept (see
 * `repackKey`), no more than this CPU's rule says unless the load grew by more (see `repackedMeasured`),
 * and the plans after it count it: on a CPU that repacks none of a Q8_0 model's weights (an AMD EPYC
 * here), its estimate had them twice where the rule was not known. llama.cpp says what it
 * repacked only in its log, whose lines node-llama-cpp drops when they come faster than it passes them on
 * (9 of 32 loads here lost them), so its memory is what is read. Measured only while the worker does
 * nothing else: no other load, unload, call or plan (memory freed meanwhile would read as less repacked);
 * where it does, the next load of the file measures. Linux only (elsewhere nothing is learned).
 * Returns the model, and whether the estimates changed.
 */
async function loadMeasuringRepack(instance: Llama, options: Parameters<Llama["loadModel"]>[0], cpuOnly: boolean, insights: GgufInsights): Promise<{ model: LlamaModel; learned: boolean }> {
  const started = ++loadsStarted;
  // Every type it may repack, whatever this CPU's rule says: a load that repacks what the rule says it
  // does not is seen, and then counted (see `repackedMeasured`).
  const repackable = cpuOnly ? repackedBytes(insights) : 0;
  const unloads = unloadsStarted;
  const requests = requestsStarted;
  let key: string | undefined;
  if (repackable >= measuredRepackBytes) {
    try {
      const candidate = repackKey(await repackRuntime(), fileIdentity(options.modelPath));
      if (contextEstimates.get(candidate) === undefined) key = candidate;
    } catch {
      // The file is gone: the load below says so.
    }
  }
  const quiet = () => loadsStarted === started && unloadsStarted === unloads && requestsStarted === requests && loading.size <= 1 && freeing.size === 0 && [...pool.values()].every((entry) => entry.busy === 0);
  const before = key !== undefined && quiet() ? anonymousBytes() : undefined;
  const model = await instance.loadModel(options);
  const after = before === undefined ? undefined : anonymousBytes();
  if (key === undefined || before === undefined || after === undefined || !quiet()) return { model, learned: false };
  contextEstimates.set(key, { cpuRam: repackedMeasured(after - before, repackable, repackedBytes(insights, repackedTypesFor(instance)), repackMeasureSlack), gpuVram: 0 });
  residentEstimates.clear();
  send({ type: "estimates-changed" });
  return { model, learned: true };
}

/** The RAM a model and its context take once loaded and run (0 when it cannot be estimated). */
async function estimateRam(insights: GgufInsights, path: string, options: { contextSize: number; gpuLayers: number; sequences: number; extraSequences?: number; batchSize?: number }): Promise<number> {
  return (await estimateRams(insights, path, options)).ram;
}

/** `estimateRam`, and the same with every repackable type counted (see `ResidentEstimate.ramIfRepacked`; 0 when it cannot be estimated). */
async function estimateRams(insights: GgufInsights, path: string, options: { contextSize: number; gpuLayers: number; sequences: number; extraSequences?: number; batchSize?: number }): Promise<{ ram: number; ramIfRepacked: number }> {
  try {
    const { ram, ramIfRepacked } = await resident(insights, path, options);
    return { ram, ramIfRepacked };
  } catch {
    return { ram: 0, ramIfRepacked: 0 };
  }
}

/**
 * The sequences a load's extra context is made with where memory allows (see `chooseSequences`): a whole
 * batch (a batch decodes in one context) and the kept ones; where that is too much, the kept ones alone (a
 * wider batch then waits for a sequence), then one.
 */
const wantedExtra = (batch: number) => Math.max(batch > 1 ? batch : 0, keptSequences - parallel);

/**
 * The sequences a model's contexts are made with, and the RAM that load then takes (`baseRam`: without
 * the extra context). One per generation at once (`parallel`), in the context made with the load; and
 * more where memory is ample, in a second context (`extra`): a batch's (calls on the model decode in one
 * batch of up to `batch`, see `batchWidth`), and sequences that keep their tokens in the KV cache after
 * their call, so that a later call whose prompt starts with them evaluates only the rest (see
 * `takeSequence`; `keptSequences` in all at least). In a pipeline's DAG two stages often read the same
 * earlier stage (a multi stage's models and a later stage both start with a draft's text); with one
 * sequence each call overwrites what the next one could reuse.
 * Each sequence holds a KV cache of the whole context size (llama.cpp allocates and clears it with its
 * context; its streams are not unified). Two contexts, not one of them all: a cold run's first call waits
 * for one KV cache, not four (a 400M model: ~95 ms, not ~380); the others are made after it starts (see
 * `PoolEntry.extra`).
 * Sequences beyond `parallel` are a speed-up, never a reason for the plan to refuse a run or for the pool
 * to unload another model: they are made only while together they take at most an eighth of the memory
 * budget and no more than the model with its `parallel` ones (as estimated before its first load on this
 * machine: see `ResidentEstimate.ramIfRepacked`), and the model with them at most a quarter of the free
 * memory.
 */
async function chooseSequences(
  insights: GgufInsights,
  path: string,
  options: { contextSize: number; gpuLayers: number; batchSize?: number; batch: number },
): Promise<{ sequences: number; extra: number; ram: number; baseRam: number }> {
  const rams = (extraSequences: number) =>
    estimateRams(insights, path, { contextSize: options.contextSize, gpuLayers: options.gpuLayers, batchSize: options.batchSize, sequences: parallel, extraSequences });
  const ram = async (extraSequences: number) => (await rams(extraSequences)).ram;
  const wanted = wantedExtra(options.batch);
  // The estimate with the wanted ones is started with the load's own (each simulates a context in a
  // thread of the pool: side by side, a fresh worker's plan waits ~6 ms less for them), where that
  // simulation is short; it is cached, and taken below when the load leaves room for them.
  if (wanted > 0 && options.contextSize * (parallel + wanted) <= speculatedTokens) void ram(wanted);
  const { ram: base, ramIfRepacked: model } = await rams(0);
  // Extra sequences only add to the load's memory: where the load alone is past what they may take, none
  // is estimated (node-llama-cpp's estimate grows with the context: ~9 s a sequence for a context of 49M
  // tokens, which a load sized past the machine's memory asks for, and which then fails anyway).
  if (base > settings.memoryBudgetBytes || base > (await systemMemory()).free / 4) return { sequences: parallel, extra: 0, ram: base, baseRam: base };
  for (const extra of new Set([wanted, keptSequences - parallel, 1])) {
    if (extra <= 0 || extra > wanted) continue;
    const more = await ram(extra);
    const { free } = await systemMemory();
    // Bounded by the model as if all of it were repacked: the bound does not move once its first load
    // has measured what it repacked (the budget and free memory are checked against the estimate as it is).
    if (more <= settings.memoryBudgetBytes && more <= free / 4 && more - base <= Math.min(settings.memoryBudgetBytes / 8, model)) return { sequences: parallel, extra, ram: more, baseRam: base };
  }
  return { sequences: parallel, extra: 0, ram: base, baseRam: base };
}

/**
 * The pool entry a call runs on, loaded if need be, counted busy for the call (the caller releases it). It
 * is counted here, as the load resolves: every call that waited for one load holds the model before any of
 * them can end, so that one ending at once (cancelled meanwhile) never unloads it under the others.
 */
async function acquire(request: GenerateRequest, onProgress: (progress: number) => void): Promise<{ entry: PoolEntry; loaded: boolean; loadMs: number }> {
  await llama();
  // One stat of the file for its thread count, its placement and its pool entry.
  const weightBytes = fileSize(request.model.path);
  const threads = chooseThreads({ configured: request.model.load.threads, weightBytes, parallel, cores });
  const key = poolKey(request, threads);
  const warm = pool.get(key);
  if (warm) {
    if (wantsSequencesNow(request)) void warm.extra();
    warm.busy++;
    return { entry: warm, loaded: false, loadMs: 0 };
  }
  const started = performance.now();
  let pending = loading.get(key)?.entry;
  const first = pending === undefined;
  if (!pending) {
    pending = load(request, threads, weightBytes, key, onProgress);
    loading.set(key, { path: request.model.path, entry: pending, threads, weightBytes });
    // A load that needs more than one core has them from its start (see placeThreads).
    placeThreads();
    pending
      .finally(() => {
        loading.delete(key);
        unloadOnceLoaded.delete(key);
        placeThreads();
      })
      .catch(() => undefined);
  }
  const entry = await pending;
  entry.busy++;
  return { entry, loaded: first, loadMs: performance.now() - started };
}

async function load(request: GenerateRequest, threads: number, weightBytes: number, key: string, onProgress: (progress: number) => void): Promise<PoolEntry> {
  const instance = await llama();
  const insights = await readInsights(instance, request.model.path);
  const configured = request.model.load.gpu_layers;
  // RAM is what the budget counts: with layers on the GPU ("auto", "max") the CPU-only estimate is an upper bound.
  const estimateLayers = instance.gpu === false || typeof configured !== "number" ? 0 : configured;
  const choice = { contextSize: request.model.load.context_size, gpuLayers: estimateLayers, batchSize: request.model.load.batch_size };
  const chosen = await chooseSequences(insights, request.model.path, { ...choice, batch: batchWidth({ configured: settings.batch ?? "auto", gpu: instance.gpu }) });
  const { sequences, extra } = chosen;
  let { ram: estimate, baseRam } = chosen;
  // A model unloaded a moment ago (once its calls ended, say) may still hold its memory.
  await Promise.allSettled([...freeing]);
  await evict(estimate);
  // Out of memory on a GPU: retry with half the layers there, then on the CPU alone (see gpu-fallback.ts).
  let learnedRepack = false;
  let loaded: Awaited<ReturnType<typeof loadWithFallback<{ model: LlamaModel; context: LlamaContext }>>>;
  try {
    loaded = await loadWithFallback({
      onGpu: instance.gpu !== false,
      configured,
      totalLayers: insights.totalLayers,
      load: async (gpuLayers) => {
        const onGpu = instance.gpu === false ? 0 : gpuLayers;
        const { model, learned } = await loadMeasuringRepack(instance, { modelPath: request.model.path, gpuLayers: onGpu, onLoadProgress: (progress) => onProgress(progress) }, onGpu === 0, insights);
        learnedRepack ||= learned;
        try {
          const context = await model.createContext({
            contextSize: request.model.load.context_size,
            threads,
            sequences,
            ...(request.model.load.batch_size ? { batchSize: request.model.load.batch_size } : {}),
          });
          return { model, context };
        } catch (error) {
          await model.dispose().catch(() => undefined);
          throw error;
        }
      },
    });
  } catch (error) {
    const message = (error as Error)?.message ?? String(error);
    throw new WorkerError(isOutOfMemory(error) ? "out-of-memory" : "model-load-failed", `cannot load ${request.model.path}: ${message}`, { reason: "load", path: request.model.path, detail: message });
  }
  const { model, context } = loaded.value;
  modelLoads++;
  // What the load repacked is known now: the pool counts the model by it.
  if (learnedRepack) [estimate, baseRam] = await Promise.all([estimateRam(insights, request.model.path, { ...choice, sequences, extraSequences: extra }), estimateRam(insights, request.model.path, { ...choice, sequences })]);
  // By the layers that did go to the GPU (a fallback may have moved some back): the plan credits it on unload.
  const vramBytes = model.gpuLayers === 0 ? 0 : await resident(insights, request.model.path, { contextSize: request.model.load.context_size, sequences, extraSequences: extra, batchSize: request.model.load.batch_size, gpuLayers: model.gpuLayers }).then((estimate) => estimate.vram, () => 0);
  let chatWrapper: ChatWrapper | undefined;
  try {
    if (typeof model.fileInfo.metadata.tokenizer?.chat_template === "string") chatWrapper = resolveChatWrapper(model);
  } catch (error) {
    await context.dispose().catch(() => undefined);
    await model.dispose().catch(() => undefined);
    throw error;
  }
  // See `PoolEntry.extra`. If it cannot be made (out of memory), the model goes on with the load's
  // sequences alone, and the pool counts what it holds.
  const makeExtra = (): Promise<LlamaContext | undefined> => {
    if (entry.extraStarted) return entry.extraStarted;
    if (entry.extraTimer) clearTimeout(entry.extraTimer);
    entry.extraTimer = undefined;
    const made =
      extra === 0 || entry.unloaded
        ? Promise.resolve(undefined)
        : model
            .createContext({ contextSize: request.model.load.context_size, threads, sequences: extra, ...(request.model.load.batch_size ? { batchSize: request.model.load.batch_size } : {}) })
            .catch((error: unknown) => {
              process.stderr.write(`inference worker: ${request.model.path} keeps ${sequences} sequence(s) only: its other ${extra} could not be made (${(error as Error)?.message ?? String(error)})\n`);
              return undefined;
            });
    entry.extraStarted = made;
    void made.then((context) => {
      entry.extraMade = context;
      entry.extraPending = false;
      if (extra === 0) return;
      // The pool's status changed (its sequences, or what it holds): the supervisor keeps the last one.
      if (!context) entry.memoryBytes = baseRam;
      const status = cpuPoolStatus();
      if (status && pool.get(key) === entry) send({ type: "pool", status });
    });
    return made;
  };
  const entry: PoolEntry = {
    key,
    path: request.model.path,
    model,
    context,
    extra: makeExtra,
    extraPending: extra > 0,
    sequences: [],
    sequenceWaiters: [],
    contextSize: context.contextSize,
    load: { contextSize: request.model.load.context_size, gpuLayers: request.model.load.gpu_layers, ...(request.model.load.batch_size ? { batchSize: request.model.load.batch_size } : {}) },
    threads,
    weightBytes,
    gpuLayers: model.gpuLayers,
    lastUsedAt: Date.now(),
    busy: 0,
    ...(chatWrapper ? { chatWrapper } : {}),
    memoryBytes: estimate,
    vramBytes,
    ...(loaded.fallback ? { fallback: loaded.fallback } : {}),
  };
  pool.set(key, entry);
  // Unloaded while it loaded: the calls that wait for it run (they asked first), then it goes.
  if (unloadOnceLoaded.has(key)) entry.unloadWhenIdle = true;
  if (extra === 0 || wantsSequencesNow(request)) void makeExtra();
  return entry;
}

/** A call of a run that may call its model several times at once: the model's extra context is made now if it was not (see `PoolEntry.extra`). */
function wantsSequencesNow(request: GenerateRequest): boolean {
  return (request.runTogether ?? 1) > 1 || (request.together ?? 1) > 1;
}

/**
 * Makes `entry`'s extra context once the worker has had no call and no load for `extraIdleMs` (see
 * `PoolEntry.extra`): made beside another model's call or load, it would take that one's cores.
 */
function makeExtraWhenIdle(entry: PoolEntry): void {
  if (entry.extraStarted !== undefined || entry.unloaded) return;
  if (entry.extraTimer) clearTimeout(entry.extraTimer);
  entry.extraTimer = setTimeout(() => {
    entry.extraTimer = undefined;
    if (pool.get(entry.key) !== entry || entry.busy > 0) return;
    // Another model at work: wait for it to be idle too (its calls' ends do not wake this one).
    if (loading.size > 0 || [...pool.values()].some((other) => other.busy > 0)) return makeExtraWhenIdle(entry);
    void entry.extra();
  }, extraIdleMs);
  entry.extraTimer.unref();
}

/** How many tokens at the start of `held` and `tokens` are the same. */
function sharedPrefix(held: readonly Token[], tokens: readonly Token[]): number {
  const length = Math.min(held.length, tokens.length);
  let index = 0;
  while (index < length && held[index] === tokens[index]) index++;
  return index;
}

/** `promise`, or the call's cancellation, whichever comes first. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/**
 * The sequence for a call whose prompt is `tokens`: of the idle kept sequences, the one whose KV cache
 * shares the longest prefix with it (node-llama-cpp's LlamaCompletion and LlamaChat then evaluate only
 * the tokens after that prefix) when reusing it keeps at least as many tokens as it throws away, or when
 * the call's prompt extends that sequence's last prompt whole (the next stage of an `input_plus_answer`
 * chain, another model of a multi stage on its prompt); else a new one while there is one left, so that
 * what the others hold stays for a call that wants it; else the least recently used. (llama-server
 * picks its slots alike: by the longest common prefix when it is similar enough, else the least recently
 * used.) Prompts through a chat template all share its first role markers: without the rule each such
 * call would overwrite the sequence a later one could reuse.
 * A new sequence comes from the `home` context while it has one left, else from the other: where calls
 * batch, the extra one (see `PoolEntry.extra`) once it is made, so that what a call leaves there is found
 * by a batch after it (a draft, by a multi stage's models); where they do not, the load's, whose one
 * sequence decoded a little faster on a small model (2-5%) than one of a context of several in one A/B
 * and no differently in a later one (BENCHMARKS.md). The least recently used is the least recently used
 * of all: one a later stage of the run may still want (the draft its ending starts with) is kept over
 * that small difference, if any. A call `batched` with others
 * (a multi stage's models, or one that comes while another runs, when calls batch) takes only the extra
 * context's, where they decode in one batch: two contexts would compete for the cores instead. With every
 * sequence it may take busy (a batch wider than the context, see `load`), the call waits for one to be released.
 */
async function takeSequence(entry: PoolEntry, tokens: readonly Token[], signal: AbortSignal, batched: boolean, batching: boolean): Promise<KeptSequence> {
  // A beginning-of-text token every prompt starts with is no prefix worth keeping a sequence for.
  const sharesNothing = tokens.length > 0 && tokens[0] === entry.model.tokens.bos ? 1 : 0;
  // A batch waits for the extra context; a call alone goes on without it.
  const onlyExtra = batched ? await unlessAborted(entry.extra(), signal) : undefined;
  for (;;) {
    signal.throwIfAborted();
    const extra = onlyExtra ?? entry.extraMade;
    const homeIsExtra = batching && extra !== undefined;
    let best: KeptSequence | undefined;
    let bestShared = -1;
    let bestHeld = 0;
    let bestPrompt = 0;
    let leastRecent: KeptSequence | undefined;
    for (const kept of entry.sequences) {
      if (kept.busy || (onlyExtra !== undefined && !kept.extra)) continue;
      if (leastRecent === undefined || kept.lastUsedAt < leastRecent.lastUsedAt) leastRecent = kept;
      const held = kept.sequence.contextTokens;
      const shared = sharedPrefix(held, tokens);
      if (shared > bestShared || (shared === bestShared && kept.lastUsedAt < best!.lastUsedAt)) {
        best = kept;
        bestShared = shared;
        bestHeld = held.length;
        bestPrompt = kept.promptTokens;
      }
    }
    const worthReusing = best !== undefined && bestShared > sharesNothing && (bestHeld - bestShared <= bestShared || bestShared >= bestPrompt);
    if (!worthReusing) {
      const extraLeft = extra !== undefined && extra.sequencesLeft > 0 ? extra : undefined;
      const loadLeft = onlyExtra === undefined && !entry.extraPending && entry.context.sequencesLeft > 0 ? entry.context : undefined;
      const fresh = homeIsExtra ? (extraLeft ?? loadLeft) : (loadLeft ?? extraLeft);
      // Until the extra context is made, a call alone takes the load's context's new sequence: where calls
      // do not batch (the load's come first anyway), or for the model's first call (which never waits for
      // the extra context); where they batch, later calls wait for it, whose sequences come first there.
      const bootstrap = fresh ?? (onlyExtra === undefined && entry.extraPending && entry.context.sequencesLeft > 0 && (!batching || entry.sequences.length === 0) ? entry.context : undefined);
      if (bootstrap) {
        best = { sequence: bootstrap.getSequence(), extra: bootstrap !== entry.context, busy: false, lastUsedAt: 0, promptTokens: 0 };
        entry.sequences.push(best);
      } else if (entry.extraPending && onlyExtra === undefined) {
        // A new sequence is wanted and the extra context is on its way: wait for it rather than overwrite
        // what a sequence holds, so that which one a call takes never depends on timing.
        await unlessAborted(entry.extra(), signal);
        continue;
      } else {
        best = leastRecent;
      }
    }
    if (best) {
      best.busy = true;
      best.promptTokens = tokens.length;
      return best;
    }
    // Until a sequence is released, or the call is cancelled (it then leaves the line at once).
    const woken = await new Promise<boolean>((resolve) => {
      const wake = () => {
        signal.removeEventListener("abort", leave);
        resolve(true);
      };
      const leave = () => {
        const index = entry.sequenceWaiters.indexOf(wake);
        if (index !== -1) entry.sequenceWaiters.splice(index, 1);
        resolve(false);
      };
      entry.sequenceWaiters.push(wake);
      signal.addEventListener("abort", leave, { once: true });
    });
    // Woken for a sequence it no longer wants: the next waiting call may have it.
    if (!woken || signal.aborted) {
      if (woken) entry.sequenceWaiters.shift()?.();
      signal.throwIfAborted();
    }
  }
}

async function generate(id: number, request: GenerateRequest, signal: AbortSignal, alone: boolean): Promise<GenerateResult> {
  requestsStarted++;
  // llama.cpp reports load progress per tensor (hundreds of calls): pass on steps of 5% at most.
  let reported = -1;
  const { entry, loaded, loadMs } = await acquire(request, (progress) => {
    if (progress < 1 && progress - reported < 0.05) return;
    reported = progress;
    send({ type: "load-progress", id, progress });
  });
  let kept: KeptSequence | undefined;
  let failed = true;
  let pending = "";
  // A completion's tokens not yet sent, and those sent: their text is made at each send (see `textByTokens`).
  const pendingTokens: Token[] = [];
  const sentTokens: Token[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (pendingTokens.length > 0) {
      // As node-llama-cpp makes each token's text (the tokens before it tell where a space goes), once a batch.
      pending += entry.model.detokenize(pendingTokens, false, sentTokens);
      for (const token of pendingTokens) sentTokens.push(token);
      pendingTokens.length = 0;
    }
    if (pending.length > 0) send({ type: "text", id, text: pending });
    pending = "";
  };
  // The first text goes at once (time to first token is what a user waits for); later text in batches.
  let sentFirstText = false;
  const textArrived = () => {
    if (!sentFirstText) {
      sentFirstText = true;
      flush();
      return;
    }
    timer ??= setTimeout(flush, flushIntervalMs);
  };
  try {
    signal.throwIfAborted();
    const params = request.params;
    const earlier = request.history ?? [];
    // A plain completion model reads a conversation as one transcript (see conversation.ts).
    const prompt = entry.chatWrapper || earlier.length === 0 ? request.prompt : historyTranscript(earlier, request.prompt);
    const tokens = entry.model.tokenize(prompt, false, "trimLeadingSpace");
    const start = performance.now();
    const bos = entry.model.tokens.bos;
    // Exactly the turns a chat call needs: no default system prompt, the conversation's earlier turns (if
    // any), then the prompt.
    const history: ChatHistoryItem[] = [
      ...(request.system ? [{ type: "system" as const, text: request.system }] : []),
      ...earlier.map((turn): ChatHistoryItem => (turn.role === "user" ? { type: "user", text: turn.content } : { type: "model", response: [turn.content] })),
      { type: "user", text: request.prompt },
      { type: "model", response: [] },
    ];
    // A sequence is chosen by the tokens the call will evaluate: through the chat template for a chat
    // model (its role markers come before the prompt's text), the prompt's own after a beginning-of-text token otherwise.
    const evaluatedTokens = entry.chatWrapper
      ? entry.chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(entry.model.tokenizer)
      : bos === null
        ? tokens
        : [bos, ...tokens];
    // The prompt's tokens, the system prompt's and earlier turns' included (a chat model's as its template
    // writes them), less a leading beginning-of-text token (a chat template may write none).
    const promptTokens = evaluatedTokens.length - (bos !== null && evaluatedTokens[0] === bos ? 1 : 0);
    // Refused unless node-llama-cpp evaluates it whole with room for a token: it would otherwise drop the
    // start of the prompt, or a chat's first turns, without a word (LlamaChat keeps one token free).
    if (evaluatedTokens.length + 1 >= entry.contextSize) {
      throw new WorkerError(
        "context-overflow",
        `the prompt has ${promptTokens} tokens, more than the context of ${entry.contextSize}: shorten the input or raise context_size`,
        { tokens: promptTokens, context: entry.contextSize, setting: "context_size" },
      );
    }
    // A call batches with others when it is made together with them (a multi stage's models) or comes while
    // another runs on this model (which the supervisor allows only to batch), and only where calls batch at
    // all: with one call at a time (`batch: false`, or a call the supervisor makes `alone`) a multi stage's
    // models take any sequence, and so the one holding the prompt they share.
    const batching = !alone && batchWidth({ configured: settings.batch ?? "auto", gpu: loadedLlama?.gpu ?? false }) > 1;
    const batched = ((request.together ?? 1) > 1 || entry.busy > 1) && batching;
    kept = await takeSequence(entry, evaluatedTokens, signal, batched, batching);
    const sequence = kept.sequence;
    const textByTokens = entry.chatWrapper === undefined;
    let firstTokenAt: number | undefined;
    let lastTokenAt = start;
    let tokensOut = 0;
    const meterBefore = sequence.tokenMeter.getState();
    // The meter at the first token counts the prompt's evaluation alone (generated tokens are evaluated
    // after): node-llama-cpp counts the prompt's last token as output (it is decoded for its logits), so
    // both counts together, at most the prompt's tokens (the beginning-of-text token is not one of them).
    let promptEvaluated: number | undefined;
    // The tokens then in the sequence, less the beginning-of-text token, are the whole prompt as evaluated
    // (chat template and reused prefix included).
    let promptHeld: number | undefined;
    const common = {
      signal,
      ...samplingOptions(params, entry.model),
      // A chat model's text chunks leave out what is not its answer (a reasoning segment, say): they are
      // taken as they come. A completion's text is all its tokens': made once a batch, not per token (two
      // detokenizations a token took 2-6% of stories260K's decode in a loop of 200-token calls).
      ...(textByTokens
        ? {}
        : {
            onTextChunk: (text: string) => {
              pending += text;
              textArrived();
            },
          }),
      onToken: (tokens: Token[]) => {
        const now = performance.now();
        promptEvaluated ??= sequence.tokenMeter.usedInputTokens - meterBefore.usedInputTokens + (sequence.tokenMeter.usedOutputTokens - meterBefore.usedOutputTokens);
        promptHeld ??= sequence.contextTokens.length - (bos !== null && sequence.contextTokens[0] === bos ? 1 : 0);
        firstTokenAt ??= now;
        lastTokenAt = now;
        tokensOut += tokens.length;
        if (textByTokens) {
          for (const token of tokens) pendingTokens.push(token);
          textArrived();
        }
      },
    };
    let text: string;
    let stopReason: string;
    if (entry.chatWrapper) {
      const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: entry.chatWrapper, autoDisposeSequence: false });
      const response = await chat.generateResponse(history, common);
      text = response.response;
      stopReason = response.metadata.stopReason;
      chat.dispose({ disposeSequence: false });
    } else {
      const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
      // LlamaCompletion keeps a tenth of the context free for the answer by cutting the prompt's start: the
      // room kept is less where that would cut it (the prompt was checked to fit above).
      const contextShiftSize = Math.max(1, Math.min(Math.floor(entry.contextSize / 10), entry.contextSize - evaluatedTokens.length));
      const response = await completion.generateCompletionWithMeta(prompt, { ...common, contextShiftSize });
      text = response.response;
      stopReason = response.metadata.stopReason;
      completion.dispose({ disposeSequence: false });
    }
    if (stopReason === "abort") signal.throwIfAborted();
    flush();
    const end = performance.now();
    const meter = sequence.tokenMeter.getState();
    generations++;
    const decodeSeconds = (lastTokenAt - (firstTokenAt ?? start)) / 1000;
    const tokensIn = Math.max(promptTokens, promptHeld ?? 0);
    const evaluated = Math.min(tokensIn, promptEvaluated ?? meter.usedInputTokens - meterBefore.usedInputTokens);
    failed = false;
    return {
      text,
      tokensIn,
      promptTokensEvaluated: evaluated,
      tokensOut,
      timeToFirstTokenMs: (firstTokenAt ?? end) - start,
      // The decode rate: tokens after the first over the time from the first to the last.
      tokensPerSecond: tokensOut > 1 && decodeSeconds > 0 ? (tokensOut - 1) / decodeSeconds : 0,
      durationMs: end - start,
      stopReason: stopReason === "maxTokens" ? "max-tokens" : stopReason === "customStopTrigger" ? "stop-string" : stopReason === "eogToken" ? "eos" : "other",
      chat: entry.chatWrapper !== undefined,
      load: { loaded, loadMs, gpuLayers: entry.gpuLayers, threads: entry.threads, ...(entry.fallback ? { fallback: entry.fallback } : {}) },
    };
  } finally {
    if (timer) clearTimeout(timer);
    if (kept) {
      // After a failure the KV cache may not match the tokens the sequence lists: start it afresh.
      if (failed) await kept.sequence.clearHistory().catch(() => undefined);
      kept.busy = false;
      kept.lastUsedAt = Date.now();
      // Every waiting call looks again, in the order they came (one may want only the extra context's).
      for (const wake of entry.sequenceWaiters.splice(0)) wake();
    }
    entry.busy--;
    entry.lastUsedAt = Date.now();
    // Idle now: its extra context is made unless a call comes first (see `PoolEntry.extra`).
    if (entry.busy === 0) makeExtraWhenIdle(entry);
    if (!workerBusy()) placeThreads();
    // Taken out of the pool here, before this call's result (and the pool it tells) is sent.
    if (entry.busy === 0 && entry.unloadWhenIdle && pool.get(entry.key) === entry) {
      unloadEntry(entry).catch((error: unknown) => process.stderr.write(`inference worker: ${entry.path} was not unloaded cleanly: ${(error as Error)?.message ?? String(error)}\n`));
    }
  }
}

async function inspect(message: Extract<ParentMessage, { type: "inspect" }>): Promise<ModelFacts> {
  requestsStarted++;
  const size = fileSize(message.path);
  const insights = await readInsights(llama(), message.path);
  const instance = await llama();
  const info = insights.ggufFileInfo;
  const gpuLayers =
    instance.gpu === false
      ? 0
      : message.gpuLayers === "max"
        ? insights.totalLayers
        : message.gpuLayers === "auto"
          ? (await insights.configurationResolver.resolveModelGpuLayersV2("auto", { getVramState: () => instance.getVramState() })).gpuLayers
          : Math.min(message.gpuLayers, insights.totalLayers);
  const model = insights.estimateModelResourceRequirements({ gpuLayers });
  // The sequences the load would create (and those of its extra context), unless they would not fit in the memory budget (see load()).
  const threads = chooseThreads({ configured: message.threads, weightBytes: size, parallel, cores });
  const batch = batchWidth({ configured: settings.batch ?? "auto", gpu: instance.gpu });
  const choosing = chooseSequences(insights, message.path, { contextSize: message.contextSize, gpuLayers, batchSize: message.batchSize, batch });
  // node-llama-cpp's own estimate of the two contexts the load makes (see chooseSequences), by its
  // heuristic: made in this thread while llama.cpp's simulations above run in the pool's (a fresh
  // worker's plan waits for them), for the counts the load most likely makes; another count is made after.
  const heuristic = new Map<number, { cpuRam: number; gpuVram: number }>([[0, { cpuRam: 0, gpuVram: 0 }]]);
  const contextOf = (count: number) => {
    let estimate = heuristic.get(count);
    if (!estimate) heuristic.set(count, (estimate = heuristicContext(insights, { contextSize: message.contextSize, gpuLayers, sequences: count })));
    return estimate;
  };
  contextOf(parallel);
  contextOf(wantedExtra(batch));
  const { sequences, extra } = await choosing;
  const estimate = await resident(insights, message.path, { contextSize: message.contextSize, gpuLayers, sequences, extraSequences: extra, batchSize: message.batchSize });
  const [loadContext, extraContext] = [contextOf(sequences), contextOf(extra)];
  const context = { cpuRam: loadContext.cpuRam + extraContext.cpuRam, gpuVram: loadContext.gpuVram + extraContext.gpuVram };
  const metadata = info.metadata as { general?: { architecture?: string; file_type?: number }; tokenizer?: { chat_template?: unknown } };
  const fileType = metadata.general?.file_type;
  // Files without `general.file_type` (older converters) are named by their dominant tensor type.
  const dominant = insights.dominantTensorType;
  return {
    architecture: metadata.general?.architecture,
    parameters: insights.totalParameters || undefined,
    fileType:
      fileType !== undefined
        ? (GgufFileType as Record<number, string>)[fileType]
        : dominant !== undefined
          ? (GgmlType as Record<number, string>)[dominant]
          : undefined,
    trainContextSize: insights.trainContextSize,
    hasChatTemplate: typeof metadata.tokenizer?.chat_template === "string",
    layers: insights.totalLayers,
    memory: {
      modelRam: model.cpuRam,
      modelVram: model.gpuVram,
      contextRam: context.cpuRam,
      contextVram: context.gpuVram,
      totalRam: model.cpuRam + context.cpuRam,
      totalVram: model.gpuVram + context.gpuVram,
    },
    resident: estimate,
    gpuLayers,
    threads,
  };
}

async function status(): Promise<WorkerStatus> {
  const instance = await llama();
  return { ...poolStatus(instance), vram: instance.gpu === false ? undefined : await instance.getVramState() };
}

function poolStatus(instance: Llama): WorkerStatus {
  return {
    gpu: instance.gpu,
    parallel,
    loaded: [...pool.values()].map(({ path, contextSize, load, threads, gpuLayers, lastUsedAt, busy, memoryBytes, vramBytes, unloadWhenIdle, context, extraMade }) => ({
      path,
      contextSize,
      load: { ...load },
      threads,
      gpuLayers,
      lastUsedAt,
      busy,
      memoryBytes,
      vramBytes,
      unloading: unloadWhenIdle === true,
      sequences: context.totalSequences + (extraMade?.totalSequences ?? 0),
    })),
    modelLoads,
    generations,
  };
}

/**
 * On a CPU the status is the pool alone, which changes only by this worker's own doing: it goes with each
 * call's result and with each unload of an idle model, so that the supervisor answers a run's plan from
 * it without a round trip here. On a GPU the free VRAM, which other processes change, is asked each time.
 */
function cpuPoolStatus(): WorkerStatus | undefined {
  return loadedLlama && loadedLlama.gpu === false ? poolStatus(loadedLlama) : undefined;
}

/** The reply to a call that failed; an error of node-llama-cpp's own is `otherwise`, its message the detail. */
function errorReply(id: number, error: unknown, otherwise: ErrorCode = "generation-failed"): WorkerMessage {
  if (error instanceof WorkerError) return { type: "error", id, code: error.code, message: error.message, params: error.params };
  if ((error as Error)?.name === "AbortError" || calls.get(id)?.signal.aborted) return { type: "error", id, code: "cancelled", message: "the generation was cancelled", params: {} };
  const detail = (error as Error)?.message ?? String(error);
  return { type: "error", id, code: otherwise, message: detail, params: { reason: "error", detail } };
}

handleMessages((message: ParentMessage) => {
  switch (message.type) {
    case "generate": {
      const controller = new AbortController();
      calls.set(message.id, controller);
      generate(message.id, message.request, controller.signal, message.alone === true).then(
        (result) => send({ type: "result", id: message.id, result, status: cpuPoolStatus() }),
        (error: unknown) => send(errorReply(message.id, error)),
      ).finally(() => calls.delete(message.id));
      break;
    }
    case "cancel":
      calls.get(message.id)?.abort();
      break;
    case "inspect":
      inspect(message).then(
        (value) => send({ type: "reply", id: message.id, value }),
        (error: unknown) => send(errorReply(message.id, error, "model-load-failed")),
      );
      break;
    case "unload": {
      // An idle model goes now; one that calls run on, or that is loading for a call, goes when the last of
      // its calls ends (each counted, a load that then fails too: it leaves nothing loaded either way).
      const entries = [...pool.values()].filter((entry) => message.path === undefined || entry.path === message.path);
      for (const entry of entries) if (entry.busy > 0) entry.unloadWhenIdle = true;
      const loads = [...loading].filter(([, load]) => message.path === undefined || load.path === message.path);
      for (const [key] of loads) unloadOnceLoaded.add(key);
      Promise.all(entries.filter((entry) => entry.busy === 0).map(unloadEntry)).then(
        () => send({ type: "reply", id: message.id, value: entries.length + loads.length }),
        (error: unknown) => send(errorReply(message.id, error)),
      );
      break;
    }
    case "status":
      status().then(
        (value) => send({ type: "reply", id: message.id, value }),
        (error: unknown) => send(errorReply(message.id, error)),
      );
      break;
    case "shutdown":
      // The process's exit frees the models; only the calls in flight need telling.
      for (const controller of calls.values()) controller.abort();
      process.send?.({ type: "reply", id: message.id, value: true } satisfies WorkerMessage, () => process.exit(0));
      break;
  }
});

// An unused model is unloaded after the idle time.
if (settings.idleUnloadSeconds > 0) {
  setInterval(() => {
    const cutoff = Date.now() - settings.idleUnloadSeconds * 1000;
    const idle = [...pool.values()].filter((entry) => entry.busy === 0 && entry.lastUsedAt < cutoff);
    if (idle.length === 0) return;
    void Promise.allSettled(idle.map(unloadEntry)).then(() => {
      const status = cpuPoolStatus();
      if (status) send({ type: "pool", status });
    });
  }, Math.min(30_000, settings.idleUnloadSeconds * 1000)).unref();
}

/**
 * Collects what the worker's start left behind (node-llama-cpp's modules read and compiled: a few MiB that V8
 * keeps until some later collection, which may come in the middle of a model's first load), once the worker is
 * up and before its first call: its resident memory is then what it holds, and a model's load grows it by
 * what the load takes. Without it, fresh workers loading and running stories260K alike grew by 26.6 to
 * 38.1 MiB, a spread wider than the 35% its estimate may be over its growth (BENCHMARKS.md, "What a fresh worker
 * holds"). Skipped where a call or a load came first, which would wait for it (~10 ms).
 *
 * `gc` is exposed here, once node-llama-cpp's modules are loaded, rather than by `--expose-gc` on the
 * worker's command line: any V8 flag there (this one as much as `--max-semi-space-size`) made the
 * worker's start ~65 ms slower here, likely Node's own modules compiled again rather than read from the
 * code cached in its binary, which V8 takes only under the flags it was made with.
 */
function collectStartGarbage(): void {
  if (calls.size > 0 || loading.size > 0) return;
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

llama().then(
  (instance) => {
    send({ type: "ready", gpu: instance.gpu, parallel });
    setImmediate(collectStartGarbage);
  },
  (error: unknown) => {
    process.stderr.write(`inference worker: cannot start node-llama-cpp: ${String(error)}\n`);
    process.exit(70);
  },
);
