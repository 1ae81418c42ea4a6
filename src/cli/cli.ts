/**
 * `project-llm`: validate configs, list models, run pipelines, read and rerun sessions (its entry is
 * main.ts). Exit codes: see exit-code.ts.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ProjectLlmError, errorMessage } from "../common/index.js";
import { globalOptions, modelsFlag, packageRoot, splitCommand } from "./args.js";
import { initCommand } from "./commands/init.js";
import { modelsCommand, modelsOptions } from "./commands/models.js";
import { planCommand, planOptions } from "./commands/plan.js";
import { runCommand, runOptions } from "./commands/run.js";
import { sessionsCommand, sessionsOptions } from "./commands/sessions.js";
import { usersCommand, usersOptions } from "./commands/users.js";
import { validateCommand, validateOptions } from "./commands/validate.js";
import { exitCodeOf } from "./exit-code.js";
import { writeInCallingThread } from "../store/index.js";

const help = `project-llm: multi-stage pipelines over local GGUF models

Usage: project-llm <command> [options]
       project-llm [run options]      (a run: "run" may be left out)

Commands:
  run        run a pipeline on an input, streaming each stage      (project-llm run --help)
  validate   check the configs and pipelines; exit 2 on an error
  plan       what a run would load, keep and unload, its memory against free RAM and VRAM, its time
  models     the configured models: present, facts, memory fit; models pull URI downloads one
  sessions   list, show, rerun from a stage, tree, export, check, reindex
  init       write the example configs into DIR/config             (project-llm init [DIR])
  users      add, list and revoke the users of a studio shared on a LAN (project-llm users --help)

  project-llm --models config/models.yaml --pipeline config/pipeline.yaml --mode base --input "Hi" --json

Options for every command (before or after it):
  --config DIR       folder of models.yaml, pipeline.yaml, pipelines/ (env PROJECT_LLM_CONFIG_DIR, default
                     ./config). Config files are made from the examples only in the project's own config
                     folder or one named here; elsewhere, "project-llm init" makes them
  --models FILE.yaml the models file instead of the config folder's models.yaml (a folder, or a path not
                     there that does not end in .yaml or .yml, is the models folder, as --models-dir)
  --models-dir DIR   folder of the GGUF files (env PROJECT_LLM_MODELS_DIR, over models_directory)
  --sessions DIR     folder of the sessions (env PROJECT_LLM_SESSIONS_DIR, default ./sessions)
  --json             machine-readable output
  --version          the version

Exit codes: 0 success, 1 the work failed (a run, a download), 2 bad config or usage, 130 cancelled by
Ctrl+C (what was done is kept: a run's session, a download's bytes).`;

/** The options of every command: which of them take a value tells a value from the command. */
const everyOption = { ...globalOptions, ...runOptions, ...modelsOptions, ...sessionsOptions, ...validateOptions, ...planOptions, ...usersOptions };

/** The models and pipeline files named on the command line (`--models FILE.yaml`, `--pipeline FILE.yaml`), as paths. */
function namedConfigFiles(argv: string[]): Array<{ flag: string; value: string; file: string }> {
  const { values } = parseArgs({ args: argv, options: everyOption, allowPositionals: true, strict: false });
  const named: Array<{ flag: string; value: string; file: string }> = [];
  const models = typeof values.models === "string" ? values.models : undefined;
  if (models !== undefined && modelsFlag({ models }).modelsFile !== undefined) named.push({ flag: "--models", value: models, file: path.resolve(models) });
  const pipeline = values.pipeline;
  if (typeof pipeline === "string" && /\.ya?ml$/i.test(pipeline)) named.push({ flag: "--pipeline", value: pipeline, file: path.resolve(pipeline) });
  return named;
}

/**
 * Words added to a missing config file: which of the files named on the command line are missing; or, for
 * the models.yaml or pipeline.yaml of a config folder, where it looked and what to do.
 */
function missingConfigHint(error: ProjectLlmError, argv: string[]): string[] {
  const file = (error.details?.params as { file?: unknown } | undefined)?.file;
  if (typeof file !== "string") return [];
  const named = namedConfigFiles(argv);
  if (named.some((entry) => entry.file === path.resolve(file))) {
    const states = named.map((entry) => `${entry.flag} ${entry.value}: ${existsSync(entry.file) ? "found" : "missing"}`);
    const relative = named.some((entry) => !path.isAbsolute(entry.value)) ? ` (paths are read from ${process.cwd()})` : "";
    const examples = ["models.yaml", "pipeline.yaml"].map((name) => path.resolve("config", name));
    const initHelps = named.some((entry) => examples.includes(entry.file) && !existsSync(entry.file));
    return [`${states.join("; ")}${relative}`, ...(initHelps ? ['"project-llm init" writes the examples as config/models.yaml and config/pipeline.yaml here'] : [])];
  }
  if (!["models.yaml", "pipeline.yaml"].includes(path.basename(file))) return [];
  const folder = path.dirname(file);
  return [
    `looked for ${path.join(folder, "models.yaml")} and ${path.join(folder, "pipeline.yaml")}; config files are made from their examples only in the project's own folder (${path.join(packageRoot, "config")}) or a folder named by --config DIR (or PROJECT_LLM_CONFIG_DIR)`,
    `to make them here, run "project-llm init"; or name a config folder: --config DIR; or name the files: --models FILE.yaml --pipeline FILE.yaml`,
  ];
}

function printVersion(): number {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  console.log(pkg.version);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  // A command makes a few session writes and exits: a write thread would cost it more than it saves.
  writeInCallingThread();
  const { command, rest, words } = splitCommand(argv, everyOption);
  switch (command) {
    case "run":
      return runCommand(rest);
    case "init":
      return initCommand(rest);
    case "validate":
      return validateCommand(rest);
    case "models":
      return modelsCommand(rest);
    case "plan":
      return planCommand(rest);
    case "sessions":
      return sessionsCommand(rest);
    case "users":
      return usersCommand(rest);
    case "help":
      console.log(help);
      return 0;
    case undefined:
      // The original project's line has no command: `project-llm --models … --pipeline … --input …` is a run.
      if (argv.length === 0) return void console.log(help), 2;
      if (argv.includes("--help") || argv.includes("-h")) return void console.log(help), 0;
      if (argv.includes("--version") || argv.includes("-v")) return printVersion();
      return runCommand(argv);
    default: {
      const these = words.length > 1 ? ` (the words "${words.join(" ")}")` : "";
      throw new ProjectLlmError(
        "usage",
        `unknown command "${command}"${these}: the commands are run, validate, plan, models, sessions, users and init; a run's input goes in --input TEXT, or after "run" (project-llm run ${words.join(" ")})`,
      );
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (ProjectLlmError.isInstance(error)) {
      // A config error's message is one line per issue, each with file:line:column.
      const lines = [...error.message.split("\n"), ...(error.code === "config-not-found" ? missingConfigHint(error, process.argv.slice(2)) : [])];
      process.stderr.write(lines.map((line) => `project-llm: ${line}\n`).join(""));
      process.exitCode = exitCodeOf(error);
    } else {
      process.stderr.write(`project-llm: internal error: ${errorMessage(error)}\n`);
      if (process.env.PROJECT_LLM_DEBUG) console.error(error);
      process.exitCode = 1;
    }
  },
);
