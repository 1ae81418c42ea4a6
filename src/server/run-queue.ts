/**
 * Fair admission of runs: a bounded queue with three caps. At most `inFlight` runs go at once; later ones
 * wait, first come first served, up to `waiting` of them; one user may have at most `perUser` runs going
 * and waiting together. A start past a cap is refused at once, with a hint of when to try again, rather
 * than held: a client that is refused can say so, one that is held cannot tell a queue from a hang.
 *
 * Admission is synchronous: whatever arrives at once (a tRPC batch, hundreds of requests) is counted one
 * by one, so no burst gets past a cap. Plain code, without the web server, so that it is tested alone.
 */
import { ProjectLlmError } from "../common/index.js";

export interface QueueLimits {
  /** Runs going at once. */
  inFlight: number;
  /** Runs that may wait for a place. */
  waiting: number;
  /** Runs one user may have going and waiting together. */
  perUser: number;
}

export const defaultQueueLimits: QueueLimits = { inFlight: 1, waiting: 32, perUser: 4 };

export interface AdmitHooks {
  /** A waiting run's place changed: `ahead` runs wait before it (0: it is next). */
  onAhead?: (ahead: number) => void;
  /** The run has its place and goes now (called once, never for a run that starts at once). */
  onStart?: () => void;
}

/** A run let in: going (`ahead` undefined) or waiting (`ahead` runs before it). */
export interface Ticket {
  readonly user: string;
  /** Runs waiting before this one; undefined once it goes. */
  readonly ahead: number | undefined;
  /** Gives its place back: a run that ended, or a waiting one cancelled. Idempotent. */
  leave(): void;
}

/** Run durations kept for the `Retry-After` hint. */
const durationsKept = 20;

export class RunQueue {
  #limits: QueueLimits;
  readonly #running = new Set<QueueTicket>();
  readonly #waiting: QueueTicket[] = [];
  readonly #perUser = new Map<string, number>();
  readonly #durations: number[] = [];

  constructor(limits: Partial<QueueLimits> = {}) {
    this.#limits = { ...defaultQueueLimits, ...limits };
  }

  get limits(): QueueLimits {
    return { ...this.#limits };
  }

  /** New caps (models.yaml changed): more places start waiting runs; fewer let the runs going finish. */
  setLimits(limits: QueueLimits): void {
    this.#limits = { ...limits };
    this.#pump();
  }

  /** Runs going, runs waiting, and the runs of each user. */
  get counts(): { running: number; waiting: number; users: Record<string, number> } {
    return { running: this.#running.size, waiting: this.#waiting.length, users: Object.fromEntries(this.#perUser) };
  }

  /** Whether a run admitted now would wait (not whether it would be let in). */
  get full(): boolean {
    return this.#waiting.length > 0 || this.#running.size >= this.#limits.inFlight;
  }

  /**
   * Lets a run in, going or waiting. Throws `busy` (the user has `perUser` runs) or `unavailable` (the
   * queue is full), each with `details.retryAfterSeconds`.
   */
  admit(user: string, hooks: AdmitHooks = {}): Ticket {
    const mine = this.#perUser.get(user) ?? 0;
    const { inFlight, waiting, perUser } = this.#limits;
    if (mine >= perUser) {
      throw new ProjectLlmError("busy", `${user} has ${mine} runs going or waiting, the most one user may have; try again when one ends (in about ${this.retryAfterSeconds()} s)`, {
        details: { retryAfterSeconds: this.retryAfterSeconds(), params: { reason: "runs", limit: perUser, retryAfter: this.retryAfterSeconds() } },
      });
    }
    const goesNow = this.#running.size < inFlight && this.#waiting.length === 0;
    if (!goesNow && this.#waiting.length >= waiting) {
      const retryAfter = this.retryAfterSeconds();
      throw new ProjectLlmError("unavailable", `the studio has ${this.#waiting.length} runs waiting, as many as it queues; try again in about ${retryAfter} s`, {
        details: { retryAfterSeconds: retryAfter, params: { reason: "queue-full", waiting: this.#waiting.length, retryAfter } },
      });
    }
    const ticket = new QueueTicket(this, user, hooks);
    this.#perUser.set(user, mine + 1);
    if (goesNow) this.#running.add(ticket);
    else {
      this.#waiting.push(ticket);
      ticket.ahead = this.#waiting.length - 1;
    }
    return ticket;
  }

  /**
   * Seconds a refused client should wait before it tries again: the time for the runs ahead to clear at
   * the pace recent runs went (30 s per run before any has ended), from 1 s to 10 minutes.
   */
  retryAfterSeconds(): number {
    const average = this.#durations.length === 0 ? 30_000 : this.#durations.reduce((sum, ms) => sum + ms, 0) / this.#durations.length;
    const rounds = (this.#waiting.length + 1) / Math.max(1, this.#limits.inFlight);
    return Math.min(600, Math.max(1, Math.ceil((average * rounds) / 1000)));
  }

  /** @internal A ticket gives its place back. */
  release(ticket: QueueTicket): void {
    if (this.#running.delete(ticket)) {
      this.#durations.push(Date.now() - ticket.startedAt);
      if (this.#durations.length > durationsKept) this.#durations.shift();
    } else {
      const index = this.#waiting.indexOf(ticket);
      if (index < 0) return;
      this.#waiting.splice(index, 1);
      this.#tellPlaces(index);
    }
    const left = (this.#perUser.get(ticket.user) ?? 1) - 1;
    if (left > 0) this.#perUser.set(ticket.user, left);
    else this.#perUser.delete(ticket.user);
    this.#pump();
  }

  /** Starts waiting runs while there are places. */
  #pump(): void {
    let started = 0;
    while (this.#waiting.length > 0 && this.#running.size < this.#limits.inFlight) {
      const next = this.#waiting.shift()!;
      this.#running.add(next);
      next.start();
      started++;
    }
    if (started > 0) this.#tellPlaces(0);
  }

  /** Tells the waiting runs from `from` on their new places. */
  #tellPlaces(from: number): void {
    for (let index = from; index < this.#waiting.length; index++) this.#waiting[index]!.moveTo(index);
  }
}

class QueueTicket implements Ticket {
  ahead: number | undefined;
  startedAt = Date.now();
  #left = false;

  constructor(
    private readonly queue: RunQueue,
    readonly user: string,
    private readonly hooks: AdmitHooks,
  ) {}

  start(): void {
    this.ahead = undefined;
    this.startedAt = Date.now();
    this.hooks.onStart?.();
  }

  moveTo(ahead: number): void {
    if (this.ahead === ahead) return;
    this.ahead = ahead;
    this.hooks.onAhead?.(ahead);
  }

  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.queue.release(this);
  }
}
