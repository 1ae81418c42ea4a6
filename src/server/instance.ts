/**
 * The one studio of the server process: configs, the inference worker, the session store and the runs in
 * progress. It lives on `globalThis`, so that Next.js hot reload (which evaluates modules again) reuses it
 * instead of forking another worker; when the run manager's own code changed, the old instance is stopped
 * and replaced.
 */
import { errorMessage } from "../common/index.js";
import { Studio } from "../core/index.js";
import { RunManager } from "./run-manager.js";

export interface ServerInstance {
  studio: Studio;
  runs: RunManager;
  /** Resolves once sessions left `running` by an earlier process are marked `interrupted`. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

const key = Symbol.for("project-llm.server");
type Holder = { [key]?: ServerInstance };

function create(): ServerInstance {
  const studio = Studio.open({ env: process.env, cwd: process.cwd() });
  const runs = new RunManager(studio);
  // This process is the one writer of the sessions folder: a session still `running` on disk was left by
  // a process that stopped mid-run.
  const ready = studio.sessions.interruptRunning().then(
    (ids) => {
      if (ids.length > 0) console.log(`project_llm: marked ${ids.length} session(s) left running by an earlier server as interrupted`);
    },
    (error: unknown) => console.error(`project_llm: cannot read the sessions folder: ${errorMessage(error)}`),
  );
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await runs.shutdown();
      await studio.dispose();
    })());
  return { studio, runs, ready, stop };
}

let signalsInstalled = false;
function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      const instance = (globalThis as Holder)[key];
      console.log(`project_llm: ${signal}: stopping the runs in progress and the inference worker`);
      const exit = () => process.exit(signal === "SIGINT" ? 130 : 143);
      setTimeout(exit, 8000).unref();
      void (instance?.stop() ?? Promise.resolve()).then(exit, exit);
    });
  }
}

/** The process-wide instance, created on first use. */
export async function getServer(): Promise<ServerInstance> {
  const holder = globalThis as Holder;
  let instance = holder[key];
  if (instance && !(instance.runs instanceof RunManager)) {
    // Hot reload brought new code for the run manager: stop the old one and its worker.
    const old = instance;
    void old.stop();
    instance = undefined;
  }
  if (!instance) {
    instance = create();
    holder[key] = instance;
    installSignalHandlers();
  }
  await instance.ready;
  return instance;
}
