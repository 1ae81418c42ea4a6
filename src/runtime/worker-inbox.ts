/**
 * The inference worker's first module: it takes the parent's messages from the worker's start, before
 * the rest of the worker (node-llama-cpp's modules: ~0.4 s here) has loaded. The settings of a worker
 * forked before they were known (see worker-process.ts) are taken from among them; a `shutdown` that comes
 * meanwhile (a CLI run the stage cache answered whole) ends the process at once; the others wait for the
 * worker's handler.
 */
import type { ParentMessage, WorkerMessage, WorkerSettings } from "./protocol.js";

const early: ParentMessage[] = [];
let handler: ((message: ParentMessage) => void) | undefined;
let given: WorkerSettings | undefined;
let whenGiven: ((settings: WorkerSettings) => void) | undefined;

process.on("message", (message: ParentMessage) => {
  if (message.type === "settings") {
    if (given !== undefined) return;
    given = message.settings;
    whenGiven?.(given);
  } else if (handler) {
    handler(message);
  } else if (message.type === "shutdown") {
    // Nothing is loaded yet: nothing to stop first.
    process.send?.({ type: "reply", id: message.id, value: true } satisfies WorkerMessage, () => process.exit(0));
  } else {
    early.push(message);
  }
});
// Never outlive the parent, nor wait for settings from one that has gone.
process.on("disconnect", () => process.exit(0));
// Ctrl+C in a terminal signals the whole process group: the parent decides when the worker stops (it
// first stops the runs, then sends `shutdown`), and the worker exits anyway when the parent goes.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => undefined);

/** The worker's settings: from its environment, or the parent's `settings` message. */
export function workerSettings(): Promise<WorkerSettings> {
  const inEnvironment = process.env.PROJECT_LLM_WORKER_SETTINGS;
  if (inEnvironment !== undefined) return Promise.resolve(JSON.parse(inEnvironment) as WorkerSettings);
  return given !== undefined ? Promise.resolve(given) : new Promise((resolve) => (whenGiven = resolve));
}

/** Hands the parent's messages to `handle` from now on, those that came before first. */
export function handleMessages(handle: (message: ParentMessage) => void): void {
  handler = handle;
  for (const message of early.splice(0)) handle(message);
}
