/**
 * Event streams held open at once, per key (a client address, a user): each open stream holds a
 * connection and a follower of its run, so one client opening hundreds of them would crowd out the rest.
 */
import { ProjectLlmError } from "../common/index.js";

export class StreamLimiter {
  readonly #open = new Map<string, number>();

  /**
   * Counts a stream for each key, or throws `busy` when one of them has `limit` open already (nothing is
   * counted then). Returns the function that closes it (idempotent).
   */
  open(keys: readonly string[], limit: number): () => void {
    for (const key of keys) {
      if ((this.#open.get(key) ?? 0) >= limit) {
        throw new ProjectLlmError("busy", `${key} has ${limit} run event streams open, the most one client may have; close one (a tab that follows a run) and try again`, {
          details: { retryAfterSeconds: 5, params: { reason: "streams", limit, retryAfter: 5 } },
        });
      }
    }
    for (const key of keys) this.#open.set(key, (this.#open.get(key) ?? 0) + 1);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      for (const key of keys) {
        const left = (this.#open.get(key) ?? 1) - 1;
        if (left > 0) this.#open.set(key, left);
        else this.#open.delete(key);
      }
    };
  }

  /** Streams open under `key`. */
  count(key: string): number {
    return this.#open.get(key) ?? 0;
  }
}
