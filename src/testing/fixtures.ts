/** Test helpers: temp folders and the path of the real test models. */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** The folder of the real GGUF test models (`PROJECT_LLM_TEST_MODELS`, default the project's own `models/`). */
export const testModelsDir = path.resolve(process.env.PROJECT_LLM_TEST_MODELS || "models");
export const storiesFile = "stories260K.gguf";

/** A temp folder; remove it with the returned function. */
export async function tempDir(prefix = "project-llm-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes files (path relative to `root` -> content), creating folders. */
export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
}

/**
 * A models.yaml for integration tests: three names for stories260K (greedy; warm and seeded; cool and
 * seeded), short contexts and answers. `extraModels` is appended under `models:`.
 */
export function testModelsYaml(extraModels = ""): string {
  return `models_directory: models
defaults:
  context_size: 512
  max_tokens: 24
  temperature: 0
models:
  greedy:
    file: ${storiesFile}
    required_for_base: true
  warm:
    file: ${storiesFile}
    overrides: { temperature: 0.9, seed: 11 }
  cool:
    file: ${storiesFile}
    overrides: { temperature: 0.6, seed: 5, top_k: 5 }
${extraModels}`;
}

/** Whether a process of this id is running (signal 0 tests it without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
