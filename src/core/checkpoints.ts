/**
 * A running session written while its run goes, so that a server killed mid-run (kill -9, a power cut)
 * leaves on disk the stages that ended and the text of those in progress, up to the last write.
 */
import { ProjectLlmError, errorMessage } from "../common/index.js";

/** How long text may stream before it is written: a crash loses at most this much of it (plus one write). */
export const checkpointIntervalMs = 1000;

/**
 * The longest wait between text arriving and its write, however long the session has grown: a write of
 * a long session (tens of thousands of events: its JSON made on the server's main thread, ~70 ms for
 * 50,000) is spaced out up to this, so that checkpoints take a small share of the server's time.
 */
export const maxCheckpointIntervalMs = 2000;

/** The final write of a session: how many tries, and the pause before each one after the first. */
export const finalWriteRetryDelaysMs = [100, 400, 1600] as const;

export interface CheckpointOptions {
  /** Writes the session as it is now (the store's durable `save` of a snapshot taken when called). */
  write: () => Promise<void>;
  /**
   * Wait between text arriving and its write; default `checkpointIntervalMs`, stretched to ten times the
   * last write's time, up to `maxIntervalMs` (default `maxCheckpointIntervalMs`).
   */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** Told of a failed write (the run goes on: the next write, or the final one, tries again). */
  onError?: (error: unknown) => void;
}

/**
 * Writes of one running session, off the path of its tokens: a stage's end asks for a write once
 * `intervalMs` has passed since the last one began (the session's creation counts as one), text for one
 * within `intervalMs`. A crash loses at most about an interval of the run either way, and a pipeline of
 * short stages is not written (and fsynced) after each of them while its next stage decodes (on a small
 * model, a run of three 60 ms stages went a few percent faster without those writes). One write at a
 * time; requests that come while one is in flight are
 * coalesced into one more write, of the state at its start, so the last write holds the latest state and
 * writes land in the order they were made. `close` stops it, and waits for a write in flight, before the
 * session's final write.
 */
export class SessionCheckpoints {
  readonly #write: () => Promise<void>;
  readonly #intervalMs: number;
  readonly #maxIntervalMs: number;
  /** How long the last write took. */
  #lastWriteMs = 0;
  /** When the last write began: at first the session's creation, written as the run starts. */
  #lastWriteAt = Date.now();
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = Number.POSITIVE_INFINITY;
  #inFlight: Promise<void> | undefined;
  /** A write was asked for while one was in flight: it follows at once. */
  #again = false;
  #closed = false;
  /** How many writes were made, and how many failed (for tests and figures). */
  written = 0;
  failed = 0;

  constructor(options: CheckpointOptions) {
    this.#write = options.write;
    this.#intervalMs = options.intervalMs ?? checkpointIntervalMs;
    this.#maxIntervalMs = Math.max(this.#intervalMs, options.maxIntervalMs ?? maxCheckpointIntervalMs);
    this.#onError = options.onError ?? (() => undefined);
  }

  /** A stage ended (or failed): its record is written at once, or an interval after the last write began. */
  stageEnded(): void {
    this.#schedule(Math.max(0, this.#lastWriteAt + this.#intervalMs - Date.now()));
  }

  /** Text arrived: it is written within the interval. */
  textArrived(): void {
    this.#schedule(Math.min(this.#maxIntervalMs, Math.max(this.#intervalMs, 10 * this.#lastWriteMs)));
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    const due = Date.now() + delayMs;
    // A write already due sooner covers this one.
    if (this.#timer && this.#timerDue <= due) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerDue = Number.POSITIVE_INFINITY;
      this.#start();
    }, delayMs);
    // A pending checkpoint never keeps a process alive; the run's final write does that.
    this.#timer.unref();
  }

  #start(): void {
    if (this.#closed) return;
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    const started = performance.now();
    this.#lastWriteAt = Date.now();
    this.#inFlight = this.#write().then(
      () => {
        this.written++;
        this.#lastWriteMs = performance.now() - started;
      },
      (error: unknown) => {
        this.failed++;
        this.#onError(error);
      },
    );
    void this.#inFlight.then(() => {
      this.#inFlight = undefined;
      if (this.#again) {
        this.#again = false;
        this.#start();
      }
    });
  }

  /** Stops writing: nothing more is written after a write in flight, which it waits for. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#again = false;
    await this.#inFlight;
  }
}

/** Why a session could not be written, in the words of `storage-failed`'s `reason`. */
function storageReason(error: unknown): "read-only" | "permission" | "disk-full" | "missing" | "error" {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case "EROFS":
      return "read-only";
    case "EACCES":
    case "EPERM":
      return "permission";
    case "ENOSPC":
    case "EDQUOT":
      return "disk-full";
    case "ENOENT":
    case "ENOTDIR":
      return "missing";
    default:
      return "error";
  }
}

const reasonWords = {
  "read-only": "it is on a read-only file system",
  permission: "this user may not write there",
  "disk-full": "the disk is full",
  missing: "the folder is gone",
  error: "",
} as const;

/**
 * The `storage-failed` error of a session that could not be written in `folder`: the path and why, in
 * plain words (an error of ours, like an id already taken, is passed on as it is).
 */
export function storageFailed(error: unknown, id: string, folder: string): ProjectLlmError {
  if (ProjectLlmError.isInstance(error)) return error;
  const reason = storageReason(error);
  const detail = errorMessage(error);
  const why = reason === "error" ? detail : `${reasonWords[reason]} (${detail})`;
  return new ProjectLlmError("storage-failed", `session ${id} could not be saved in the sessions folder ${folder}: ${why}; its output is not stored`, {
    cause: error,
    details: { params: { reason, folder, id, detail } },
  });
}

/**
 * Runs `write` until it succeeds, trying again after each of `delaysMs`; rejects with the last error. A
 * failure that a moment can mend (a disk freed, a mount back, a network file system's hiccup) does not
 * cost a run its output.
 */
export async function writeWithRetries(write: () => Promise<void>, options: { delaysMs?: readonly number[]; onRetry?: (error: unknown, delayMs: number) => void } = {}): Promise<void> {
  const delays = options.delaysMs ?? finalWriteRetryDelaysMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      // An error of ours (a session that does not match its schema) is not mended by waiting.
      if (attempt >= delays.length || ProjectLlmError.isInstance(error)) throw error;
      options.onRetry?.(error, delays[attempt]!);
      await new Promise((resolve) => setTimeout(resolve, delays[attempt]));
    }
  }
}
