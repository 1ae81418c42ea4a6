/**
 * Loading `models.yaml` and pipelines: YAML with limits, then the strict zod schema, with every problem
 * reported at its line and column.
 */
import { constants } from "node:fs";
import { copyFile, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { ProjectLlmError } from "../common/index.js";
import { ConfigError } from "./issues.js";
import { basePipelineFileSchema, modelsConfigSchema, namedPipelineFileSchema, pipelineNamePattern, pipelineSchema, type ModelsConfig, type Pipeline } from "./schema.js";
import { zodIssuesToConfigIssues } from "./schema-errors.js";
import { readYamlFile, valueAsFile, type YamlFile } from "./yaml-file.js";

export interface LoadedModelsConfig {
  config: ModelsConfig;
  file: string;
  /** Absolute; `PROJECT_LLM_MODELS_DIR` wins over `models_directory`. */
  modelsDirectory: string;
  yaml?: YamlFile;
}

export interface LoadedPipeline {
  /** `base`, a pipeline's name, or the file's path. */
  name: string;
  pipeline: Pipeline;
  file: string;
  /** Where the pipeline sits in the file: `["base_pipeline"]` or `["pipeline"]`. */
  root: string[];
  yaml?: YamlFile;
}


/**
 * Each file's parse by each schema, for as long as `readYamlFile` gives the same file (it does while the file
 * is unchanged): a run read its configs and parsed them again each time (~1 ms of the time before its first
 * token). Frozen, as every caller shares it: a change is made on a copy.
 */
const parsedFiles = new WeakMap<YamlFile, Map<z.ZodType, unknown>>();

function parseWith<T extends z.ZodType>(schema: T, yaml: YamlFile): z.infer<T> {
  const bySchema = parsedFiles.get(yaml) ?? new Map<z.ZodType, unknown>();
  if (bySchema.has(schema)) return bySchema.get(schema) as z.infer<T>;
  const result = schema.safeParse(yaml.value ?? {});
  if (!result.success) throw new ConfigError("config-schema", zodIssuesToConfigIssues(result.error, schema, yaml));
  bySchema.set(schema, deepFreeze(result.data));
  parsedFiles.set(yaml, bySchema);
  return result.data;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Reads `models.yaml` of a config folder (see `loadModelsFile`). */
export async function loadModelsConfig(configDir: string, options: { modelsDirOverride?: string } = {}): Promise<LoadedModelsConfig> {
  return loadModelsFile(path.join(configDir, "models.yaml"), options);
}

/**
 * Reads a models file (`config/models.yaml`, or one named by path). A relative `models_directory` is
 * resolved against the folder that holds the file's folder (the project root: `config/../models`).
 */
export async function loadModelsFile(file: string, options: { modelsDirOverride?: string } = {}): Promise<LoadedModelsConfig> {
  const yaml = await readYamlFile(file);
  const config = parseWith(modelsConfigSchema, yaml);
  const modelsDirectory = options.modelsDirOverride ?? path.resolve(/*turbopackIgnore: true*/ path.dirname(path.dirname(file)), config.models_directory);
  return { config, file, modelsDirectory, yaml };
}

/** `base` is `pipeline.yaml` (key `base_pipeline`); any other name is `pipelines/NAME.yaml` (key `pipeline`). */
export async function loadPipeline(configDir: string, name = "base"): Promise<LoadedPipeline> {
  if (name === "base") {
    const file = path.join(configDir, "pipeline.yaml");
    const yaml = await readYamlFile(file);
    return { name, pipeline: parseWith(basePipelineFileSchema, yaml).base_pipeline, file, root: ["base_pipeline"], yaml };
  }
  if (!pipelineNamePattern.test(name)) {
    throw new ProjectLlmError("pipeline-not-found", `"${name.slice(0, 80)}" is not a pipeline name (letters, digits, "_" and "-"; or a path ending in .yaml)`);
  }
  const file = path.join(configDir, "pipelines", `${name}.yaml`);
  try {
    return await loadPipelineFile(file, { name });
  } catch (error) {
    if (ProjectLlmError.isInstance(error) && error.code === "config-not-found") {
      const known = await listPipelines(configDir);
      throw new ProjectLlmError("pipeline-not-found", `no pipeline "${name}" (${file} does not exist); known pipelines: ${known.join(", ")}`);
    }
    throw error;
  }
}

export interface PipelineFileOptions {
  /** The pipeline's name (default the file's path). */
  name?: string;
  /**
   * Which top key holds the pipeline: `base_pipeline` or `pipeline` (the default); `any` also takes a file
   * whose one top key, whatever its name, holds a pipeline.
   */
  keys?: "standard" | "any";
}

/** The schema of a file whose one top key, `key`, holds a pipeline: one per key, as `parseWith` keeps a parse by its schema. */
const anyKeySchemas = new Map<string, z.ZodType<Record<string, Pipeline>>>();
function anyKeySchema(key: string): z.ZodType<Record<string, Pipeline>> {
  let schema = anyKeySchemas.get(key);
  if (!schema) {
    if (anyKeySchemas.size >= 64) anyKeySchemas.clear();
    schema = z.strictObject({ [key]: pipelineSchema }) as unknown as z.ZodType<Record<string, Pipeline>>;
    anyKeySchemas.set(key, schema);
  }
  return schema;
}

/** A pipeline file given by path: `base_pipeline:` or `pipeline:` at its top (or any one key, see `keys`). */
export async function loadPipelineFile(file: string, options: PipelineFileOptions = {}): Promise<LoadedPipeline> {
  const name = options.name ?? file;
  const yaml = await readYamlFile(file);
  const value = yaml.value as Record<string, unknown> | null;
  const topKeys = value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : [];
  if (topKeys.includes("base_pipeline")) {
    return { name, pipeline: parseWith(basePipelineFileSchema, yaml).base_pipeline, file, root: ["base_pipeline"], yaml };
  }
  const [only, ...others] = topKeys;
  if (options.keys === "any" && only !== undefined && only !== "pipeline" && others.length === 0) {
    return { name, pipeline: parseWith(anyKeySchema(only), yaml)[only]!, file, root: [only], yaml };
  }
  return { name, pipeline: parseWith(namedPipelineFileSchema, yaml).pipeline, file, root: ["pipeline"], yaml };
}

/** The top keys of a pipeline file (to tell whether it has a `base_pipeline` before reading it as one). */
export async function pipelineFileKeys(file: string): Promise<string[]> {
  const { value } = await readYamlFile(file);
  return value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : [];
}

/**
 * A pipeline sent as a value (the editor's canvas, run without saving), checked as a file is: the same
 * limits and schema; issues name `label` and the key path (there are no lines).
 */
export function pipelineFromValue(value: unknown, label = "unsaved pipeline"): LoadedPipeline {
  const file = valueAsFile(value, label);
  return { name: label, pipeline: parseWith(pipelineSchema, file), file: label, root: [], yaml: file };
}

/** `base` (when pipeline.yaml exists) then the names in `pipelines/`, sorted. */
export async function listPipelines(configDir: string): Promise<string[]> {
  const names: string[] = [];
  const entries = await readdir(configDir).catch(() => [] as string[]);
  if (entries.includes("pipeline.yaml")) names.push("base");
  const others = await readdir(path.join(configDir, "pipelines")).catch(() => [] as string[]);
  for (const entry of others.sort()) {
    const name = entry.replace(/\.yaml$/, "");
    if (entry.endsWith(".yaml") && pipelineNamePattern.test(name)) names.push(name);
  }
  return names;
}

/**
 * Creates `models.yaml` and `pipeline.yaml` from `*.example.yaml` when they are absent; never overwrites.
 * Examples are looked for in `configDir`, then in `examplesDir`. Returns the files it created.
 */
export async function ensureWorkingConfig(configDir: string, examplesDir: string): Promise<string[]> {
  const created: string[] = [];
  await mkdir(configDir, { recursive: true });
  for (const base of ["models", "pipeline"]) {
    const target = path.join(configDir, `${base}.yaml`);
    for (const folder of [configDir, examplesDir]) {
      try {
        await copyFile(path.join(folder, `${base}.example.yaml`), target, constants.COPYFILE_EXCL);
        created.push(target);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") break;
        if (code !== "ENOENT") throw error;
      }
    }
  }
  return created;
}
