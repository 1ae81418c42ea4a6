/**
 * A second studio server for a test of its own (a SIGTERM, development mode): the suite's config and the
 * real models, its own port and sessions folder, its output kept.
 */
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";

export const work = path.resolve(process.env.E2E_WORK ?? "e2e/.work");

export interface StudioProcess {
  server: ChildProcessWithoutNullStreams;
  base: string;
  /** What the server wrote to stdout and stderr so far. */
  output(): string;
  /** The exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

export function spawnStudio(options: { args: string[]; cwd?: string; portOffset: number; sessions: string; env?: Record<string, string> }): StudioProcess {
  const port = Number(process.env.E2E_PORT ?? 3123) + options.portOffset;
  const server = spawn(process.execPath, options.args, {
    cwd: options.cwd,
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      NEXT_TELEMETRY_DISABLED: "1",
      PROJECT_LLM_CONFIG_DIR: path.join(work, "config"),
      PROJECT_LLM_SESSIONS_DIR: path.join(work, options.sessions),
      PROJECT_LLM_MODELS_DIR: path.resolve(process.env.PROJECT_LLM_TEST_MODELS || "models"),
      ...options.env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  server.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  server.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)));
  return { server, base: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/** Process ids of the inference workers whose command line holds `pattern`. */
export function workerPids(pattern = "dist/runtime/worker.js"): string[] {
  try {
    return execFileSync("pgrep", ["-f", pattern], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}
