/**
 * Runs started by the web server: each keeps its events in memory while it runs (and for a while after),
 * so that any number of clients can follow it, and a client that reconnects with the last event id it
 * saw gets the missed events, then the live ones. Finished runs that have left memory are replayed from
 * their session file.
 */
import { ProjectLlmError, errorMessage, errorParams, interruption, isInterruption } from "../common/index.js";
import { pipelineNamePattern, type GenerationParams } from "../config/index.js";
import type { Studio } from "../core/index.js";
import type { RunEvent } from "../engine/index.js";
import { assertRunId, newRunId, sessionNotFound, type SessionRecord } from "../store/index.js";
import { RunQueue, type QueueLimits, type Ticket } from "./run-queue.js";

/** Who starts a run when the request names no one (the studio on loopback with access control off). */
const localUser = "local";

/** What a run is given to execute: its id, its cancel signal, the events it sent while it waited, and listeners. */
interface ExecuteHooks {
  id?: string;
  queuedEvents?: RunEvent[];
  signal: AbortSignal;
  onEvent: (event: RunEvent) => void;
  onSession: (id: string) => void;
}

interface LiveRun {
  id: string;
  pipeline: string;
  /** Who started it. */
  user: string;
  startedAt: number;
  events: RunEvent[];
  done: boolean;
  /** Why the run could not start (a bad config, an id taken): its followers get this error. */
  error?: unknown;
  controller: AbortController;
  /** Wakes the clients that wait for the next event. */
  waiters: Set<() => void>;
  finished: Promise<SessionRecord | undefined>;
  /** Its place in the run queue, while it waits or goes. */
  ticket?: Ticket;
}

export interface RunSummary {
  id: string;
  pipeline: string;
  startedAt: number;
  done: boolean;
  events: number;
  /** Runs waiting before it in the run queue; absent once it goes. */
  ahead?: number;
}

export interface RunManagerOptions {
  /** Finished runs kept in memory for fast replay; older ones are read from their session files. */
  keepFinished?: number;
  /**
   * How long a client may follow a run id before the run exists: a browser names its next run and opens
   * its stream ahead (renewed every minute), so that the stream is there when the run starts.
   */
  arrivalGraceMs?: number;
}

export class RunManager {
  readonly studio: Studio;
  readonly #runs = new Map<string, LiveRun>();
  readonly #keepFinished: number;
  readonly #arrivalGraceMs: number;
  /** Clients waiting for a run id to appear. */
  readonly #arrivals = new Map<string, Set<() => void>>();
  /** Runs whose caller chose their id, still being checked before they start; `cancelled` by a cancel meanwhile. */
  readonly #starting = new Map<string, { cancelled: boolean; user: string }>();
  /** Runs going and waiting, with the caps of models.yaml's `runtime` section. */
  readonly #queue = new RunQueue();
  #stopping = false;

  constructor(studio: Studio, options: RunManagerOptions = {}) {
    this.studio = studio;
    this.#keepFinished = options.keepFinished ?? 20;
    this.#arrivalGraceMs = options.arrivalGraceMs ?? 90_000;
  }

  /**
   * Starts a run of a pipeline; resolves with its id once its session exists (a bad config rejects here).
   * `pipeline` names a pipeline of the config folder, or is the pipeline itself (an object, checked as a
   * file is; `basedOn` names the pipeline it was edited from). `id` is the run's id when the caller chose
   * it (a new, well-formed one). `params` go over the named stages' generation parameters. `api`: the run
   * is a call of the OpenAI-compatible API (see `SessionRecord.api`).
   */
  async start(options: { pipeline: string | Record<string, unknown>; basedOn?: string; input: string; id?: string; user?: string; params?: Record<string, GenerationParams>; cache?: boolean; api?: { model: string } }): Promise<{ id: string }> {
    const inline = typeof options.pipeline === "object" ? { pipeline: options.pipeline, basedOn: options.basedOn } : undefined;
    const name = inline ? (inline.basedOn ?? "unsaved") : (options.pipeline as string);
    // A name, never a path: the web may run the pipelines of the config folder, not any YAML file.
    if (!pipelineNamePattern.test(name)) {
      throw new ProjectLlmError("usage", `"${name.slice(0, 80)}" is not a pipeline name: use "base" or a name of config/pipelines/`);
    }
    const what = inline ? { inline } : { pipeline: name };
    const user = options.user ?? localUser;
    return this.#whileStarting(options.id, user, async () => {
      if (options.id !== undefined) await this.#assertNewId(options.id);
      await this.#updateLimits();
      // A run that would wait is checked now, so that a bad config is refused here and not once its turn
      // comes (a run that goes at once is checked as it starts).
      if (this.#queue.full) await this.studio.check({ ...what, input: options.input, params: options.params, cache: options.cache });
    }, () => this.#launch(name, options.id, user, (hooks) => this.studio.run({ ...what, input: options.input, user, params: options.params, cache: options.cache, ...(options.api ? { api: options.api } : {}), ...hooks })));
  }

  /** The queue's caps, as models.yaml's `runtime` section sets them now. */
  async #updateLimits(): Promise<void> {
    const { runtime } = (await this.studio.loadModels()).config;
    this.#queue.setLimits({ inFlight: await this.#inFlight(runtime.runs_in_flight, runtime.parallel), waiting: runtime.runs_waiting, perUser: runtime.runs_per_user });
  }

  /** `runs_in_flight`, with `auto` resolved to the worker's parallelism (which `parallel: auto` learns once the worker is up). */
  async #inFlight(configured: number | "auto", parallel: number | "auto"): Promise<QueueLimits["inFlight"]> {
    if (configured !== "auto") return configured;
    if (parallel !== "auto") return parallel;
    const runtime = await this.studio.runtime();
    if (runtime.parallel === undefined) {
      // The first run starts the worker anyway; a worker that cannot start fails the run itself.
      await runtime.status().catch(() => undefined);
    }
    return runtime.parallel ?? 1;
  }

  /** A caller's run id must be new: not a run in memory, not a stored session. */
  async #assertNewId(id: string): Promise<void> {
    assertRunId(id);
    if (this.#runs.has(id) || (await this.studio.sessions.has(id))) throw new ProjectLlmError("invalid-id", `run id ${id} is already used; make a new one`);
  }

  /**
   * Runs the checks before a run whose id the caller chose, then launches it. A cancel of that id that
   * comes during the checks (the client knows its id from the start) is kept and stops the run at once.
   */
  async #whileStarting(id: string | undefined, user: string, check: () => Promise<void>, launch: () => Promise<{ id: string }>): Promise<{ id: string }> {
    if (id === undefined) {
      await check();
      return launch();
    }
    const starting = { cancelled: false, user };
    this.#starting.set(id, starting);
    try {
      await check();
    } finally {
      if (this.#starting.get(id) === starting) this.#starting.delete(id);
    }
    const launched = launch();
    if (starting.cancelled) this.cancel(id);
    return launched;
  }

  /** Reruns a session from one of its stages as a new branch; resolves with the new run's id. */
  async rerun(parentId: string, options: { fromStage: string; input?: string; id?: string; user?: string; cache?: boolean }): Promise<{ id: string }> {
    assertRunId(parentId);
    let parent: SessionRecord | undefined;
    const user = options.user ?? localUser;
    return this.#whileStarting(options.id, user, async () => {
      if (options.id !== undefined) await this.#assertNewId(options.id);
      parent = await this.studio.sessions.get(parentId);
      await this.#updateLimits();
    }, () => this.#launch(parent!.pipelineName, options.id, user, (hooks) => this.studio.rerun(parentId, { fromStage: options.fromStage, input: options.input, user, cache: options.cache, ...hooks })));
  }

  #register(id: string, pipeline: string, user: string, controller: AbortController, events: RunEvent[]): LiveRun {
    const run: LiveRun = { id, pipeline, user, startedAt: Date.now(), events, done: false, controller, waiters: new Set(), finished: Promise.resolve(undefined) };
    this.#runs.set(id, run);
    const waiting = this.#arrivals.get(id);
    this.#arrivals.delete(id);
    for (const wake of waiting ?? []) wake();
    return run;
  }

  /**
   * Lets a run into the queue (synchronously, so that no burst passes a cap) and starts it, or registers
   * it as waiting: a waiting run answers its id at once and sends `run-queued` events until it goes.
   */
  #launch(pipeline: string, chosenId: string | undefined, user: string, execute: (hooks: ExecuteHooks) => Promise<SessionRecord>): Promise<{ id: string }> {
    if (this.#stopping) return Promise.reject(new ProjectLlmError("unavailable", "the server is stopping; start the run again once it is back", { details: { params: { reason: "stopping" } } }));
    if (chosenId !== undefined) {
      assertRunId(chosenId);
      if (this.#runs.has(chosenId)) return Promise.reject(new ProjectLlmError("invalid-id", `run id ${chosenId} is already used; make a new one`));
    }
    // The run that waits, once registered below (the queue calls these hooks only later).
    const slot: { waiting?: LiveRun } = {};
    let ticket: Ticket;
    try {
      ticket = this.#queue.admit(user, {
        onAhead: (ahead) => slot.waiting && this.#queued(slot.waiting, ahead),
        onStart: () => {
          const waiting = slot.waiting;
          if (waiting) void this.#execute(waiting.pipeline, waiting.id, waiting.user, ticket, execute, waiting).catch(() => undefined);
        },
      });
    } catch (error) {
      return Promise.reject(error);
    }
    if (ticket.ahead === undefined) return this.#execute(pipeline, chosenId, user, ticket, execute);
    const run = this.#register(chosenId ?? newRunId(), pipeline, user, new AbortController(), []);
    slot.waiting = run;
    run.ticket = ticket;
    this.#queued(run, ticket.ahead);
    // Cancelled (or the server stopping) while it waits: it leaves the queue and ends without a session,
    // since it never ran.
    run.controller.signal.addEventListener(
      "abort",
      () => {
        if (ticket.ahead === undefined) return;
        ticket.leave();
        const reason: unknown = run.controller.signal.reason;
        const interrupted = isInterruption(reason);
        run.events.push({
          type: "run-end",
          runId: run.id,
          seq: run.events.length,
          at: Date.now(),
          status: interrupted ? "interrupted" : "cancelled",
          durationMs: Date.now() - run.startedAt,
          error: { code: interrupted ? "interrupted" : "cancelled", message: errorMessage(reason) },
        });
        run.done = true;
        this.#wake(run);
        this.#forgetOldRuns();
      },
      { once: true },
    );
    return Promise.resolve({ id: run.id });
  }

  /** A waiting run's place: a `run-queued` event for its followers. */
  #queued(run: LiveRun, ahead: number): void {
    run.events.push({ type: "run-queued", runId: run.id, seq: run.events.length, at: Date.now(), ahead });
    this.#wake(run);
  }

  /** Runs a run that has its place (`queued`: the run that waited for it, registered with its events so far). */
  #execute(pipeline: string, chosenId: string | undefined, user: string, ticket: Ticket, execute: (hooks: ExecuteHooks) => Promise<SessionRecord>, queued?: LiveRun): Promise<{ id: string }> {
    const controller = queued?.controller ?? new AbortController();
    return new Promise((resolve, reject) => {
      const early: RunEvent[] = [];
      // A run whose id the caller chose is followable at once, before its session exists.
      let run: LiveRun | undefined = queued ?? (chosenId === undefined ? undefined : this.#register(chosenId, pipeline, user, controller, early));
      if (run) run.ticket = ticket;
      let started = false;
      let runEnd: RunEvent | undefined;
      let failure: unknown;
      const finished = execute({
        id: chosenId,
        ...(queued ? { queuedEvents: [...queued.events] } : {}),
        signal: controller.signal,
        onSession: (id) => {
          started = true;
          run ??= this.#register(id, pipeline, user, controller, early);
          run.finished = finished;
          resolve({ id });
        },
        onEvent: (event) => {
          // `run-end` comes once the session is written, and says how it ended and was stored (an
          // interruption, a session that could not be written): it goes out when the run is done here.
          if (event.type === "run-end") {
            runEnd = event;
            return;
          }
          (run?.events ?? early).push(event);
          if (run) this.#wake(run);
        },
      }).then(
        (session) => session,
        (error: unknown) => {
          // A run that waited has answered its start already: a failure before its session is its end.
          if (!started && !queued) {
            reject(error);
            // Its followers get the reason too.
            if (run) run.error = error;
          } else {
            console.error(`run ${run?.id} failed outside its stages: ${errorMessage(error)}`);
            failure = error;
          }
          return undefined;
        },
      );
      // Shutdown waits for this run from now on, session written or not.
      if (run) run.finished = finished;
      void finished.then(() => {
        ticket.leave();
        if (!run) return;
        if (runEnd) run.events.push(runEnd);
        else if (failure !== undefined) {
          // The engine never said how it ended: its followers still get an end, as a failure.
          run.events.push({
            type: "run-end",
            runId: run.id,
            seq: run.events.length,
            at: Date.now(),
            status: "failed",
            durationMs: Date.now() - run.startedAt,
            error: { code: ProjectLlmError.isInstance(failure) ? failure.code : "internal", message: errorMessage(failure), ...(errorParams(failure) ? { params: errorParams(failure) } : {}) },
          });
        }
        run.done = true;
        this.#wake(run);
        this.#forgetOldRuns();
      });
    });
  }

  #wake(run: LiveRun): void {
    const waiters = [...run.waiters];
    run.waiters.clear();
    for (const wake of waiters) wake();
  }

  #forgetOldRuns(): void {
    const finished = [...this.#runs.values()].filter((run) => run.done).sort((a, b) => a.startedAt - b.startedAt);
    for (const run of finished.slice(0, Math.max(0, finished.length - this.#keepFinished))) this.#runs.delete(run.id);
  }

  /** Cancels a run in progress; false when it has already ended. */
  cancel(id: string): boolean {
    assertRunId(id);
    const run = this.#runs.get(id);
    if (!run) {
      const starting = this.#starting.get(id);
      if (starting) starting.cancelled = true;
      return starting !== undefined;
    }
    if (run.done) return false;
    run.controller.abort(new ProjectLlmError("cancelled", "the run was cancelled by its user"));
    return true;
  }

  /** Who started a run in memory (in progress, waiting, starting or ended a short while ago); undefined for another id. */
  owner(id: string): string | undefined {
    return this.#runs.get(id)?.user ?? this.#starting.get(id)?.user;
  }

  /** Whether a run with this id is in memory (in progress, or ended a short while ago). */
  has(id: string): boolean {
    const run = this.#runs.get(id);
    return run !== undefined && run.error === undefined;
  }

  /** Runs in memory, newest first. */
  list(): RunSummary[] {
    return [...this.#runs.values()]
      .filter((run) => run.error === undefined)
      .sort((a, b) => b.startedAt - a.startedAt)
      .map((run) => ({
        id: run.id,
        pipeline: run.pipeline,
        startedAt: run.startedAt,
        done: run.done,
        events: run.events.length,
        ...(run.ticket?.ahead !== undefined && !run.done ? { ahead: run.ticket.ahead } : {}),
      }));
  }

  /**
   * The events of a run after sequence number `afterSeq` (all of them when it is absent), then the live
   * ones until `run-end`. A run no longer in memory is replayed from its session file. `session-not-found`
   * for an unknown id.
   */
  async *events(id: string, options: { afterSeq?: number; signal?: AbortSignal; pace?: "instant" | "recorded" } = {}): AsyncGenerator<RunEvent> {
    assertRunId(id);
    const { signal } = options;
    let next = options.afterSeq === undefined ? 0 : options.afterSeq + 1;
    let run = this.#runs.get(id);
    if (run?.done && run.error === undefined && options.pace === "recorded") {
      yield* paced(run.events.filter((event) => event.seq >= next), signal);
      return;
    }
    if (!run) {
      let session: SessionRecord | undefined;
      try {
        session = await this.studio.sessions.get(id);
      } catch (error) {
        if (!(ProjectLlmError.isInstance(error) && error.code === "session-not-found")) throw error;
      }
      if (session && !this.#runs.has(id)) {
        const stored = withRunEnd(session, next).filter((event) => event.seq >= next);
        if (options.pace === "recorded") yield* paced(stored, signal);
        else yield* stored;
        return;
      }
      // Not started yet: its start may be on its way.
      run = this.#runs.get(id) ?? (await this.#arrival(id, signal));
      // The follower went away while it waited: nothing to say.
      if (!run && signal?.aborted) return;
      if (!run) throw sessionNotFound(id);
    }
    while (!signal?.aborted) {
      // Events are numbered 0, 1, 2, ... in order, so the next one to send is at index `next`.
      while (next < run.events.length) {
        const event = run.events[next++]!;
        yield event;
        if (event.type === "run-end") return;
      }
      if (run.error !== undefined) throw run.error;
      if (run.done) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal?.removeEventListener("abort", wake);
          run.waiters.delete(wake);
          resolve();
        };
        run.waiters.add(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
    }
  }

  /** Waits up to the grace time for a run with this id to be registered. */
  async #arrival(id: string, signal: AbortSignal | undefined): Promise<LiveRun | undefined> {
    // Followers of runs to come are few (one per open Run page); a flood of them is refused at once.
    if (this.#arrivals.size >= maxAwaitedRuns && !this.#arrivals.has(id)) return undefined;
    await new Promise<void>((resolve) => {
      const waiting = this.#arrivals.get(id) ?? new Set<() => void>();
      this.#arrivals.set(id, waiting);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        waiting.delete(done);
        if (waiting.size === 0 && this.#arrivals.get(id) === waiting) this.#arrivals.delete(id);
        resolve();
      };
      const timer = setTimeout(done, this.#arrivalGraceMs);
      waiting.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
    return this.#runs.get(id);
  }

  /**
   * Stops every run in progress (their sessions are marked `interrupted`) and waits for their sessions
   * to be written, at most `timeoutMs`.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    this.#stopping = true;
    // No waiting run starts now: those waiting end at once, those going are interrupted.
    this.#queue.setLimits({ ...this.#queue.limits, inFlight: 0 });
    const running = [...this.#runs.values()].filter((run) => !run.done);
    for (const run of running) run.controller.abort(interruption());
    await Promise.race([Promise.allSettled(running.map((run) => run.finished)), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }
}

/** Run ids followed before their run exists, at most. */
const maxAwaitedRuns = 256;

/** Longest pause a paced replay keeps (a model that loaded for a minute replays its wait in a second). */
const maxReplayGapMs = 1000;

/** Yields stored events at the pace they were made (`at`), with pauses capped at `maxReplayGapMs`. */
async function* paced(events: RunEvent[], signal: AbortSignal | undefined): AsyncGenerator<RunEvent> {
  const startedAt = performance.now();
  let offset = 0;
  let previous: number | undefined;
  for (const event of events) {
    if (signal?.aborted) return;
    if (previous !== undefined) offset += Math.min(Math.max(0, event.at - previous), maxReplayGapMs);
    previous = event.at;
    const wait = startedAt + offset - performance.now();
    if (wait > 1) await sleep(wait, signal);
    // Stopped while it waited: not one event more (the follower may have been revoked).
    if (signal?.aborted) return;
    yield event;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A stored session's events, ending with `run-end`: a session whose process stopped before the run ended
 * (marked `interrupted` when the next server started) may have none, and its followers must still learn
 * how it ended: those that start over, and those that reconnect with the last event id they saw live
 * (more events than its last checkpoint kept: its end comes after the last one they saw).
 */
function withRunEnd(session: SessionRecord, next: number): RunEvent[] {
  const events = session.events ?? [];
  if (session.status === "running") return events;
  const stored = events.find((event) => event.type === "run-end");
  if (stored && (session.status !== "interrupted" || stored.seq >= next)) return events;
  const rest = events.filter((event) => event.type !== "run-end");
  const at = Date.parse(session.endedAt ?? session.startedAt);
  const end: RunEvent = stored ?? {
    type: "run-end",
    runId: session.id,
    seq: 0,
    at,
    status: session.status,
    finalAnswer: session.finalAnswer,
    durationMs: session.durationMs ?? Math.max(0, at - Date.parse(session.startedAt)),
    error: session.error,
  };
  return [...rest, { ...end, seq: Math.max(rest.length === 0 ? 0 : rest[rest.length - 1]!.seq + 1, next) }];
}
