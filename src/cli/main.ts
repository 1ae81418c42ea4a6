#!/usr/bin/env node
/**
 * `project-llm`: validate configs, list models, run pipelines, read and rerun sessions.
 * Exit codes: 0 success, 1 the run failed, 2 bad config or usage.
 */
import { readFileSync } from "node:fs";
import { ProjectLlmError, errorMessage } from "../common/index.js";
import { modelsCommand } from "./commands/models.js";
import { runCommand } from "./commands/run.js";
import { sessionsCommand } from "./commands/sessions.js";
import { validateCommand } from "./commands/validate.js";

const help = `project-llm: multi-stage pipelines over local GGUF models

Usage: project-llm <command> [options]

Commands:
  run        run a pipeline on an input, streaming each stage      (project-llm run --help)
  validate   check the configs and pipelines; exit 2 on an error
  models     the configured models: present, facts, memory fit; models pull URI downloads one
  sessions   list, show, rerun from a stage, tree

Options for every command:
  --config DIR     folder of models.yaml, pipeline.yaml, pipelines/ (env PROJECT_LLM_CONFIG_DIR, default ./config)
  --models DIR     folder of the GGUF files (env PROJECT_LLM_MODELS_DIR, over models_directory)
  --sessions DIR   folder of the sessions (env PROJECT_LLM_SESSIONS_DIR, default ./sessions)
  --json           machine-readable output
  --version        the version`;

const configCodes = new Set(["config-not-found", "config-parse", "config-schema", "config-invalid", "config-too-large", "pipeline-not-found", "model-missing", "model-outside-directory", "model-not-gguf", "usage", "invalid-id", "session-not-found"]);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "run":
      return runCommand(rest);
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
      process.stderr.write(`project-llm: ${error.message.split("\n").join("\nproject-llm: ")}\n`);
      process.exitCode = configCodes.has(error.code) ? 2 : 1;
    } else {
      process.stderr.write(`project-llm: internal error: ${errorMessage(error)}\n`);
      if (process.env.PROJECT_LLM_DEBUG) console.error(error);
      process.exitCode = 1;
    }
  },
);
