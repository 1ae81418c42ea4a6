/**
 * The one place that wires configs, the inference runtime, the engine and the session store together.
 * The CLI and the web server are thin adapters over a `Studio`.
 */
import { ProjectLlmError, errorMessage, errorParams, isInterruption, mergeSignals, StatOnce } from "../common/index.js";
import { SessionCheckpoints, storageFailed, writeWithRetries } from "./checkpoints.js";
import {
  assertValid,
  ensureWorkingConfig,
  isRemoteEntry,
  listPipelines,
  loadModelsConfig,
  loadModelsFile,
  loadPipeline,
  loadPipelineFile,
  pipelineFileKeys,
  pipelineFromValue,
  resolveGenerationParams,
  resolveModel,
  resolvePaths,
  validateSetup,
  type ConfigIssue,
  type Environment,
  type GenerationParams,
  type LoadedModelsConfig,
  type LoadedPipeline,
  type Pipeline,
} from "../config/index.js";
import { planRerun, runPipeline, stageModels, stagesInCache, type InferencePort, type RunEvent, type StageRecord } from "../engine/index.js";
import { configuredLoadKey, createRuntime, inspectModels, RemotePort, routeInference, systemMemory, type ModelFacts, type Runtime } from "../runtime/index.js";
import { measuredRates, planRun, type MeasuredRates, type PlanModel, type RunPlan } from "./plan.js";
import { planRefusal } from "./plan-refusal.js";
import {
  FileSessionStore,
  FileStageCache,
  assertRunId,
  installedVersion,
  modelIdentity,
  newRunId,
  processOwner,
  type SessionRecord,
  type SessionStore,
  type StageCacheRuntime,
} from "../store/index.js";
import path from "node:path";

export interface StudioOptions {
  env?: Environment;
  cwd?: string;
  /**
   * The project's own folder, with `config/*.example.yaml` and the compiled worker `dist/runtime/worker.js`;
   * default `cwd`. The CLI sets it, since it may run from any folder.
   */
  packageRoot?: string;
  /** A runtime to share (tests); by default the studio creates and owns one. */
  runtime?: Runtime;
  /** A models file named by path (the CLI's `--models FILE`), read instead of the config folder's models.yaml. */
  modelsFile?: string;
}

/**
 * How a pipeline runs. `base`: a file's `base_pipeline`, refused while a model it marks
 * `required_for_base` is missing. `manual`: the pipeline a file holds, whatever its one top key, without
 * that check. By default the base pipeline runs as `base` and any other as `manual`.
 */
export type PipelineMode = "base" | "manual";

/** A pipeline sent with a run instead of named (the editor's canvas, unsaved): checked as a file is. */
export interface InlinePipeline {
  /** The pipeline object (`{ name?, description?, stages }`), as a pipeline file holds it. */
  pipeline: unknown;
  /** The saved pipeline it was edited from, if any: the session's `pipelineName` (default "unsaved"). */
  basedOn?: string;
}

export interface RunOptions {
  /** `base` (default), another pipeline's name, or a path to a pipeline file (ends in .yaml or .yml). */
  pipeline?: string;
  /** See `PipelineMode`. */
  mode?: PipelineMode;
  /** A pipeline given whole instead of by `pipeline`; its session is marked `inlinePipeline`. */
  inline?: InlinePipeline;
  input: string;
  /** The run's id, chosen by the caller (a new one, see `newRunId`); one is made when absent. */
  id?: string;
  /** Events sent before the run began (`run-queued`, while it waited for a place): its session starts with them. */
  queuedEvents?: RunEvent[];
  /** Who runs it (a user of the studio's access control); "local" when absent. */
  user?: string;
  /** The run is a call of the OpenAI-compatible API (see `SessionRecord.api`). */
  api?: { model: string };
  /**
   * Generation parameters over each named stage's own, and over its synthesis's own (they win over the
   * pipeline's); the session keeps the pipeline with them, as it ran.
   */
  params?: Record<string, GenerationParams>;
  /** Whether deterministic stages may be served from (and stored in) the stage cache; default true. */
  cache?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** Called once the session file exists (written as the run starts; its stages do not wait for it). */
  onSession?: (id: string) => void;
}

export interface RerunOptions {
  fromStage: string;
  /** The new run's id, chosen by the caller; one is made when absent. */
  id?: string;
  /** Who runs it; "local" when absent. */
  user?: string;
  /** A new input; stages that read the user's input are then recomputed too. */
  input?: string;
  /** Generation parameters over each named stage's own. */
  params?: Record<string, GenerationParams>;
  /** Whether the stages it computes again may be served from (and stored in) the stage cache; default true. */
  cache?: boolean;
  /** Events sent before the run began (`run-queued`, while it waited for a place): its session starts with them. */
  queuedEvents?: RunEvent[];
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  onSession?: (id: string) => void;
}

/** Completed sessions whose stage metrics give the plan its measured rates (the latest ones). */
const ratesSessions = 40;

const isPipelineFile = (name: string) => /\.ya?ml$/i.test(name);

/** A usage error: the base mode asked of a file (or a named pipeline) that has no `base_pipeline`. */
function noBasePipeline(file: string, keys: readonly string[]): ProjectLlmError {
  const top = keys.length === 0 ? "it has no top key" : `its top key${keys.length > 1 ? "s are" : " is"} ${keys.map((key) => `"${key}"`).join(", ")}`;
  return new ProjectLlmError("usage", `${file} has no base_pipeline (${top}): the base mode runs a file's base pipeline; run this one with --mode manual`);
}

/** A copy of the pipeline with `params` over the named stages' parameters (and their synthesis's). */
function withStageParams(pipeline: Pipeline, params: Record<string, GenerationParams>): Pipeline {
  const copy = structuredClone(pipeline);
  for (const [stageId, stageParams] of Object.entries(params)) {
    const stage = copy.stages.find((candidate) => candidate.id === stageId);
    if (!stage) throw new ProjectLlmError("usage", `no stage "${stageId}" to set parameters on; the stages are ${copy.stages.map((candidate) => candidate.id).join(", ")}`);
    stage.params = { ...stage.params, ...stageParams };
    if (stage.type === "multi" && stage.aggregation.method === "synthesis") stage.aggregation.params = { ...stage.aggregation.params, ...stageParams };
  }
  return copy;
}

export class Studio {
  readonly paths: ReturnType<typeof resolvePaths>;
  readonly sessions: SessionStore;
  /** Completed deterministic stages by signature, beside the sessions they were computed in. */
  readonly stageCache: FileStageCache;
  #runtime: Runtime | undefined;
  /** `runtime.gpu` the runtime was started with (unknown for a runtime given to the studio). */
  #runtimeGpu: LoadedModelsConfig["config"]["runtime"]["gpu"] | undefined;
  readonly #ownsRuntime: boolean;
  /** Set by `dispose`: no worker may start after it. */
  #disposed = false;
  readonly #cwd: string;
  readonly #packageRoot: string;
  readonly #modelsFile: string | undefined;
  /** The copy of the example configs into a config folder that lacks them, made once (see `ensureConfig`). */
  #configEnsured: Promise<void> | undefined;
  /** Remote models go over HTTP; local ones to the runtime, whose worker starts only when one is called. */
  readonly #port: InferencePort;
  /** The worker's estimates by file identity and load settings: a run's plan costs a `stat` per model. */
  readonly #facts = new Map<string, Promise<ModelFacts>>();
  /** What a past session tells of its models' rates (sessions that have ended do not change). */
  readonly #sessionRates = new Map<string, Pick<SessionRecord, "models" | "stages">>();

  private constructor(options: StudioOptions, runtime: Runtime | undefined) {
    this.#cwd = options.cwd ?? process.cwd();
    this.#packageRoot = options.packageRoot ?? this.#cwd;
    this.#modelsFile = options.modelsFile === undefined ? undefined : path.resolve(/*turbopackIgnore: true*/ this.#cwd, options.modelsFile);
    this.paths = resolvePaths(options.env ?? process.env, this.#cwd);
    this.sessions = new FileSessionStore(this.paths.sessionsDir);
    this.stageCache = new FileStageCache(path.join(this.paths.sessionsDir, "stage-cache"), this.sessions);
    this.#ownsRuntime = runtime === undefined;
    this.#runtime = runtime;
    // API keys are read from the studio's environment, by the names models.yaml gives (`api_key_env`).
    this.#port = routeInference({ local: () => this.runtime(), remote: new RemotePort({ env: options.env ?? process.env }) });
  }

  /** The inference runtime, created on first use with the `runtime` settings of models.yaml. */
  async runtime(): Promise<Runtime> {
    if (!this.#runtime) {
      const config = (await this.loadModels()).config;
      const settings = config.runtime;
      this.#runtimeGpu = settings.gpu;
      // A container's limit, not the host's memory (see systemMemory).
      const { total } = await systemMemory();
      // Closed meanwhile: no worker is started that nobody would stop.
      if (this.#disposed && !this.#runtime) throw new ProjectLlmError("internal", "the studio has been closed");
      this.#runtime ??= createRuntime({
        workerPath: path.join(this.#packageRoot, "dist", "runtime", "worker.js"),
        gpu: settings.gpu,
        maxLoadedModels: settings.max_loaded_models,
        idleUnloadSeconds: settings.idle_unload_seconds,
        parallel: settings.parallel,
        batch: settings.batch,
        memoryBudgetBytes: total * config.memory_safety.ram,
        cpuAffinity: settings.cpu_affinity !== false,
        // Beside the sessions, as the stage cache is (a folder, not a .json the store would take for a session).
        estimatesFile: path.join(this.paths.sessionsDir, "memory-estimates", "contexts.json"),
        // And what batching measured on this machine, with them.
        batchFile: path.join(this.paths.sessionsDir, "memory-estimates", "batching.json"),
      });
    }
    return this.#runtime;
  }

  /** Opens a studio over the folders named by the environment (see `resolvePaths`). */
  static open(options: StudioOptions = {}): Studio {
    return new Studio(options, options.runtime);
  }

  /**
   * Whether the working config may be made from the examples in the config folder: only in the project's
   * own `config/` or in a folder named by `PROJECT_LLM_CONFIG_DIR`, never in whatever folder a command
   * happens to run in.
   */
  get createsConfig(): boolean {
    return this.paths.configDirNamed || this.paths.configDir === path.join(path.resolve(/*turbopackIgnore: true*/ this.#packageRoot), "config");
  }

  /** Creates `models.yaml` and `pipeline.yaml` from the examples when they are absent (see `createsConfig`). */
  async ensureConfig(): Promise<string[]> {
    if (!this.createsConfig) return [];
    // One copy of the examples at a time: a run reads models.yaml and its pipeline at once, and of two
    // copies racing, one would read a file the other is still writing.
    // The first caller hears which files were made; the others wait for them and hear nothing.
    if (this.#configEnsured) return this.#configEnsured.then(() => []);
    const copying = ensureWorkingConfig(this.paths.configDir, path.join(this.#packageRoot, "config"));
    // A failed copy is tried again by the next call (the failure goes to this caller; a waiter's read then says what is missing).
    this.#configEnsured = copying.then(
      () => undefined,
      () => {
        this.#configEnsured = undefined;
      },
    );
    return copying;
  }

  /**
   * Opens the session store, if it is not open, without waiting for it: a run's session is created once
   * its plan is made, and a store opened then (its index read in a thread of its own, its folder listed)
   * took the cores from a cold run's model load (the 260K chain's load ~25 ms slower, its first token
   * ~10 ms: BENCHMARKS.md, "A cold run"). Opened as the run starts, that work overlaps the worker's own
   * start instead. A store that cannot open says why when the session is created.
   */
  #openSessions(): void {
    this.sessions.open().catch(() => undefined);
  }

  async loadModels(): Promise<LoadedModelsConfig> {
    if (this.#modelsFile !== undefined) return loadModelsFile(this.#modelsFile, { modelsDirOverride: this.paths.modelsDirOverride });
    await this.ensureConfig();
    return loadModelsConfig(this.paths.configDir, { modelsDirOverride: this.paths.modelsDirOverride });
  }

  /**
   * `base`, a pipeline's name, or a pipeline file's path. In the `base` mode the pipeline must be a
   * `base_pipeline`; in the `manual` mode a file's one top key may have any name. The config folder's own
   * `pipeline.yaml`, named by its path, is still `base` (outside the manual mode).
   */
  async loadPipeline(name = "base", mode?: PipelineMode): Promise<LoadedPipeline> {
    if (!isPipelineFile(name)) {
      await this.ensureConfig();
      const loaded = await loadPipeline(this.paths.configDir, name);
      if (mode === "base" && loaded.root[0] !== "base_pipeline") throw noBasePipeline(loaded.file, loaded.root);
      return loaded;
    }
    const file = path.resolve(/*turbopackIgnore: true*/ this.#cwd, name);
    if (mode === "base") {
      const keys = await pipelineFileKeys(file);
      if (!keys.includes("base_pipeline")) throw noBasePipeline(file, keys);
    }
    const isBase = mode !== "manual" && file === path.join(this.paths.configDir, "pipeline.yaml");
    return loadPipelineFile(file, { name: isBase ? "base" : name, keys: mode === "manual" ? "any" : "standard" });
  }

  async listPipelines(): Promise<string[]> {
    await this.ensureConfig();
    return listPipelines(this.paths.configDir);
  }

  /** Every error and warning of the configs and of one pipeline (all pipelines when none is named). */
  async validate(name?: string, mode?: PipelineMode): Promise<{ errors: ConfigIssue[]; warnings: ConfigIssue[] }> {
    const models = await this.loadModels();
    const listed = name ? [name] : await this.listPipelines();
    // With no pipeline at all, loading the base one says which file is missing.
    const names = listed.length > 0 ? listed : ["base"];
    const errors: ConfigIssue[] = [];
    const warnings: ConfigIssue[] = [];
    for (const pipelineName of names) {
      const pipeline = await this.loadPipeline(pipelineName, mode);
      const result = await validateSetup({ models, pipeline, isBase: mode ? mode === "base" : pipeline.name === "base" });
      errors.push(...result.errors);
      warnings.push(...result.warnings);
    }
    return { errors, warnings };
  }

  /** The model registry: every configured model (or the one named) with its file's facts, memory needs and fit. */
  async models(only?: string) {
    const models = await this.loadModels();
    const entries = Object.fromEntries(
      Object.entries(models.config.models)
        .filter(([name]) => only === undefined || name === only)
        .map(([name, entry]) => {
          const resolved = resolveModel(models, name);
          if (isRemoteEntry(entry)) return [name, { file: "", path: "", remote: resolved.remote, load: resolved.load, requiredForBase: false }];
          return [name, { file: entry.file, path: resolved.path, declaredQuantization: entry.quantization, load: resolved.load, requiredForBase: entry.required_for_base }];
        }),
    );
    return inspectModels({ models: entries, runtime: await this.runtime(), memorySafety: models.config.memory_safety });
  }

  /**
   * Checks what `run` would run, as `run` does before it starts: rejects with the same errors, runs
   * nothing. Without `input` the stage cache is not looked up (its keys need the input).
   */
  async check(options: Pick<RunOptions, "pipeline" | "mode" | "inline" | "params" | "cache"> & { input?: string }): Promise<void> {
    const stats = new StatOnce();
    const { models, pipeline } = await this.#prepare(options, stats);
    const stages = options.params ? withStageParams(pipeline.pipeline, options.params) : pipeline.pipeline;
    await this.#refuseUnlessFits(models, stages, { input: options.input, cache: options.cache !== false, reuse: {} }, stats);
  }

  /** The stages the stage cache would serve a run of `pipeline` on `input` (see `stagesInCache`). */
  async #cachedStages(models: LoadedModelsConfig, pipeline: Pipeline, input: string, reuse: Record<string, StageRecord>): Promise<Set<string>> {
    return stagesInCache({
      pipeline,
      input,
      reuse,
      cache: this.stageCache.forRun("", await this.#cacheRuntime(models)),
      resolveModel: (name) => resolveModel(models, name),
      resolveParams: (name, params) => resolveGenerationParams(models, name, params),
    });
  }

  /**
   * Refuses a run whose plan does not fit (see core/plan.ts), before any load. Stages the stage cache
   * would serve (see `stagesInCache`) call no model: a run they all are is not planned; when the plan of
   * every stage does not fit, they are left out of it, so that a run answered from the cache is never
   * refused for memory it would not use.
   */
  async #refuseUnlessFits(models: LoadedModelsConfig, pipeline: Pipeline, run: { input?: string; cache: boolean; reuse: Record<string, StageRecord> }, stats: StatOnce): Promise<void> {
    const skip = new Set(Object.keys(run.reuse));
    const cached = run.cache && run.input !== undefined ? await this.#cachedStages(models, pipeline, run.input, run.reuse) : new Set<string>();
    // A run the stage cache answers whole loads nothing: nothing to refuse, and no model's facts to wait
    // for (a worker's start: a CLI's rerun of the unchanged demo took 2.2 s, now ~1).
    if (pipeline.stages.every((stage) => skip.has(stage.id) || cached.has(stage.id))) return;
    const plan = await this.#plan(models, pipeline, { rates: false, skip, stats });
    if (plan.fits || cached.size === 0) return planRefusal(plan);
    planRefusal(await this.#plan(models, pipeline, { rates: false, skip: new Set([...skip, ...cached]), stats }));
  }

  /**
   * The plan of a run (see core/plan.ts): the models it loads in order, what the pool keeps or unloads,
   * memory against free RAM and VRAM, and the time from rates measured in past sessions. With the run's
   * `input` (and the cache not turned off), the stages the stage cache would serve are marked `cached`:
   * they load nothing and take no time. Rejects as `run` does on a bad config; a plan that does not fit is
   * answered, not thrown.
   */
  async plan(options: Pick<RunOptions, "pipeline" | "mode" | "inline" | "cache"> & { input?: string }): Promise<RunPlan> {
    const stats = new StatOnce();
    const { models, pipeline } = await this.#prepare(options, stats);
    const cached = options.input === undefined || options.cache === false ? undefined : await this.#cachedStages(models, pipeline.pipeline, options.input, {});
    return this.#plan(models, pipeline.pipeline, { rates: true, stats, ...(cached && cached.size > 0 ? { cached } : {}) });
  }

  async #plan(models: LoadedModelsConfig, pipeline: Pipeline, options: { rates: boolean; skip?: ReadonlySet<string>; cached?: ReadonlySet<string>; stats: StatOnce }): Promise<RunPlan> {
    const names = [...new Set(pipeline.stages.filter((stage) => !options.skip?.has(stage.id)).flatMap(stageModels))];
    // Models only cached stages use are named in the plan, not inspected: they are not loaded.
    const inspected = new Set(pipeline.stages.filter((stage) => !options.skip?.has(stage.id) && !options.cached?.has(stage.id)).flatMap(stageModels));
    // The worker starts only for a pipeline with a local model (a remote-only one never needs it).
    let runtime: Runtime | undefined;
    const planModels: Record<string, PlanModel> = {};
    const inspections: Array<Promise<void>> = [];
    for (const name of names) {
      const resolved = resolveModel(models, name);
      const entry = models.config.models[name]!;
      const planModel: PlanModel = { name, contextSize: resolved.load.context_size, gpuLayers: resolved.load.gpu_layers };
      planModels[name] = planModel;
      if (resolved.remote) {
        planModel.remote = { baseUrl: resolved.remote.baseUrl, model: resolved.remote.model };
        continue;
      }
      if (entry.backend === "local") planModel.file = entry.file;
      planModel.loadKey = configuredLoadKey(resolved.path, { contextSize: resolved.load.context_size, gpuLayers: resolved.load.gpu_layers, batchSize: resolved.load.batch_size });
      if (!inspected.has(name)) continue;
      try {
        runtime ??= await this.runtime();
      } catch (error) {
        planModel.error = errorMessage(error);
        continue;
      }
      // The models' facts are asked for all at once (each a stat while known): the plan is on the path to a run's first token.
      inspections.push(
        this.#inspect(runtime, resolved.path, resolved.load, options.stats).then(
          (facts) => {
            planModel.estimate = { ram: facts.resident.ram, vram: facts.resident.vram, parts: facts.resident.parts };
          },
          (error: unknown) => {
            // A file that cannot be read fails its stage as it always did; the plan says it has no estimate.
            planModel.error = errorMessage(error);
          },
        ),
      );
    }
    const [status, system] = await Promise.all([runtime ? runtime.status() : { loaded: [], vram: undefined }, systemMemory(), ...inspections]);
    // By the load as configured: node-llama-cpp rounds the context up (a context of 1000 tokens is one of
    // 1024). Loads under one key (threads resolved otherwise) count as one, with the memory of both, placed
    // as the most recently used of them.
    const byKey = new Map<string, { key: string; name: string; ram: number; vram: number }>();
    for (const entry of status.loaded.slice().sort((a, b) => a.lastUsedAt - b.lastUsedAt)) {
      const key = configuredLoadKey(entry.path, entry.load);
      const earlier = byKey.get(key);
      byKey.delete(key);
      const name = names.find((candidate) => planModels[candidate]!.loadKey === key) ?? path.basename(entry.path);
      byKey.set(key, { key, name, ram: entry.memoryBytes + (earlier?.ram ?? 0), vram: entry.vramBytes + (earlier?.vram ?? 0) });
    }
    const loaded = [...byKey.values()];
    const rates = options.rates ? await this.#rates(models, names) : {};
    return planRun({
      pipeline,
      skipStages: options.skip,
      ...(options.cached ? { cachedStages: options.cached } : {}),
      models: planModels,
      maxTokens: (stageId, model) => {
        const stage = pipeline.stages.find((candidate) => candidate.id === stageId)!;
        // A synthesis model that is not one of the stage's own answers with the synthesis's parameters.
        const params = stage.type === "multi" && stage.aggregation.method === "synthesis" && stage.aggregation.model === model && !stage.models.includes(model) ? stage.aggregation.params : stage.params;
        return resolveGenerationParams(models, model, params).max_tokens;
      },
      rates,
      memory: {
        freeRam: system.free,
        ...(status.vram ? { freeVram: status.vram.free } : {}),
        safety: models.config.memory_safety,
        budget: system.total * models.config.memory_safety.ram,
        maxLoadedModels: models.config.runtime.max_loaded_models,
        loaded,
      },
    });
  }

  async #inspect(runtime: Runtime, file: string, load: { context_size: number; gpu_layers: "auto" | "max" | number; threads: "auto" | number; batch_size?: number }, stats: StatOnce): Promise<ModelFacts> {
    const info = await stats.get(file);
    // A worker that learned what a load repacks estimates again (see the runtime's `estimatesChanged`).
    const key = JSON.stringify([file, info.size, info.mtimeMs, load.context_size, load.gpu_layers, load.threads, load.batch_size ?? null, runtime.stats().estimatesChanged]);
    let facts = this.#facts.get(key);
    if (!facts) {
      if (this.#facts.size >= 256) this.#facts.clear();
      facts = runtime.inspect(file, { contextSize: load.context_size, gpuLayers: load.gpu_layers, threads: load.threads, batchSize: load.batch_size });
      this.#facts.set(key, facts);
      facts.catch(() => this.#facts.delete(key));
    }
    return facts;
  }

  /** Rates of the named models measured in the latest completed sessions (matched by model file). */
  async #rates(models: LoadedModelsConfig, names: string[]): Promise<Record<string, MeasuredRates>> {
    const page = await this.sessions.list({ status: "completed", limit: ratesSessions });
    const sessions: Array<Pick<SessionRecord, "models" | "stages">> = [];
    for (const summary of page.items) {
      let record = this.#sessionRates.get(summary.id);
      if (!record) {
        try {
          const session = await this.sessions.get(summary.id);
          record = { models: session.models, stages: session.stages };
        } catch {
          continue;
        }
        if (this.#sessionRates.size >= 4 * ratesSessions) this.#sessionRates.clear();
        this.#sessionRates.set(summary.id, record);
      }
      sessions.push(record);
    }
    const byFile = measuredRates(sessions);
    return Object.fromEntries(names.flatMap((name) => {
      const entry = models.config.models[name];
      const file = entry?.backend === "local" ? entry.file : undefined;
      const rates = file === undefined ? undefined : byFile.get(file);
      return rates ? [[name, rates]] : [];
    }));
  }

  async #prepare(options: Pick<RunOptions, "pipeline" | "mode" | "inline">, stats: StatOnce) {
    const inline = options.inline;
    if (inline && options.pipeline !== undefined) throw new ProjectLlmError("usage", "name a pipeline or send one, not both");
    // Both read at once (each a stat while unchanged); a bad models.yaml is reported before a bad pipeline.
    const modelsLoaded = this.loadModels();
    const pipelineLoaded = inline ? Promise.resolve().then(() => pipelineFromValue(inline.pipeline)) : this.loadPipeline(options.pipeline, options.mode);
    // A pipeline with a local model starts its inference worker while its setup is checked (the plan asks
    // the worker next; the worker's start takes most of a second); a remote-only one never needs it.
    Promise.all([modelsLoaded, pipelineLoaded])
      .then(async ([models, loaded]) => {
        if (!loaded.pipeline.stages.flatMap(stageModels).some((name) => models.config.models[name]?.backend === "local")) return;
        const runtime = await this.runtime();
        if (!this.#disposed) runtime.start();
      })
      .catch(() => undefined);
    const [modelsRead, pipelineRead] = await Promise.allSettled([modelsLoaded, pipelineLoaded]);
    if (modelsRead.status === "rejected") throw modelsRead.reason;
    if (pipelineRead.status === "rejected") throw pipelineRead.reason;
    const models = modelsRead.value;
    const pipeline = pipelineRead.value;
    const pipelineName = inline ? (inline.basedOn ?? "unsaved") : pipeline.name === "base" ? "base" : (options.pipeline ?? "base");
    // An unsaved pipeline is not the base pipeline, even when it was edited from it.
    const check = await validateSetup({ models, pipeline, isBase: !inline && (options.mode ? options.mode === "base" : pipelineName === "base"), stats });
    await assertValid(check);
    return { inline, models, pipeline, pipelineName, check };
  }

  /** Runs a pipeline and keeps it as a session; resolves with the session once the run has ended. */
  async run(options: RunOptions): Promise<SessionRecord> {
    this.#openSessions();
    // Each model file is stat'ed once for the run: its checks, plan and records share what was found.
    const stats = new StatOnce();
    const { inline, models, pipeline, pipelineName, check } = await this.#prepare(options, stats);
    const stages = options.params ? withStageParams(pipeline.pipeline, options.params) : pipeline.pipeline;
    // Refused before any load when its models cannot fit (see core/plan.ts).
    await this.#refuseUnlessFits(models, stages, { input: options.input, cache: options.cache !== false, reuse: {} }, stats);
    return this.#execute({
      stats,
      warnings: check.warnings,
      pipelineName,
      inlinePipeline: inline !== undefined,
      pipeline: stages,
      models,
      input: options.input,
      id: options.id,
      user: options.user,
      ...(options.api ? { api: options.api } : {}),
      cache: options.cache,
      reuse: {},
      queuedEvents: options.queuedEvents,
      signal: options.signal,
      onEvent: options.onEvent,
      onSession: options.onSession,
    });
  }

  /**
   * Reruns a session from one stage as a new branch: the stored outputs of every stage that is not
   * downstream of `fromStage` are reused, not recomputed. With a new input, the stages that read the
   * user's input (and everything downstream of them) are recomputed too, and the branch is marked
   * `inputEdited` (see `planRerun`).
   */
  async rerun(parentId: string, options: RerunOptions): Promise<SessionRecord> {
    const parent = await this.sessions.get(parentId);
    const pipeline = structuredClone(parent.pipeline as Pipeline);
    if (!pipeline.stages.some((stage) => stage.id === options.fromStage)) {
      throw new ProjectLlmError("usage", `session ${parentId} has no stage "${options.fromStage}"; its stages are ${pipeline.stages.map((stage) => stage.id).join(", ")}`);
    }
    for (const [stageId, params] of Object.entries(options.params ?? {})) {
      const stage = pipeline.stages.find((candidate) => candidate.id === stageId);
      if (!stage) throw new ProjectLlmError("usage", `no stage "${stageId}" to set parameters on`);
      stage.params = { ...stage.params, ...params };
    }
    const input = options.input ?? parent.input;
    const inputEdited = input !== parent.input;
    const plan = planRerun(pipeline, {
      fromStage: options.fromStage,
      inputEdited,
      paramsStageIds: Object.keys(options.params ?? {}),
      completedStageIds: Object.values(parent.stages).filter((record) => record.status === "completed").map((record) => record.stageId),
    });
    const reuse: Record<string, StageRecord> = {};
    for (const step of plan) if (step.reuse) reuse[step.stageId] = parent.stages[step.stageId]!;
    const models = await this.loadModels();
    const stats = new StatOnce();
    const check = await validateSetup({
      models,
      pipeline: { name: parent.pipelineName, pipeline, file: `session ${parent.id}`, root: ["pipeline"] },
      isBase: parent.pipelineName === "base" && !parent.inlinePipeline,
      stats,
    });
    // Models of reused stages need not be present any more: only the stages that run are checked.
    await assertValid({ ...check, errors: check.errors.filter((issue) => !issue.stageId || !(issue.stageId in reuse)) });
    await this.#refuseUnlessFits(models, pipeline, { input, cache: options.cache !== false, reuse }, stats);
    return this.#execute({
      stats,
      warnings: check.warnings,
      pipelineName: parent.pipelineName,
      inlinePipeline: parent.inlinePipeline === true,
      pipeline,
      models,
      input,
      id: options.id,
      user: options.user,
      cache: options.cache,
      reuse,
      parentRunId: parent.id,
      rerunFromStage: options.fromStage,
      inputEdited,
      queuedEvents: options.queuedEvents,
      signal: options.signal,
      onEvent: options.onEvent,
      onSession: options.onSession,
    });
  }

  async #execute(job: {
    /** The run's stat of each model file (see `StatOnce`). */
    stats: StatOnce;
    pipelineName: string;
    inlinePipeline?: boolean;
    /** Config warnings: carried by the run's `run-start` event (and so by its session). */
    warnings?: ConfigIssue[];
    pipeline: Pipeline;
    models: LoadedModelsConfig;
    input: string;
    id?: string;
    user?: string;
    api?: { model: string };
    cache?: boolean;
    reuse: Record<string, StageRecord>;
    parentRunId?: string;
    rerunFromStage?: string;
    /** A rerun whose input differs from its parent's. */
    inputEdited?: boolean;
    queuedEvents?: RunEvent[];
    signal?: AbortSignal;
    onEvent?: (event: RunEvent) => void;
    onSession?: (id: string) => void;
  }): Promise<SessionRecord> {
    const runId = job.id === undefined ? newRunId() : assertRunId(job.id);
    const usedModels = [...new Set(job.pipeline.stages.filter((stage) => !(stage.id in job.reuse)).flatMap(stageModels))];
    // Read at once; a failure is reported for the first model in the pipeline's order, as one after another did.
    const modelsRead = await Promise.allSettled(
      usedModels.map(async (name) => {
        const resolved = resolveModel(job.models, name);
        const entry = job.models.config.models[name]!;
        const params = resolveGenerationParams(job.models, name, {});
        // A remote model is recorded by where it was served (never its key): it has no file to identify.
        const record: SessionRecord["models"][string] = resolved.remote
          ? { file: "", path: "", remote: { baseUrl: resolved.remote.baseUrl, model: resolved.remote.model }, params }
          : { ...(await modelIdentity(resolved.path, await job.stats.get(resolved.path).catch(() => undefined))), file: "file" in entry ? entry.file : "", load: resolved.load, params };
        return [name, record] as const;
      }),
    );
    const modelRecords: SessionRecord["models"] = {};
    for (const read of modelsRead) {
      if (read.status === "rejected") throw read.reason;
      modelRecords[read.value[0]] = read.value[1];
    }
    const startedAt = Date.now();
    const session: SessionRecord = {
      version: 1,
      id: runId,
      parentRunId: job.parentRunId,
      rerunFromStage: job.rerunFromStage,
      ...(job.inputEdited ? { inputEdited: true } : {}),
      pipelineName: job.pipelineName,
      ...(job.inlinePipeline ? { inlinePipeline: true } : {}),
      ...(job.api ? { api: { model: job.api.model } } : {}),
      input: job.input,
      user: job.user ?? "local",
      status: "running",
      // Tells a studio that starts meanwhile that the run goes on here (see SessionStore.interruptRunning).
      owner: processOwner(),
      startedAt: new Date(startedAt).toISOString(),
      pipeline: job.pipeline,
      modelsConfig: job.models.config,
      models: modelRecords,
      stages: {},
      events: [...(job.queuedEvents ?? [])],
    };
    // The session file is written while the run starts (the write is not on the path to the first token,
    // and has no fsync: see `SessionStore.create`); `create` refuses an id already taken, and then the run
    // is stopped at once.
    const stop = new AbortController();
    const { signal, dispose } = mergeSignals(job.signal, stop.signal);
    const folder = this.paths.sessionsDir;
    const created = this.sessions.create(session).then(
      () => job.onSession?.(runId),
      (error: unknown) => {
        const failure = storageFailed(error, runId, folder);
        stop.abort(failure);
        throw failure;
      },
    );
    const createdOk = created.then(() => true, () => false);

    // While it runs, the session is written at each stage's end and while text streams (see
    // SessionCheckpoints): a server killed mid-run leaves what was written until then. Never before the
    // session exists: a checkpoint must not write over another session with a taken id.
    const checkpoints = new SessionCheckpoints({
      write: async () => {
        if (!(await createdOk)) return;
        const checkpointAt = new Date().toISOString();
        await this.sessions.save({ ...session, checkpointAt, stages: { ...session.stages }, events: session.events!.slice() });
      },
      onError: (error) => console.error(`sessions: a checkpoint of run ${runId} was not written (the run goes on): ${storageFailed(error, runId, folder).message}`),
    });

    const result = await runPipeline({
      runId,
      pipeline: job.pipeline,
      pipelineName: job.pipelineName,
      input: job.input,
      port: this.#port,
      resolveModel: (name) => resolveModel(job.models, name),
      resolveParams: (name, params) => resolveGenerationParams(job.models, name, params),
      reuse: job.reuse,
      ...(job.cache === false ? {} : { cache: this.stageCache.forRun(runId, await this.#cacheRuntime(job.models)) }),
      parentRunId: job.parentRunId,
      warnings: job.warnings,
      inlinePipeline: job.inlinePipeline,
      firstSeq: job.queuedEvents?.length ?? 0,
      signal,
      onStageRecord: (record) => {
        session.stages[record.stageId] = record;
        checkpoints.stageEnded();
      },
      onEvent: (event) => {
        session.events!.push(event);
        if (event.type === "stage-delta") checkpoints.textArrived();
        // `run-end` goes out once the session is written, and says how it was stored (see below).
        if (event.type === "run-end") return;
        forward(event);
      },
    });
    dispose();
    await checkpoints.close();
    await created;
    const endedAt = Date.now();
    // A run stopped because the process is stopping is `interrupted`, not cancelled by its user.
    session.status = result.status === "cancelled" && isInterruption(job.signal?.reason) ? "interrupted" : result.status;
    if (session.status === "interrupted") {
      const error = { code: "interrupted", message: errorMessage(job.signal?.reason) };
      session.events = session.events!.map((event) => (event.type === "run-end" ? { ...event, status: "interrupted", error } : event));
    }
    session.stages = result.stages;
    session.finalAnswer = result.finalAnswer;
    session.endedAt = new Date(endedAt).toISOString();
    session.durationMs = endedAt - startedAt;
    delete session.owner;
    delete session.checkpointAt;
    const ended = session.events!.find((event) => event.type === "run-end");
    if (ended?.type === "run-end" && ended.error) session.error = ended.error;
    try {
      await writeWithRetries(() => this.sessions.save(session), {
        onRetry: (error, delayMs) => console.error(`sessions: run ${runId} was not saved (${errorMessage(error)}); trying again in ${delayMs} ms`),
      });
    } catch (error) {
      // A run whose output is not stored is never reported as completed: it ends `failed`, saying why.
      const failure = storageFailed(error, runId, folder);
      console.error(`sessions: ${failure.message}`);
      session.status = "failed";
      session.error = { code: failure.code, message: failure.message, params: errorParams(failure) };
      delete session.finalAnswer;
      session.events = session.events!.map((event) => (event.type === "run-end" ? { ...event, status: "failed", finalAnswer: undefined, error: session.error } : event));
    }
    const runEnd = session.events!.find((event) => event.type === "run-end");
    if (runEnd) forward(runEnd);
    return session;

    function forward(event: RunEvent): void {
      try {
        job.onEvent?.(event);
      } catch (error) {
        console.error(`event listener failed: ${errorMessage(error)}`);
      }
    }
  }

  /**
   * Deletes a session and the stage cache's entries it stored (they hold its stages' input and output).
   * The session goes first: an entry left by a failure here points at no session, is never served, and
   * goes at its next lookup or at `sessions reindex`.
   */
  async deleteSession(id: string): Promise<void> {
    await this.sessions.delete(id);
    await this.stageCache.forget(id).catch((error: unknown) => {
      console.error(`stage cache: the entries of deleted session ${id} stay until "project-llm sessions reindex": ${errorMessage(error)}`);
    });
  }

  /** What runs this studio's local models, as the stage cache keys it (see `StageCacheRuntime`). */
  async #cacheRuntime(models: LoadedModelsConfig): Promise<StageCacheRuntime> {
    return { gpu: this.#runtimeGpu ?? models.config.runtime.gpu, nodeLlamaCpp: await installedVersion(this.#packageRoot, "node-llama-cpp") };
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    await this.sessions.flush();
    if (this.#ownsRuntime) await this.#runtime?.dispose();
  }
}
