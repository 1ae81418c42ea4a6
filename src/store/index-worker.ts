/**
 * The heavy half of the sessions index, run in a worker thread so that it never holds up the server's
 * event loop: reading `index.json` (40 MB at 100,000 sessions; JSON.parse alone takes about half a second)
 * with the change logs applied on top, and folding the logs into a new `index.json` (JSON.stringify and
 * the durable write of the same 40 MB). A small index (`inlineLoadBytes`) is read in the calling thread:
 * a worker thread's start alone costs more than reading it (see `inlineLoadBytes`).
 *
 * The worker is started from this module's own source (`new Worker(source, { eval: true })`) rather than
 * from a file: the store runs inside Next.js server bundles, under vitest from TypeScript and as the
 * compiled CLI, and a worker file would have a different path (or none) in each. So `indexJob` must be
 * self-contained: it reaches Node's built-ins through the `load` it is given (the worker's `require`) and
 * nothing else from its scope.
 */
import fs from "node:fs";
import { stat } from "node:fs/promises";
import { Worker } from "node:worker_threads";

/**
 * A `load` of index files up to this size in all is made in the calling thread: a worker thread's start
 * took 50-60 ms and 65-85 ms of CPU on a 2-vCPU VM (more than reading and parsing a MiB of JSON, ~5 ms), and a
 * store opened as a cold run starts (see `Studio.run`) took that CPU from the inference worker's start.
 * At ~400 bytes a summary, a MiB is ~2,500 sessions.
 */
export const inlineLoadBytes = 1024 * 1024;

/** One line of a change log: a session's summary as it is now, or a session removed. */
export type IndexChange = { set: { id: string } } | { delete: string };

export type IndexJob =
  /** Reads `snapshot` with `logs` applied, and answers the summaries in chunks. */
  | { kind: "load"; snapshot: string; logs: string[]; chunkSize: number }
  /**
   * Writes `snapshot` with `logs` applied (or `logs` alone, when `fromScratch`) into the new file `out`,
   * fsynced; the store renames it into place, so that the sessions folder changes in its own write queue.
   */
  | { kind: "compact"; snapshot: string; logs: string[]; fromScratch: boolean; out: string };

/**
 * Chunks of a `load` the worker may have posted and this thread not yet handled. A message is deserialized
 * on this thread when it arrives, and Node delivers every message waiting at a port in one turn of the
 * event loop: a worker that posted all 50 chunks of 100,000 summaries at once held the loop for 140 ms
 * (their structured clones and the garbage collection after them), however the chunks were handled next.
 */
export const loadWindow = 2;

/** What a `load` tells of each chunk besides its summaries. */
export interface ChunkInfo {
  /** Chunks posted before this one and not yet handled when it was posted (at most `loadWindow - 1`). */
  ahead: number;
}

type JobMessage =
  | { type: "chunk"; summaries: unknown[]; ahead: number }
  | { type: "invalid"; problem: string }
  | { type: "done"; sessions: number; logLines: number }
  | { type: "error"; message: string };

export type LoadResult = { ok: true; logLines: number } | { ok: false; problem: string };

/* eslint-disable @typescript-eslint/no-explicit-any -- `indexJob` runs on its own, untyped, in the worker. */
/** The job, given Node's `fs` and a way to answer (posted to the parent in a worker, collected in the calling thread). */
function indexJob(fs: any, job: any, post: (message: JobMessage) => void): void {
  const readText = (file: string): string | undefined => {
    try {
      return fs.readFileSync(file, "utf8");
    } catch (error: any) {
      if (error && error.code === "ENOENT") return undefined;
      throw error;
    }
  };
  try {
    const byId = new Map<string, any>();
    if (!(job.kind === "compact" && job.fromScratch)) {
      const text = readText(job.snapshot);
      let problem: string | undefined;
      let data: any;
      if (text === undefined) problem = "missing";
      else {
        try {
          data = JSON.parse(text);
        } catch {
          problem = "not JSON";
        }
      }
      if (!problem && (!data || data.version !== 1 || !Array.isArray(data.sessions))) problem = "not the index schema";
      if (problem) {
        post({ type: "invalid", problem });
        return;
      }
      for (const summary of data.sessions) if (summary && typeof summary.id === "string") byId.set(summary.id, summary);
    }
    let logLines = 0;
    for (const log of job.logs) {
      const text = readText(log);
      if (!text) continue;
      for (const line of text.split("\n")) {
        if (!line) continue;
        let change: any;
        try {
          change = JSON.parse(line);
        } catch {
          // The last line of a log that a crash cut short: the session file still says it.
          continue;
        }
        logLines++;
        // A summary that changed keeps its place: the snapshot is in order, and so mostly stays.
        if (change && change.set && typeof change.set.id === "string") byId.set(change.set.id, change.set);
        else if (change && typeof change.delete === "string") byId.delete(change.delete);
      }
    }
    if (job.kind === "load") {
      // flow[0]: chunks the parent has handled; flow[1]: 1 once the parent wants no more (see `loadWindow`).
      const flow = new Int32Array(job.flow);
      const window = job.window;
      let posted = 0;
      const postChunk = (summaries: unknown[]): boolean => {
        for (;;) {
          if (Atomics.load(flow, 1) === 1) return false;
          const handled = Atomics.load(flow, 0);
          if (posted - handled < window) {
            post({ type: "chunk", summaries, ahead: posted - handled });
            posted++;
            return true;
          }
          // A timeout as well, so that a stop is seen even if its wake-up were missed.
          Atomics.wait(flow, 0, handled, 1000);
        }
      };
      let chunk: unknown[] = [];
      for (const summary of byId.values()) {
        chunk.push(summary);
        if (chunk.length >= job.chunkSize) {
          if (!postChunk(chunk)) return;
          chunk = [];
        }
      }
      if (chunk.length > 0 && !postChunk(chunk)) return;
      post({ type: "done", sessions: byId.size, logLines });
      return;
    }
    const sessions = [...byId.values()].sort((a, b) =>
      a.startedAt !== b.startedAt ? (a.startedAt < b.startedAt ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
    // The first half of a durable write (`writeFileDurably`): the whole file, fsynced, under a new name.
    const handle = fs.openSync(job.out, "wx", 0o600);
    try {
      try {
        fs.writeFileSync(handle, JSON.stringify({ version: 1, sessions }));
        fs.fsyncSync(handle);
      } finally {
        fs.closeSync(handle);
      }
    } catch (error) {
      fs.rmSync(job.out, { force: true });
      throw error;
    }
    post({ type: "done", sessions: sessions.length, logLines });
  } catch (error: any) {
    post({ type: "error", message: error && error.message ? String(error.message) : String(error) });
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const workerSource = `const { parentPort, workerData } = require("node:worker_threads");
(${indexJob.toString()})(require("node:fs"), workerData, (message) => parentPort.postMessage(message));`;

/** The files' size in all (those missing count nothing); undefined when one cannot be looked at. */
async function filesSize(files: string[]): Promise<number | undefined> {
  try {
    const sizes = await Promise.all(files.map((file) => stat(file).then((facts) => facts.size, (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? 0 : Promise.reject(error)))));
    return sizes.reduce((sum, size) => sum + size, 0);
  } catch {
    return undefined;
  }
}

/** A `load` made in this thread (see `inlineLoadBytes`): its chunks handed to `onChunk` one per turn of the event loop, as the worker's are. */
async function loadHere(job: Extract<IndexJob, { kind: "load" }>, onChunk: (summaries: unknown[], info: ChunkInfo) => Promise<void> | void): Promise<LoadResult> {
  const messages: JobMessage[] = [];
  // No window: nothing is waiting in a port to be deserialized at once (see `loadWindow`).
  indexJob(fs, { ...job, flow: new SharedArrayBuffer(8), window: Number.POSITIVE_INFINITY }, (message) => messages.push(message));
  for (const message of messages) {
    if (message.type === "chunk") {
      await new Promise((resolve) => setImmediate(resolve));
      await onChunk(message.summaries, { ahead: 0 });
    } else if (message.type === "invalid") return { ok: false, problem: message.problem };
    else if (message.type === "done") return { ok: true, logLines: message.logLines };
    else throw new Error(message.message);
  }
  throw new Error("the index was read without an answer");
}

/**
 * Runs one job in a fresh worker thread (a `load` of at most `inlineUpTo` bytes, `inlineLoadBytes` unless
 * told, in this thread). `onChunk` gets the summaries of a `load`, in chunks, on this thread, one chunk
 * per turn of the event loop (each costs this thread its structured clone: a few ms for 2,000
 * summaries); it may return a promise, which is awaited before the next chunk is handled. The worker
 * stays at most `loadWindow` chunks ahead of `onChunk`.
 */
export async function runIndexJob(
  job: IndexJob,
  onChunk: (summaries: unknown[], info: ChunkInfo) => Promise<void> | void = () => undefined,
  options: { inlineUpTo?: number } = {},
): Promise<LoadResult> {
  if (job.kind === "load") {
    const size = await filesSize([job.snapshot, ...job.logs]);
    if (size !== undefined && size <= (options.inlineUpTo ?? inlineLoadBytes)) return loadHere(job, onChunk);
  }
  return new Promise<LoadResult>((resolve, reject) => {
    const flow = new Int32Array(new SharedArrayBuffer(8));
    const workerData = job.kind === "load" ? { ...job, flow: flow.buffer, window: loadWindow } : job;
    const worker = new Worker(workerSource, { eval: true, workerData });
    // A job in progress never keeps a process alive that has nothing else to do (`flush` waits for it).
    worker.unref();
    let chain: Promise<void> = Promise.resolve();
    let settled = false;
    const settleNow = (work: () => void) => {
      if (settled) return;
      settled = true;
      Atomics.store(flow, 1, 1);
      Atomics.notify(flow, 0);
      void worker.terminate();
      work();
    };
    // In order after the chunks that came before.
    const settle = (work: () => void) => {
      chain = chain.then(() => settleNow(work));
    };
    worker.on("message", (message: JobMessage) => {
      // One chunk per turn of the event loop: the messages that arrived together are delivered in one turn,
      // and handling them all there held the loop for 0.6 s at 100,000 sessions.
      if (message.type === "chunk") {
        chain = chain
          .then(() => new Promise((resolve) => setImmediate(resolve)))
          .then(() => (settled ? undefined : onChunk(message.summaries, { ahead: message.ahead })))
          .then(() => {
            Atomics.add(flow, 0, 1);
            Atomics.notify(flow, 0);
          })
          .catch((error: unknown) => settleNow(() => reject(error)));
      }
      else if (message.type === "invalid") settle(() => resolve({ ok: false, problem: message.problem }));
      else if (message.type === "done") settle(() => resolve({ ok: true, logLines: message.logLines }));
      else settle(() => reject(new Error(message.message)));
    });
    worker.on("error", (error) => settle(() => reject(error)));
    worker.on("exit", (code) => settle(() => reject(new Error(`the index worker stopped (exit code ${code}) before it answered`))));
  });
}
