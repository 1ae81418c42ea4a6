/**
 * The one studio of the server process: configs, the inference worker, the session store and the runs in
 * progress. It lives on `globalThis`, so that every copy of this module (see `getServer`) shares it instead
 * of forking another worker.
 */
import { errorMessage } from "../common/index.js";
import { defaultStreamsPerClient } from "../config/index.js";
import { Studio } from "../core/index.js";
import { DownloadManager } from "./downloads.js";
import { RunManager } from "./run-manager.js";
import { StreamLimiter } from "./stream-limit.js";

export interface ServerInstance {
  studio: Studio;
  runs: RunManager;
  downloads: DownloadManager;
  /** Run event streams open, per client (`/api/runs/ID/events` and the tRPC subscription). */
  streams: StreamLimiter;
  /** Event streams one client may hold open: models.yaml's `runtime.streams_per_client`. */
  streamsPerClient(): Promise<number>;
  /** Resolves once sessions left `running` by a process that stopped mid-run are marked `interrupted`. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

const key = Symbol.for("project-llm.server");
type Holder = { [key]?: ServerInstance };

function create(): ServerInstance {
  const studio = Studio.open({ env: process.env, cwd: process.cwd() });
  const runs = new RunManager(studio);
  const downloads = new DownloadManager(studio);
  // This process runs nothing yet: a session still `running` on disk is a run of another live process (a
  // CLI run, left as it is) or was left by a process that stopped mid-run.
  const ready = studio.sessions.interruptRunning().then(
    (ids) => {
      if (ids.length > 0) console.log(`project_llm: marked ${ids.length} session(s) left running by a process that stopped as interrupted`);
    },
    (error: unknown) => console.error(`project_llm: cannot read the sessions folder: ${errorMessage(error)}`),
  );
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all([runs.shutdown(), downloads.shutdown()]);
      await studio.dispose();
    })());
  const streams = new StreamLimiter();
  // A models.yaml that does not load (a typo mid-edit) must not stop every event stream, replays of stored
  // runs included: the cap is then its default.
  const streamsPerClient = () => studio.loadModels().then((models) => models.config.runtime.streams_per_client, () => defaultStreamsPerClient);
  return { studio, runs, downloads, streams, streamsPerClient, ready, stop };
}

const signalsKey = Symbol.for("project-llm.server.signals");
type SignalHolder = { [signalsKey]?: boolean };

/**
 * SIGTERM or SIGINT: stop the runs in progress (their sessions are marked `interrupted`), write what the
 * session store keeps for later, stop the worker, exit. A second signal while stopping changes nothing
 * (Ctrl+C reaches both this process and its launcher, which forwards it); 8 s is the most it waits.
 * A stop asked for (SIGTERM from `docker stop` or a supervisor, Ctrl+C) that completes exits 0, as servers do,
 * so that a supervisor sees a clean stop and does not restart it; a stop that fails or runs out of time exits
 * as the signal would have ended it (128 + its number). Installed once per process (hot reload evaluates
 * this module again).
 */
function installSignalHandlers(): void {
  const holder = globalThis as SignalHolder;
  if (holder[signalsKey]) return;
  holder[signalsKey] = true;
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      const instance = (globalThis as Holder)[key];
      console.log(`project_llm: ${signal}: stopping the runs in progress and the inference worker`);
      const unclean = () => process.exit(signal === "SIGINT" ? 130 : 143);
      setTimeout(unclean, 8000).unref();
      void (instance?.stop() ?? Promise.resolve()).then(() => process.exit(0), unclean);
    });
  }
}

/**
 * The process-wide instance, created on first use and kept for the life of the process. Next.js evaluates
 * this module more than once (the instrumentation hook and the routes are separate bundles, and hot reload
 * evaluates changed modules again): every copy finds the one instance on `globalThis`, so there is one
 * worker and one session store in the process. (In development, a change to the server's own code takes
 * effect after a restart of `npm run dev`.)
 */
export async function getServer(): Promise<ServerInstance> {
  const holder = globalThis as Holder;
  let instance = holder[key];
  if (!instance) {
    instance = create();
    holder[key] = instance;
    installSignalHandlers();
  }
  await instance.ready;
  return instance;
}
