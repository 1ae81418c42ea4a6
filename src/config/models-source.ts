/**
 * models.yaml as a file the studio writes to: a model added under `models:` keeps every comment, key
 * order and style of the file (the `yaml` document API, as pipeline-source.ts does for pipelines).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, parseDocument, Scalar, type YAMLMap } from "yaml";
import { ProjectLlmError, writeFileDurably } from "../common/index.js";
import { ConfigError } from "./issues.js";
import { withFileLock } from "./pipeline-source.js";
import { isRemoteEntry, modelNameSchema, modelsConfigSchema, type ModelsConfig } from "./schema.js";
import { zodIssuesToConfigIssues } from "./schema-errors.js";
import { parseYaml } from "./yaml-file.js";

export interface NewModelEntry {
  /** The model's name (`modelNameSchema`): refused when models.yaml has it already. */
  name: string;
  /** Relative to the models folder, inside it. */
  file: string;
  /** The file's quantization, declared so that it is shown and checked. */
  quantization?: string;
  /** A comment written above the entry (where the file came from). */
  comment?: string;
}

/** The names of the models whose `file` is `file`. */
export function modelsUsingFile(config: ModelsConfig, file: string): string[] {
  const wanted = path.posix.normalize(file.replaceAll("\\", "/"));
  return Object.entries(config.models)
    .filter(([, entry]) => !isRemoteEntry(entry) && path.posix.normalize(entry.file.replaceAll("\\", "/")) === wanted)
    .map(([name]) => name);
}

/** Checks models.yaml's text against the schema: the file is never written in a state that does not load. */
function parseModels(text: string, file: string): ModelsConfig {
  const yaml = parseYaml(text, file);
  const result = modelsConfigSchema.safeParse(yaml.value ?? {});
  if (!result.success) throw new ConfigError("config-schema", zodIssuesToConfigIssues(result.error, modelsConfigSchema, yaml));
  return result.data;
}

/**
 * Adds a model to `configDir/models.yaml`, durably, at the end of `models:` (created when absent). A file
 * that does not load as it is, a name that is taken or not a model name, and a file outside the models
 * folder are refused without writing.
 */
export async function addModelEntry(configDir: string, entry: NewModelEntry): Promise<{ file: string; text: string }> {
  const name = modelNameSchema.safeParse(entry.name);
  if (!name.success) {
    throw new ProjectLlmError("usage", `"${entry.name.slice(0, 80)}" is not a model name: use 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`, {
      details: { params: { reason: "model-name", name: entry.name.slice(0, 80) } },
    });
  }
  if (path.isAbsolute(entry.file) || entry.file.split(/[\\/]/).includes("..")) {
    throw new ProjectLlmError("model-outside-directory", `"${entry.file}" is outside the models folder; a model's file is a path inside it`, { details: { params: { name: entry.file } } });
  }
  const file = path.join(configDir, "models.yaml");
  return withFileLock(file, async () => {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ProjectLlmError("config-not-found", `${file}: no such file`);
      throw error;
    }
    const current = parseModels(text, file);
    if (Object.hasOwn(current.models, entry.name)) {
      throw new ProjectLlmError("conflict", `models.yaml has a model named "${entry.name}" already; choose another name`, { details: { params: { reason: "model-name-taken", name: entry.name } } });
    }
    const document = parseDocument(text);
    let models = document.get("models", true);
    if (!isMap(models)) {
      models = document.createNode({});
      document.set("models", models);
    }
    const map = models as YAMLMap;
    if (map.items.length === 0 && map.flow) {
      // `models: {} # none yet` becomes a block; its comment stays on the `models:` line, not after the entries.
      map.flow = false;
      const pair = isMap(document.contents) ? document.contents.items.find((item) => isScalar(item.key) && item.key.value === "models") : undefined;
      if (pair && isScalar(pair.key) && map.comment) {
        pair.key.comment = map.comment;
        map.comment = undefined;
      }
    }
    const pair = document.createPair(entry.name, { file: entry.file, ...(entry.quantization ? { quantization: entry.quantization } : {}) });
    const key = new Scalar(entry.name);
    if (entry.comment) key.commentBefore = ` ${entry.comment.replace(/[\r\n]+/g, " ")}`;
    pair.key = key;
    map.items.push(pair);
    const updated = document.toString({ lineWidth: 0 });
    parseModels(updated, file);
    await writeFileDurably(file, updated);
    return { file, text: updated };
  });
}
