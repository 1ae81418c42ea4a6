/**
 * Argument parsing on node's own `util.parseArgs` (no framework: the CLI has a handful of flags).
 */
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ProjectLlmError } from "../common/index.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every command takes. */
export const globalOptions = {
  config: { type: "string" },
  models: { type: "string" },
  sessions: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

/** Parses `argv` strictly: an unknown flag is a usage error naming it. */
export function parse<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...globalOptions, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ProjectLlmError("usage", (error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

/** Environment for the core after `--config`, `--models` and `--sessions`. */
export function environmentFor(values: { config?: string; models?: string; sessions?: string }): Record<string, string | undefined> {
  const env = { ...process.env };
  if (values.config) env.PROJECT_LLM_CONFIG_DIR = values.config;
  if (values.models) env.PROJECT_LLM_MODELS_DIR = values.models;
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

/** Studio options for a command: folders from the flags and environment, the package's own files. */
export function studioOptions(values: { config?: string; models?: string; sessions?: string }) {
  return { env: environmentFor(values), packageRoot };
}
