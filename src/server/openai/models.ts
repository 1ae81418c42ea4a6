/**
 * `GET /v1/models`: what a chat completion may name, in the OpenAI list format. The pipelines of the config
 * folder as `pipeline/NAME` (the base pipeline is `pipeline/base`), then the models of models.yaml by name.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { resolveModel, type LoadedModelsConfig } from "../../config/index.js";
import type { Studio } from "../../core/index.js";
import { pipelinePrefix } from "./chat-request.js";

export interface OpenAiModel {
  id: string;
  object: "model";
  /** When its file last changed (seconds since 1970); 0 when there is no file. */
  created: number;
  owned_by: string;
}

const ownedBy = "project-llm";

async function changedAt(file: string): Promise<number> {
  return stat(file).then((facts) => Math.floor(facts.mtimeMs / 1000), () => 0);
}

/** When a model's file last changed; 0 for a model without a file of its own here (or one whose path is refused). */
async function modelFileChangedAt(models: LoadedModelsConfig, name: string): Promise<number> {
  let file: string;
  try {
    file = resolveModel(models, name).path;
  } catch {
    return 0;
  }
  return file ? changedAt(file) : 0;
}

/** Every pipeline and model a chat completion may name. */
export async function listModels(studio: Studio): Promise<OpenAiModel[]> {
  const configDir = studio.paths.configDir;
  const pipelines = await Promise.all(
    (await studio.listPipelines()).map(async (name) => ({
      id: `${pipelinePrefix}${name}`,
      object: "model" as const,
      created: await changedAt(name === "base" ? path.join(configDir, "pipeline.yaml") : path.join(configDir, "pipelines", `${name}.yaml`)),
      owned_by: ownedBy,
    })),
  );
  const models = await studio.loadModels();
  const entries = await Promise.all(
    Object.keys(models.config.models).map(async (name) => ({
      id: name,
      object: "model" as const,
      created: await modelFileChangedAt(models, name),
      owned_by: ownedBy,
    })),
  );
  return [...pipelines, ...entries];
}

/** One pipeline or model by its id, or undefined. */
export async function findModel(studio: Studio, id: string): Promise<OpenAiModel | undefined> {
  return (await listModels(studio)).find((model) => model.id === id);
}
