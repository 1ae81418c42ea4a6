import { existsSync } from "node:fs";
import path from "node:path";
import { ensureWorkingConfig, loadModelsFile } from "../../config/index.js";
import { ProjectLlmError } from "../../common/index.js";
import { packageRoot, parse } from "../args.js";

export const initHelp = `Usage: project-llm init [DIR] [--config DIR]

Writes the example models.yaml and pipeline.yaml into DIR/config (default ./config), or into the
folder --config names, never over an existing file, and says what it wrote. Other commands make
them by themselves only in the project's own config folder or one named by --config.`;

const demoModel = "stories260K.gguf";

export async function initCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help) return void console.log(initHelp), 0;
  if (positionals.length > 1) throw new ProjectLlmError("usage", `init takes one folder, not ${positionals.length}: project-llm init [DIR]`);
  const configDir = path.resolve(values.config ?? path.join(positionals[0] ?? ".", "config"));
  const written = await ensureWorkingConfig(configDir, path.join(packageRoot, "config"));
  for (const file of ["models.yaml", "pipeline.yaml"].map((name) => path.join(configDir, name))) {
    console.log(written.includes(file) ? `wrote ${file}` : `kept ${file} (it exists)`);
  }
  const models = await loadModelsFile(path.join(configDir, "models.yaml")).catch(() => undefined);
  if (models) {
    console.log(`\nThe GGUF files go in ${models.modelsDirectory} (models_directory in models.yaml).`);
    const shipped = path.join(packageRoot, "models");
    if (Object.values(models.config.models).some((model) => "file" in model && model.file === demoModel) && existsSync(path.join(shipped, demoModel))) {
      const config = configDir === path.resolve("config") ? "" : ` --config ${configDir}`;
      console.log(`The demo model ${demoModel} ships in ${shipped}: try it with\n  project-llm${config} --models-dir ${shipped} --input "Once upon a time"`);
    }
  }
  return 0;
}
