/**
 * Argument parsing on node's own `util.parseArgs` (no framework: the CLI has a handful of flags).
 */
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ProjectLlmError } from "../common/index.js";
import type { PipelineMode } from "../core/index.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every command takes. */
export const globalOptions = {
  config: { type: "string" },
  models: { type: "string" },
  "models-dir": { type: "string" },
  sessions: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

/**
 * Finds the command in a command line: the first word that is neither an option nor an option's value, so
 * the options every command takes may come before it or after it (`--config DIR models` runs `models`).
 * `options` are those of every command: the word after one that takes a value is that value. A word after
 * `--` is a word. Returns the command (undefined when there is none), every other argument in its order,
 * and all the words (the command first).
 */
export function splitCommand(argv: readonly string[], options: Options): { command?: string; rest: string[]; words: string[] } {
  const takesValue = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== "string") continue;
    takesValue.add(`--${name}`);
    if (option.short) takesValue.add(`-${option.short}`);
  }
  let found: number | undefined;
  const words: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index]!;
    if (word === "--") {
      for (let after = index + 1; after < argv.length; after++) {
        found ??= after;
        words.push(argv[after]!);
      }
      break;
    }
    if (word.startsWith("-") && word !== "-") {
      if (takesValue.has(word)) index++;
      continue;
    }
    found ??= index;
    words.push(word);
  }
  if (found === undefined) return { rest: [...argv], words };
  return { command: argv[found], rest: argv.filter((_, index) => index !== found), words };
}

/** Parses `argv` strictly: an unknown flag is a usage error naming it. */
export function parse<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...globalOptions, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ProjectLlmError("usage", (error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

/** The folder flags of every command. */
export interface FolderFlags {
  config?: string;
  models?: string;
  "models-dir"?: string;
  sessions?: string;
}

/**
 * What `--models` names: a models file (as the original project's `--models config/models.yaml`), or a
 * folder of GGUF files (the older spelling of `--models-dir`). An existing path is what it is; a path
 * not there yet is a file when it ends in .yaml or .yml (then the error says that file is missing).
 */
export function modelsFlag(values: FolderFlags): { modelsFile?: string; modelsDir?: string } {
  const models = values.models;
  const found = models === undefined ? undefined : statSync(models, { throwIfNoEntry: false });
  const isFile = models !== undefined && (found ? !found.isDirectory() : /\.ya?ml$/i.test(models));
  const modelsDir = isFile ? values["models-dir"] : (values["models-dir"] ?? models);
  if (!isFile && models !== undefined && values["models-dir"] !== undefined) {
    throw new ProjectLlmError("usage", `--models ${models} and --models-dir ${values["models-dir"]} both name the models folder: give one (--models FILE.yaml names models.yaml)`);
  }
  return { ...(isFile ? { modelsFile: models } : {}), ...(modelsDir !== undefined ? { modelsDir } : {}) };
}

/** Environment for the core after `--config`, `--models-dir` (or `--models DIR`) and `--sessions`. */
export function environmentFor(values: FolderFlags): Record<string, string | undefined> {
  const env = { ...process.env };
  const { modelsDir } = modelsFlag(values);
  if (values.config) env.PROJECT_LLM_CONFIG_DIR = values.config;
  if (modelsDir) env.PROJECT_LLM_MODELS_DIR = modelsDir;
  if (values.sessions) env.PROJECT_LLM_SESSIONS_DIR = values.sessions;
  return env;
}

/** Reads all of standard input as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The installed package's folder (this file is `dist/cli/args.js` in it). */
export const packageRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Studio options for a command: folders and the models file from the flags and environment, the package's own files. */
export function studioOptions(values: FolderFlags) {
  const { modelsFile } = modelsFlag(values);
  return { env: environmentFor(values), packageRoot, ...(modelsFile !== undefined ? { modelsFile } : {}) };
}

/** `--mode`: `base` or `manual` (see `PipelineMode`), or undefined when not given. */
export function pipelineMode(value: string | undefined): PipelineMode | undefined {
  if (value === undefined || value === "base" || value === "manual") return value;
  throw new ProjectLlmError("usage", `--mode ${value}: the modes are base (a file's base_pipeline, with its required models) and manual (the pipeline a file holds)`);
}
