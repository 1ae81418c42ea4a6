/**
 * The inference worker's process: how it is forked, and one forked early, before its settings are known.
 *
 * A CLI run reads its configs only after its own modules (~0.3 s here) and then forks the worker, whose
 * start (Node, node-llama-cpp's modules: ~0.5 s) came after both. `prestartWorker`, called by the CLI's
 * entry before it loads anything else, forks the worker at once: it loads its modules meanwhile and waits
 * for its settings, which the runtime sends when it takes the process (`takePrestarted`). A process
 * nobody takes (a run refused by its config, a remote-only pipeline) neither keeps the CLI running nor
 * outlives it: it exits when its parent's channel closes.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { WorkerSettings } from "./protocol.js";

/** Forks the worker; without `settings` it waits for a `settings` message before it starts node-llama-cpp. */
export function forkWorker(workerPath: string, settings?: WorkerSettings): ChildProcess {
  return fork(workerPath, [], {
    // Next.js dev sets NODE_OPTIONS and execArgv that a plain Node worker must not inherit.
    execArgv: [],
    env: { ...process.env, NODE_OPTIONS: "", PROJECT_LLM_WORKER_SETTINGS: settings === undefined ? undefined : JSON.stringify(settings) },
    stdio: ["ignore", "inherit", "pipe", "ipc"],
    // JSON: every message is plain data, and JSON costs a quarter of the structured clone per message (each text batch, each call).
    serialization: "json",
  });
}

let prestarted: { workerPath: string; child: ChildProcess } | undefined;

/** Forks the worker at `workerPath` now, for the runtime that comes next to take; it holds nothing open. Its process id. */
export function prestartWorker(workerPath: string): number | undefined {
  if (prestarted) return prestarted.child.pid;
  const child = forkWorker(path.resolve(workerPath));
  child.unref();
  child.channel?.unref();
  (child.stderr as { unref?: () => void } | null)?.unref?.();
  // Until taken, its failures are nobody's: a runtime that finds it gone forks another.
  child.on("error", () => undefined);
  prestarted = { workerPath: path.resolve(workerPath), child };
  return child.pid;
}

/**
 * The worker forked early for `workerPath`, given `settings` and held open as a worker the runtime owns,
 * or undefined when there is none (or it has stopped).
 */
export function takePrestarted(workerPath: string, settings: WorkerSettings): ChildProcess | undefined {
  const taken = prestarted;
  if (!taken || taken.workerPath !== path.resolve(workerPath)) return undefined;
  prestarted = undefined;
  const { child } = taken;
  if (child.exitCode !== null || child.signalCode !== null || !child.connected) return undefined;
  child.ref();
  child.channel?.ref();
  (child.stderr as { ref?: () => void } | null)?.ref?.();
  child.send({ type: "settings", settings });
  return child;
}
