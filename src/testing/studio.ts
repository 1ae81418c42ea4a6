/** A studio over a temp folder with the given configs, the real test models and a shared runtime. */
import path from "node:path";
import { Studio } from "../core/index.js";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { createRuntime, type Runtime } from "../runtime/index.js";
import { tempDir, testModelsDir, writeFiles } from "./fixtures.js";

export async function openTestStudio(root: string, runtime: Runtime, configs: { modelsYaml: string; pipelineYaml: string }): Promise<Studio> {
  await writeFiles(root, { "config/models.yaml": configs.modelsYaml, "config/pipeline.yaml": configs.pipelineYaml });
  return Studio.open({
    cwd: root,
    runtime,
    env: { PROJECT_LLM_CONFIG_DIR: path.join(root, "config"), PROJECT_LLM_MODELS_DIR: testModelsDir, PROJECT_LLM_SESSIONS_DIR: path.join(root, "sessions") },
  });
}

/**
 * Registers vitest hooks that give each test of the file a studio over a fresh temp folder (configs
 * written there), all sharing one real runtime. Read the fields inside tests; `reopen` opens a new studio
 * over the same folders (a restart).
 */
export function eachTestStudio(configs: { modelsYaml: string; pipelineYaml: string }) {
  const state = {} as { runtime: Runtime; root: string; studio: Studio; cleanup: () => Promise<void> };
  beforeAll(() => {
    state.runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
  });
  afterAll(async () => state.runtime.dispose());
  beforeEach(async () => {
    const made = await tempDir();
    state.root = made.dir;
    state.cleanup = made.cleanup;
    state.studio = await openTestStudio(state.root, state.runtime, configs);
  });
  afterEach(async () => {
    await state.studio.dispose();
    await state.cleanup();
  });
  return {
    get runtime() {
      return state.runtime;
    },
    get root() {
      return state.root;
    },
    get studio() {
      return state.studio;
    },
    async reopen(): Promise<void> {
      await state.studio.dispose();
      state.studio = await openTestStudio(state.root, state.runtime, configs);
    },
  };
}
