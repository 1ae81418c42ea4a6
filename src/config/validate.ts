/**
 * Validation before any model loads: the graph (unique ids, known inputs, no cycle), the models named
 * (known, vote with two or more, synthesis named), and each model file used (inside the models folder,
 * a regular file, a GGUF by its header). Also how a model's parameters resolve.
 */
import { open, stat } from "node:fs/promises";
import path from "node:path";
import { fileMemo, type StatOnce } from "../common/index.js";
import { findCycle, inputIds, maxPipelineStages } from "../engine/graph.js";
import type { ResolvedGenerationParams, ResolvedModel } from "../engine/ports.js";
import { checkStageTemplates, findBraceSlips } from "../engine/templates.js";
import { closest, ConfigError, formatPath, type ConfigIssue } from "./issues.js";
import { fileQuantization, quantizationMatches } from "./quantization.js";
import type { LoadedModelsConfig, LoadedPipeline } from "./load.js";
import { isRemoteEntry, type GenerationParams, type LocalModelEntry, type ModelParams } from "./schema.js";

/** Parameters when neither models.yaml nor a stage sets them. */
export const builtInDefaults = {
  context_size: 2048,
  gpu_layers: "auto",
  threads: "auto",
  temperature: 0.7,
  top_p: 0.95,
  top_k: 40,
  min_p: 0.05,
  repeat_penalty: 1.1,
  max_tokens: 256,
  ignore_eos: false,
} as const satisfies ModelParams;

const loadKeys = ["context_size", "gpu_layers", "threads", "batch_size"] as const;

function mergedParams(models: LoadedModelsConfig, name: string): ModelParams {
  const entry = models.config.models[name];
  return { ...builtInDefaults, ...models.config.defaults, ...(entry?.overrides ?? {}) };
}

/** The absolute path of a model file; undefined when the configured path would leave the models folder. */
export function modelPath(modelsDirectory: string, file: string): string | undefined {
  if (path.isAbsolute(file) || file.split(/[\\/]/).includes("..")) return undefined;
  const resolved = path.resolve(/*turbopackIgnore: true*/ modelsDirectory, file);
  const relative = path.relative(modelsDirectory, resolved);
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) return undefined;
  return resolved;
}

/** A model as the runtime needs it: path and load parameters after defaults and overrides. */
export function resolveModel(models: LoadedModelsConfig, name: string): ResolvedModel {
  const entry = models.config.models[name];
  if (!entry) {
    const defined = Object.keys(models.config.models);
    throw new ConfigError("config-invalid", [
      {
        file: models.file,
        line: 0,
        column: 0,
        path: `models.${name}`,
        message: `no model "${name}"`,
        code: "unknown-model",
        params: { model: name, file: path.basename(models.file), models: defined.join(", "), count: defined.length },
      },
    ]);
  }
  const params = mergedParams(models, name);
  if (isRemoteEntry(entry)) {
    // Load parameters mean nothing for a model another server holds: `load` keeps the built-in values only
    // so that the type stays one shape; nothing reads them for a remote model.
    return {
      name,
      path: "",
      load: { context_size: builtInDefaults.context_size, gpu_layers: 0, threads: builtInDefaults.threads },
      remote: {
        baseUrl: entry.base_url,
        model: entry.model,
        ...(entry.api_key_env ? { apiKeyEnv: entry.api_key_env } : {}),
        timeoutMs: entry.timeout * 1000,
        connectTimeoutMs: entry.connect_timeout * 1000,
        maxRetries: entry.max_retries,
        ...(entry.cache ? { cache: true } : {}),
      },
    };
  }
  const filePath = modelPath(models.modelsDirectory, entry.file);
  if (!filePath) {
    throw new ConfigError("model-outside-directory", [
      {
        file: models.file,
        ...(models.yaml?.locate(["models", name, "file"]) ?? { line: 0, column: 0 }),
        path: `models.${name}.file`,
        message: `"${entry.file}" is outside the models folder ${models.modelsDirectory}`,
        code: "model-outside-folder",
        params: { file: entry.file, folder: models.modelsDirectory },
      },
    ]);
  }
  return {
    name,
    path: filePath,
    load: {
      context_size: params.context_size ?? builtInDefaults.context_size,
      gpu_layers: params.gpu_layers ?? builtInDefaults.gpu_layers,
      threads: params.threads ?? builtInDefaults.threads,
      ...(params.batch_size !== undefined ? { batch_size: params.batch_size } : {}),
    },
  };
}

/** Generation parameters: built-in < models.yaml defaults < the model's overrides < the stage's. */
export function resolveGenerationParams(models: LoadedModelsConfig, name: string, stageParams: GenerationParams = {}): ResolvedGenerationParams {
  const merged: Record<string, unknown> = { ...mergedParams(models, name), ...stageParams };
  for (const key of loadKeys) delete merged[key];
  return merged as ResolvedGenerationParams;
}

const ggufMagic = Buffer.from("GGUF", "ascii");

/**
 * Checks a file's first 8 bytes: the magic "GGUF" and a version from 1 to 3. Returns the problem (what the
 * file is, and its GGUF version when that is the problem), or undefined.
 */
export function ggufHeaderProblem(header: Uint8Array): { message: string; version?: number } | undefined {
  const bytes = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  if (bytes.length < 8 || !bytes.subarray(0, 4).equals(ggufMagic)) return { message: "is not a GGUF file (it does not start with the GGUF magic bytes)" };
  const version = bytes.readUInt32LE(4);
  if (version < 1 || version > 3) return { message: `has GGUF version ${version}; versions 1 to 3 are supported`, version };
  return undefined;
}

/** `ggufHeaderProblem` of a file on disk. */
export const checkGgufHeader = fileMemo(async (file: string): Promise<{ message: string; version?: number } | undefined> => {
  const handle = await open(file, "r");
  try {
    const header = Buffer.alloc(8);
    const { bytesRead } = await handle.read(header, 0, 8, 0);
    return ggufHeaderProblem(header.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
});

export interface ValidationResult {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** `stats`: the run's own stat of each file (see `StatOnce`), shared with its plan and its records. */
export async function validateSetup(options: { models: LoadedModelsConfig; pipeline: LoadedPipeline; isBase: boolean; stats?: StatOnce }): Promise<ValidationResult> {
  const { models, pipeline } = options;
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const stages = pipeline.pipeline.stages;
  const at = (stageIndex: number, keys: PropertyKey[], message: string, extra: Partial<ConfigIssue> = {}): ConfigIssue => {
    const keyPath = [...pipeline.root, "stages", stageIndex, ...keys];
    const place = pipeline.yaml?.locate(keyPath) ?? { line: 0, column: 0 };
    return { file: pipeline.file, ...place, path: formatPath(keyPath), message, stageId: stages[stageIndex]?.id, ...extra };
  };
  const modelNames = Object.keys(models.config.models);
  // Past the limit nothing else is looked at: each check below walks the stages, some of them pairwise.
  if (stages.length > maxPipelineStages) {
    const keyPath = [...pipeline.root, "stages"];
    const issue: ConfigIssue = {
      file: pipeline.file,
      ...(pipeline.yaml?.locate(keyPath) ?? { line: 0, column: 0 }),
      path: formatPath(keyPath),
      message: `the pipeline has ${stages.length} stages; a pipeline may have at most ${maxPipelineStages}`,
      code: "too-many-stages",
      params: { count: stages.length, limit: maxPipelineStages },
    };
    return { errors: [issue], warnings };
  }

  const seen = new Map<string, number>();
  stages.forEach((stage, index) => {
    const first = seen.get(stage.id);
    if (first !== undefined) errors.push(at(index, ["id"], `stage id "${stage.id}" is already used by stage ${first + 1}`, { code: "duplicate-stage-id", params: { id: stage.id, stage: first + 1 } }));
    else seen.set(stage.id, index);
  });
  const ids = [...seen.keys()];

  stages.forEach((stage, index) => {
    const inputs = inputIds(stage);
    inputs.forEach((id, position) => {
      const keys = typeof stage.input_from === "string" ? ["input_from"] : ["input_from", position];
      if (id === stage.id) errors.push(at(index, keys, `stage "${stage.id}" cannot take its input from itself`, { code: "input-from-itself", params: { id } }));
      else if (!seen.has(id)) {
        errors.push(at(index, keys, `unknown stage "${id}"`, { expected: `one of ${ids.join(", ")}`, suggestion: closest(id, ids), code: "unknown-stage", params: { id, stages: ids.join(", ") } }));
      }
    });
    const twice = inputs.find((id, position) => inputs.indexOf(id) !== position);
    if (twice !== undefined) errors.push(at(index, ["input_from"], "a stage is named twice", { code: "input-named-twice", params: { id: twice } }));
    const checkModel = (name: string, keys: PropertyKey[]) => {
      if (!(name in models.config.models)) {
        errors.push(
          at(index, keys, `unknown model "${name}": it is not in ${path.basename(models.file)}`, {
            expected: modelNames.length ? `one of ${modelNames.join(", ")}` : "a model defined in models.yaml",
            suggestion: closest(name, modelNames),
            code: "unknown-model",
            params: { model: name, file: path.basename(models.file), models: modelNames.join(", "), count: modelNames.length },
          }),
        );
      }
    };
    if (stage.type === "single") checkModel(stage.model, ["model"]);
    else {
      stage.models.forEach((name, position) => checkModel(name, ["models", position]));
      if (stage.aggregation.method === "vote" && stage.models.length < 2) {
        errors.push(at(index, ["models"], "a vote needs at least two models", { code: "vote-needs-two-models", params: { count: stage.models.length } }));
      }
      if (stage.aggregation.method === "synthesis") checkModel(stage.aggregation.model, ["aggregation", "model"]);
    }
    // Placeholders of the prompt, an aggregation template and a synthesis prompt: the engine's own check.
    for (const problem of checkStageTemplates(stage)) {
      const allowed = problem.allowed.map((name) => `{{${name}}}`).join(", ");
      errors.push(
        at(index, problem.field.split("."), `unknown placeholder {{${problem.placeholder}}}`, {
          expected: allowed,
          suggestion: closest(problem.placeholder, problem.allowed),
          code: "unknown-placeholder",
          params: { placeholder: `{{${problem.placeholder}}}`, allowed },
        }),
      );
    }
    // `{input}` is sent as it is: the run goes on, but never silently.
    for (const slip of findBraceSlips(stage)) {
      const keyPath = [...pipeline.root, "stages", index, ...slip.field.split(".")];
      warnings.push({
        ...at(index, slip.field.split("."), `${slip.text} is sent to the model as it is: did you mean ${slip.placeholder}?`, {
          code: "single-braces",
          params: { text: slip.text, placeholder: slip.placeholder },
        }),
        ...(pipeline.yaml?.locateInScalar(keyPath, slip.text, slip.occurrence) ?? { line: 0, column: 0 }),
      });
    }
  });

  const cycle = findCycle(stages);
  if (cycle) {
    const index = stages.findIndex((stage) => stage.id === cycle[0]);
    errors.push(at(index, ["input_from"], `the stages form a cycle: ${cycle.join(" → ")}`, { code: "cycle", params: { stages: cycle.join(" → ") } }));
  }

  // Model files: only the models this pipeline uses must be there.
  const used = new Map<string, { index: number; keys: PropertyKey[] }>();
  stages.forEach((stage, index) => {
    const names = stage.type === "single" ? [stage.model] : [...stage.models, ...(stage.aggregation.method === "synthesis" ? [stage.aggregation.model] : [])];
    for (const name of names) if (!used.has(name) && name in models.config.models) used.set(name, { index, keys: stage.type === "single" ? ["model"] : ["models"] });
  });
  const modelIssue = (name: string, message: string, extra: Pick<ConfigIssue, "code" | "params">): ConfigIssue => {
    const keyPath = ["models", name, "file"];
    return { file: models.file, ...(models.yaml?.locate(keyPath) ?? { line: 0, column: 0 }), path: formatPath(keyPath), message, ...extra };
  };
  const missing: string[] = [];
  // A remote model has no file here: whether its server answers is known only when a stage calls it.
  const localEntry = (name: string): LocalModelEntry | undefined => {
    const entry = models.config.models[name];
    return entry && !isRemoteEntry(entry) ? entry : undefined;
  };
  // Each model's file is checked at once (one stat each, its header and quantization read beside it); the
  // issues are reported in the models' order.
  const names = [...new Set([...used.keys(), ...(options.isBase ? modelNames.filter((model) => localEntry(model)?.required_for_base) : [])])];
  const checks = names.map(async (name) => {
    const found: { error?: ConfigIssue; warning?: ConfigIssue; missing?: boolean } = {};
    const entry = localEntry(name);
    if (!entry) return found;
    const file = modelPath(models.modelsDirectory, entry.file);
    if (!file) {
      found.error = modelIssue(name, `"${entry.file}" leaves the models folder ${models.modelsDirectory}: give a path inside it (a symlink placed in the folder may point elsewhere)`, {
        code: "model-outside-folder",
        params: { file: entry.file, folder: models.modelsDirectory },
      });
      return found;
    }
    let info;
    try {
      info = await (options.stats ? options.stats.get(file) : stat(file));
    } catch {
      found.missing = true;
      if (used.has(name) && !(options.isBase && entry.required_for_base)) found.error = modelIssue(name, `model file ${file} is missing`, { code: "model-file-missing", params: { path: file } });
      return found;
    }
    if (!info.isFile()) {
      found.error = modelIssue(name, `${file} is not a regular file`, { code: "model-not-regular-file", params: { path: file } });
      return found;
    }
    const [problem, actual] = await Promise.all([checkGgufHeader(file, info), entry.quantization ? fileQuantization(file, info).catch(() => undefined) : undefined]);
    if (problem) {
      found.error = modelIssue(name, `${file} ${problem.message}`, problem.version === undefined ? { code: "model-not-gguf", params: { path: file } } : { code: "model-gguf-version", params: { path: file, version: problem.version } });
      return found;
    }
    if (entry.quantization && actual && !quantizationMatches(entry.quantization, actual)) {
      const keyPath = ["models", name, "quantization"];
      found.warning = {
        file: models.file,
        ...(models.yaml?.locate(keyPath) ?? { line: 0, column: 0 }),
        path: formatPath(keyPath),
        message: `declared ${entry.quantization}, but ${entry.file} is ${actual}`,
        code: "quantization-mismatch",
        params: { declared: entry.quantization, file: entry.file, actual },
      };
    }
    return found;
  });
  for (const [index, found] of (await Promise.all(checks)).entries()) {
    if (found.missing) missing.push(names[index]!);
    if (found.error) errors.push(found.error);
    if (found.warning) warnings.push(found.warning);
  }
  if (options.isBase) {
    const required = missing.filter((name) => localEntry(name)?.required_for_base);
    if (required.length > 0) {
      const list = required.map((name) => `${name} (${localEntry(name)!.file})`).join(", ");
      errors.push(
        modelIssue(required[0]!, `the base pipeline needs ${required.length === 1 ? "a model that is" : "models that are"} missing: ${list}; put the GGUF files in ${models.modelsDirectory}`, {
          code: "base-models-missing",
          params: { count: required.length, models: list, folder: models.modelsDirectory },
        }),
      );
    }
  }
  return { errors, warnings };
}

/** Throws a ConfigError (`config-invalid`) listing every error, when there is one. */
export function assertValid(result: ValidationResult): void {
  if (result.errors.length > 0) throw new ConfigError("config-invalid", result.errors);
}
