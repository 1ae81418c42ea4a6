/** A studio over a temp folder with the given configs, the real test models and a shared runtime. */
import path from "node:path";
import { Studio } from "../core/index.js";
import type { Runtime } from "../runtime/index.js";
import { testModelsDir, writeFiles } from "./fixtures.js";

export async function openTestStudio(root: string, runtime: Runtime, configs: { modelsYaml: string; pipelineYaml: string }): Promise<Studio> {
  await writeFiles(root, { "config/models.yaml": configs.modelsYaml, "config/pipeline.yaml": configs.pipelineYaml });
  return Studio.open({
    cwd: root,
    runtime,
    env: { PROJECT_LLM_CONFIG_DIR: path.join(root, "config"), PROJECT_LLM_MODELS_DIR: testModelsDir, PROJECT_LLM_SESSIONS_DIR: path.join(root, "sessions") },
  });
}
