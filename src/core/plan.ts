/**
 * The plan before a run: which models a pipeline loads, in the DAG's order; which stay warm and which the
 * model pool unloads between stages (its rules: at most `max_loaded_models`, within the memory budget, the
 * least recently used first, as the worker's `evict` does); the memory each needs against free RAM and
 * VRAM after the safety coefficients; and the time it should take, from rates measured on this machine.
 * Pure: the studio gathers the estimates (the worker's `inspect`), the free memory and the past sessions.
 */
import { median } from "../common/median.js";
import { stageModels, topologicalOrder } from "../engine/index.js";
import type { Pipeline } from "../config/index.js";
import type { SessionRecord } from "../store/index.js";

/** A model as the plan sees it: its memory estimate, or where it is served. */
export interface PlanModel {
  name: string;
  /** The file as models.yaml writes it (absent for a remote model). */
  file?: string;
  /**
   * The worker's pool entry it uses: models of one file with the same load settings share one (default:
   * the name).
   */
  loadKey?: string;
  /** Set for a model served over HTTP: it needs no local memory. */
  remote?: { baseUrl: string; model: string };
  /** Resident bytes once loaded and run (RAM and VRAM); absent when the file could not be read. */
  estimate?: { ram: number; vram: number; parts?: { weights: number; repacked: number; context: number; overhead: number } };
  /** Why there is no estimate. */
  error?: string;
  contextSize: number;
  gpuLayers: number | "auto" | "max";
}

/** Resident bytes of one pool entry. */
interface Resident {
  ram: number;
  vram: number;
}

/** Rates measured on this machine for one model file (medians of past runs). */
export interface MeasuredRates {
  /** Decode tokens per second. */
  tokensPerSecond: number;
  timeToFirstTokenMs: number;
  /** Median load time of the runs that loaded it; absent when none did. */
  loadMs?: number;
  /** Model calls measured. */
  samples: number;
}

export interface PlanInput {
  pipeline: Pick<Pipeline, "stages">;
  /** Stages that do not run (a rerun reuses their stored outputs). */
  skipStages?: ReadonlySet<string>;
  /** Stages the stage cache would serve (found there for this input): their calls load and cost nothing. */
  cachedStages?: ReadonlySet<string>;
  models: Record<string, PlanModel>;
  /** The most tokens each model of a stage may generate (its resolved `max_tokens`). */
  maxTokens: (stageId: string, model: string) => number;
  /** Measured rates by model name; absent: no measurement yet. */
  rates: Record<string, MeasuredRates | undefined>;
  memory: {
    freeRam: number;
    /** Free VRAM; absent on a CPU. */
    freeVram?: number;
    /** Share of free memory a run may take (models.yaml's `memory_safety`). */
    safety: { ram: number; vram: number };
    /** RAM the loaded models may take together (the pool's budget). */
    budget: number;
    maxLoadedModels: number;
    /**
     * Models loaded now, least recently used first: their pool entry (a model's `loadKey`), a name to show
     * and their resident estimates (idle: the pool may unload them); `vram` absent: none on a GPU.
     */
    loaded: Array<{ key: string; name: string; ram: number; vram?: number }>;
  };
}

/** What one model call of a stage does to the pool. */
export interface PlanStep {
  stageId: string;
  model: string;
  /** `load`: loaded for this call; `warm`: already loaded; `remote`: served over HTTP; `cached`: the stage cache answers, no model is called. */
  action: "load" | "warm" | "remote" | "cached";
  /** Models the pool unloads before this load (least recently used first). */
  unloads: string[];
  /** Estimated milliseconds (load + first token + decode of max_tokens); absent: no measurement yet. */
  estimatedMs?: number;
  maxTokens: number;
}

/** Why a plan does not fit, with the values its message names. */
export type PlanProblem =
  | { code: "ram"; model: string; need: number; available: number }
  | { code: "vram"; model: string; need: number; available: number }
  | { code: "budget"; model: string; need: number; budget: number };

/** A setting to change, most helpful first. */
export type PlanAdvice = "context_size" | "quantization" | "gpu_layers" | "max_loaded_models" | "memory_safety";

export interface RunPlan {
  fits: boolean;
  steps: PlanStep[];
  /** The models the pipeline uses, in order of first use. */
  models: PlanModel[];
  /** Largest RAM the run's models take at once (of what the pool holds, models loaded before included). */
  peakRam: number;
  peakVram: number;
  freeRam: number;
  freeVram?: number;
  safety: { ram: number; vram: number };
  /** Free memory after the safety coefficients: what the run may use. */
  usableRam: number;
  usableVram?: number;
  budget: number;
  maxLoadedModels: number;
  rates: Record<string, MeasuredRates | undefined>;
  /** Sum of the local steps' estimates; absent when one has none, or when every step is remote. */
  estimatedMs?: number;
  /**
   * Remote models whose calls the estimate leaves out (no rates are measured for them): when any,
   * `estimatedMs` is the local part of the run only.
   */
  notEstimated: string[];
  /** Models with no measured rates yet. */
  unmeasured: string[];
  problems: PlanProblem[];
  advice: PlanAdvice[];
}

/** Computes the plan (see the module's comment). */
export function planRun(input: PlanInput): RunPlan {
  const { memory } = input;
  const usableRam = memory.freeRam * memory.safety.ram;
  const usableVram = memory.freeVram === undefined ? undefined : memory.freeVram * memory.safety.vram;
  // The pool as the worker keeps it: entry -> resident bytes, in order of last use (oldest first).
  const pool = new Map<string, Resident>(memory.loaded.map((entry) => [entry.key, { ram: entry.ram, vram: entry.vram ?? 0 }]));
  const shownAs = new Map<string, string>(memory.loaded.map((entry) => [entry.key, entry.name]));
  const held = (part: keyof Resident) => [...pool.values()].reduce((sum, entry) => sum + entry[part], 0);
  // Free memory is measured with the loaded models in it: what one of them gives back on unload is free again.
  let spareRam = usableRam;
  let spareVram = usableVram ?? 0;
  let peakRam = held("ram");
  let peakVram = held("vram");
  const steps: PlanStep[] = [];
  const problems: PlanProblem[] = [];
  const used: PlanModel[] = [];
  const byId = new Map(input.pipeline.stages.map((stage) => [stage.id, stage]));
  for (const stageId of topologicalOrder(input.pipeline)) {
    if (input.skipStages?.has(stageId)) continue;
    const stage = byId.get(stageId)!;
    for (const name of stageModels(stage)) {
      const model = input.models[name];
      if (!model) continue;
      const maxTokens = input.maxTokens(stageId, name);
      if (input.cachedStages?.has(stageId)) {
        steps.push({ stageId, model: name, action: "cached", unloads: [], maxTokens, estimatedMs: 0 });
        continue;
      }
      if (!used.includes(model)) used.push(model);
      const rates = input.rates[name];
      if (model.remote) {
        steps.push({ stageId, model: name, action: "remote", unloads: [], maxTokens });
        continue;
      }
      const need: Resident = { ram: model.estimate?.ram ?? 0, vram: model.estimate?.vram ?? 0 };
      const key = model.loadKey ?? name;
      if (!shownAs.has(key)) shownAs.set(key, name);
      const warm = pool.has(key);
      const unloads: string[] = [];
      if (warm) {
        // Used again: it becomes the most recently used.
        const entry = pool.get(key)!;
        pool.delete(key);
        pool.set(key, entry);
      } else {
        // The worker's `evict` counts RAM against the budget; VRAM is freed with the model all the same.
        for (const [other, entry] of [...pool]) {
          if (pool.size <= memory.maxLoadedModels - 1 && held("ram") + need.ram <= memory.budget) break;
          pool.delete(other);
          unloads.push(shownAs.get(other) ?? other);
          spareRam += entry.ram;
          spareVram += entry.vram;
        }
        if (need.ram > memory.budget) problems.push({ code: "budget", model: name, need: need.ram, budget: memory.budget });
        else if (need.ram > spareRam) problems.push({ code: "ram", model: name, need: need.ram, available: Math.max(0, spareRam) });
        if (usableVram !== undefined && need.vram > spareVram) problems.push({ code: "vram", model: name, need: need.vram, available: Math.max(0, spareVram) });
        spareRam -= need.ram;
        spareVram -= need.vram;
        pool.set(key, need);
        peakRam = Math.max(peakRam, held("ram"));
        peakVram = Math.max(peakVram, held("vram"));
      }
      const action = warm ? "warm" : "load";
      const loadMs = action === "load" ? rates?.loadMs : 0;
      const estimatedMs = rates && rates.tokensPerSecond > 0 && loadMs !== undefined ? loadMs + rates.timeToFirstTokenMs + (maxTokens / rates.tokensPerSecond) * 1000 : undefined;
      steps.push({ stageId, model: name, action, unloads, maxTokens, ...(estimatedMs === undefined ? {} : { estimatedMs }) });
    }
  }
  const unmeasured = used.filter((model) => !model.remote && input.rates[model.name] === undefined).map((model) => model.name);
  const estimated = steps.filter((step) => step.action !== "remote");
  const notEstimated = used.filter((model) => model.remote).map((model) => model.name);
  return {
    fits: problems.length === 0,
    steps,
    models: used,
    peakRam,
    peakVram,
    freeRam: memory.freeRam,
    ...(memory.freeVram === undefined ? {} : { freeVram: memory.freeVram, usableVram }),
    safety: memory.safety,
    usableRam,
    budget: memory.budget,
    maxLoadedModels: memory.maxLoadedModels,
    rates: Object.fromEntries(used.map((model) => [model.name, input.rates[model.name]])),
    ...(estimated.length > 0 && estimated.every((step) => step.estimatedMs !== undefined) ? { estimatedMs: estimated.reduce((sum, step) => sum + step.estimatedMs!, 0) } : {}),
    notEstimated,
    unmeasured,
    problems,
    advice: adviceFor(problems, input, pool.size),
  };
}

/** What to change so that the plan fits, from what its problems are made of. */
function adviceFor(problems: PlanProblem[], input: PlanInput, poolSize: number): PlanAdvice[] {
  const advice = new Set<PlanAdvice>();
  for (const problem of problems) {
    const parts = input.models[problem.model]?.estimate?.parts;
    if (problem.code === "vram") advice.add("gpu_layers");
    // A context that takes a quarter or more of the estimate is worth making smaller.
    if (parts && parts.context >= (problem.need - parts.overhead) / 4) advice.add("context_size");
    advice.add("quantization");
    if (problem.code === "budget") advice.add("memory_safety");
    if (problem.code === "ram" && (input.memory.loaded.length > 0 || poolSize > 1)) advice.add("max_loaded_models");
  }
  return [...advice];
}

/**
 * Rates of each model file measured in past sessions (their stages' metrics), keyed by the file as
 * models.yaml writes it: medians of the decode rate, the time to first token and the load time. Calls
 * that made fewer than two tokens have no decode rate and are left out.
 */
export function measuredRates(sessions: ReadonlyArray<Pick<SessionRecord, "models" | "stages">>): Map<string, MeasuredRates> {
  const samples = new Map<string, { rates: number[]; firstToken: number[]; loads: number[] }>();
  for (const session of sessions) {
    for (const record of Object.values(session.stages)) {
      // A reused stage, or one served from the stage cache, carries copies of the figures of the run
      // that computed it: counted once, there.
      if (record.reused || record.cached) continue;
      const outputs = [...(record.models ?? []), ...(record.aggregation?.method === "synthesis" ? [record.aggregation.output] : [])];
      for (const output of outputs) {
        const file = session.models[output.model]?.file;
        if (!file || output.error || output.metrics.tokensPerSecond <= 0) continue;
        const entry = samples.get(file) ?? { rates: [], firstToken: [], loads: [] };
        samples.set(file, entry);
        entry.rates.push(output.metrics.tokensPerSecond);
        entry.firstToken.push(output.metrics.timeToFirstTokenMs);
        if (output.load?.loaded) entry.loads.push(output.load.loadMs);
      }
    }
  }
  return new Map(
    [...samples].map(([file, entry]) => [
      file,
      { tokensPerSecond: median(entry.rates), timeToFirstTokenMs: median(entry.firstToken), ...(entry.loads.length > 0 ? { loadMs: median(entry.loads) } : {}), samples: entry.rates.length },
    ]),
  );
}
