/**
 * The session store's writes, made by one worker thread with synchronous calls. A session's write is a
 * dozen system calls one after another (the folder's stat, the temp file's open, write, fsync and close,
 * the rename, the folder's open, fsync and close, the folder's stat again); made from this thread each is
 * a trip through the thread pool and back (0.1-0.6 ms each on a 2-vCPU VM), and a run's last write is on
 * the path from its last token to its end. In a thread of their own they cost one message each way.
 *
 * The thread starts with the first write and never keeps the process alive while it has nothing to write.
 * A short-lived process that makes a few writes (the command line: see `writeInCallingThread`) makes them
 * from its own thread: there the thread's start and end cost more than it saves.
 * Where it cannot start, or dies, the writes are made from this thread as before (`writeFolderFile`'s
 * `fallback`). Like the index's worker (see index-worker.ts), it runs from this module's own source, so
 * `writeJob` must be self-contained.
 */
import { Worker } from "node:worker_threads";
import { tempFileFor } from "../common/index.js";

export interface FolderWrite {
  /** The folder written to; made when missing (and its parent fsynced) by a durable write. */
  directory: string;
  file: string;
  content: string;
  /** Appended to the file (made when missing; not fsynced: the index's log, which the files can rebuild), not written durably. */
  append?: boolean;
  /** `false`: written whole or not at all (temp file and rename), without the fsyncs (see `SessionStore.create`). */
  sync?: boolean;
}

/** The folder's modification time before the write (undefined: it was not there) and after it. */
export interface FolderWriteResult {
  before?: number;
  after?: number;
}

interface JobRequest extends FolderWrite {
  id: number;
  temp: string;
}

type JobReply = { id: number; before?: number; after?: number } | { id: number; error: { message: string; code?: string; errno?: number; syscall?: string; path?: string } };

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The thread's code: only its argument and Node's built-ins. */
function writeJob(load: (name: string) => any): void {
  const fs = load("node:fs");
  const path = load("node:path");
  const { parentPort } = load("node:worker_threads");
  // Some platforms and file systems (Windows, some network mounts) cannot open or fsync a folder.
  const cannotSyncFolders = new Set(["EISDIR", "EPERM", "EINVAL", "EBADF"]);
  const syncFolder = (directory: string) => {
    let handle: number | undefined;
    try {
      handle = fs.openSync(directory, "r");
      fs.fsyncSync(handle);
    } catch (error: any) {
      if (!cannotSyncFolders.has(error && error.code)) throw error;
    } finally {
      if (handle !== undefined) fs.closeSync(handle);
    }
  };
  const mtime = (directory: string) => {
    try {
      return fs.statSync(directory).mtimeMs as number;
    } catch {
      return undefined;
    }
  };
  parentPort.on("message", (job: { id: number; directory: string; file: string; temp: string; content: string; append?: boolean; sync?: boolean }) => {
    try {
      const before = mtime(job.directory);
      if (job.append) {
        fs.appendFileSync(job.file, job.content, "utf8");
        parentPort.postMessage({ id: job.id, before, after: before === undefined ? undefined : mtime(job.directory) });
        return;
      }
      if (before === undefined) {
        const made = fs.mkdirSync(job.directory, { recursive: true });
        if (made !== undefined) syncFolder(path.dirname(job.directory));
      }
      // As `writeFileDurably`: the temp file fsynced, renamed over the target, then the folder fsynced.
      const handle = fs.openSync(job.temp, "wx", 0o600);
      try {
        // The write's or the fsync's error is the one to tell, not the close's after it.
        let failure: unknown;
        try {
          fs.writeFileSync(handle, job.content, "utf8");
          if (job.sync !== false) fs.fsyncSync(handle);
        } catch (error) {
          failure = error;
        }
        try {
          fs.closeSync(handle);
        } catch (error) {
          failure ??= error;
        }
        if (failure) throw failure;
        fs.renameSync(job.temp, job.file);
      } catch (error) {
        try {
          fs.rmSync(job.temp, { force: true });
        } catch {
          // The write's own error is the one to tell.
        }
        throw error;
      }
      if (job.sync !== false) syncFolder(job.directory);
      parentPort.postMessage({ id: job.id, before, after: before === undefined ? undefined : mtime(job.directory) });
    } catch (error: any) {
      parentPort.postMessage({ id: job.id, error: { message: String(error && error.message ? error.message : error), code: error && error.code, errno: error && error.errno, syscall: error && error.syscall, path: error && error.path } });
    }
  });
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const workerSource = `(${writeJob.toString()})(require);`;

let worker: Worker | undefined;
/** The thread could not start, or died: writes are made from this thread from then on. */
let broken = false;
/** Set by `writeInCallingThread`: no thread is started. */
let threadUnwanted = false;

/**
 * Makes this process's writes from its own thread (`writeFolderFile`'s `fallback`), never starting the
 * write thread: for a process that makes a few writes and exits, the command line's. A thread's start
 * (~60 ms and ~70 ms of CPU on a 2-vCPU VM, beside a cold run's model load) and its end at the exit made a
 * CLI run of the demo pipeline 60-110 ms slower (3-4%) than the dozen trips through the pool it saves
 * (BENCHMARKS.md, "A cold run"). A thread already started goes on.
 */
export function writeInCallingThread(): void {
  threadUnwanted = true;
}
let nextId = 1;
const pending = new Map<number, { resolve: (result: FolderWriteResult) => void; reject: (error: unknown) => void; fallback: () => Promise<FolderWriteResult> }>();

function thread(): Worker | undefined {
  if (worker || broken || threadUnwanted) return worker;
  try {
    worker = new Worker(workerSource, { eval: true });
  } catch {
    broken = true;
    return undefined;
  }
  worker.unref();
  worker.on("message", (reply: JobReply) => {
    const waiting = pending.get(reply.id);
    if (!waiting) return;
    pending.delete(reply.id);
    if (pending.size === 0) worker?.unref();
    if ("error" in reply) {
      const { message, ...fields } = reply.error;
      waiting.reject(Object.assign(new Error(message), fields));
    } else waiting.resolve({ before: reply.before, after: reply.after });
  });
  const fail = () => {
    broken = true;
    worker = undefined;
    // Whatever the thread had not answered is written from here: a write is never lost to the thread's death.
    const left = [...pending.values()];
    pending.clear();
    for (const waiting of left) waiting.fallback().then(waiting.resolve, waiting.reject);
  };
  worker.on("error", fail);
  worker.on("exit", fail);
  return worker;
}

/**
 * Writes `file` in `directory` durably (see `writeFileDurably`; without its fsyncs with `sync: false`), making the folder when it is missing, or
 * appends to it (`append`), and says the folder's modification time before and after. `fallback` makes the
 * same write from this thread, where the worker thread cannot. No write holds a file open across turns of
 * this thread's event loop (an append made here is three trips through the thread pool).
 */
export function writeFolderFile(write: FolderWrite, fallback: () => Promise<FolderWriteResult>): Promise<FolderWriteResult> {
  const target = thread();
  if (!target) return fallback();
  const job: JobRequest = { ...write, id: nextId++, temp: tempFileFor(write.file) };
  return new Promise<FolderWriteResult>((resolve, reject) => {
    pending.set(job.id, { resolve, reject, fallback });
    // Kept alive while a write is under way, as an fs call would.
    if (pending.size === 1) target.ref();
    target.postMessage(job);
  });
}
