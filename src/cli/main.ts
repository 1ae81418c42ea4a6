#!/usr/bin/env node
/**
 * `project-llm`: validate configs, list models, run pipelines, read and rerun sessions.
 * Exit codes: 0 success, 1 the run failed, 2 bad config or usage.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { ProjectLlmError, errorMessage } from "../common/index.js";
import { packageRoot } from "./args.js";
import { initCommand } from "./commands/init.js";
import { modelsCommand } from "./commands/models.js";
import { runCommand } from "./commands/run.js";
import { sessionsCommand } from "./commands/sessions.js";
import { validateCommand } from "./commands/validate.js";

const help = `project-llm: multi-stage pipelines over local GGUF models

Usage: project-llm <command> [options]
       project-llm [run options]      (a run: "run" may be left out)

Commands:
  run        run a pipeline on an input, streaming each stage      (project-llm run --help)
  validate   check the configs and pipelines; exit 2 on an error
  models     the configured models: present, facts, memory fit; models pull URI downloads one
  sessions   list, show, rerun from a stage, tree, export
  init       write the example configs into DIR/config             (project-llm init [DIR])

  project-llm --models config/models.yaml --pipeline config/pipeline.yaml --mode base --input "Hi" --json

Options for every command:
  --config DIR       folder of models.yaml, pipeline.yaml, pipelines/ (env PROJECT_LLM_CONFIG_DIR, default
                     ./config). Config files are made from the examples only in the project's own config
                     folder or one named here; elsewhere, "project-llm init" makes them
  --models FILE.yaml the models file instead of the config folder's models.yaml (a folder, or a path not
                     there that does not end in .yaml or .yml, is the models folder, as --models-dir)
  --models-dir DIR   folder of the GGUF files (env PROJECT_LLM_MODELS_DIR, over models_directory)
  --sessions DIR     folder of the sessions (env PROJECT_LLM_SESSIONS_DIR, default ./sessions)
  --json             machine-readable output
  --version          the version`;

const configCodes = new Set(["config-not-found", "config-parse", "config-schema", "config-invalid", "config-too-large", "pipeline-not-found", "model-missing", "model-outside-directory", "model-not-gguf", "usage", "invalid-id", "session-not-found"]);

/** Words added to a missing models.yaml or pipeline.yaml of a config folder: where it looked and what to do. */
function missingConfigHint(error: ProjectLlmError): string[] {
  const file = (error.details?.params as { file?: unknown } | undefined)?.file;
  if (typeof file !== "string" || !["models.yaml", "pipeline.yaml"].includes(path.basename(file))) return [];
  const folder = path.dirname(file);
  return [
    `looked for ${path.join(folder, "models.yaml")} and ${path.join(folder, "pipeline.yaml")}; config files are made from their examples only in the project's own folder (${path.join(packageRoot, "config")}) or a folder named by --config DIR (or PROJECT_LLM_CONFIG_DIR)`,
    `to make them here, run "project-llm init"; or name a config folder: --config DIR; or name the files: --models FILE.yaml --pipeline FILE.yaml`,
  ];
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // The original project's line has no command: `project-llm --models … --pipeline … --input …` is a run.
  if (command?.startsWith("-") && !["--help", "-h", "--version", "-v"].includes(command)) return runCommand(argv);
  switch (command) {
    case "run":
      return runCommand(rest);
    case "init":
      return initCommand(rest);
    case "validate":
      return validateCommand(rest);
    case "models":
      return modelsCommand(rest);
    case "sessions":
      return sessionsCommand(rest);
    case "--version":
    case "-v": {
      const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
      console.log(pkg.version);
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(help);
      return command === undefined ? 2 : 0;
    default:
      throw new ProjectLlmError("usage", `unknown command "${command}"; run "project-llm --help"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (ProjectLlmError.isInstance(error)) {
      // A config error's message is one line per issue, each with file:line:column.
      const lines = [...error.message.split("\n"), ...(error.code === "config-not-found" ? missingConfigHint(error) : [])];
      process.stderr.write(lines.map((line) => `project-llm: ${line}\n`).join(""));
      process.exitCode = configCodes.has(error.code) ? 2 : 1;
    } else {
      process.stderr.write(`project-llm: internal error: ${errorMessage(error)}\n`);
      if (process.env.PROJECT_LLM_DEBUG) console.error(error);
      process.exitCode = 1;
    }
  },
);
