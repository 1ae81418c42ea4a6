/**
 * Ends what a user holds open when the user is revoked (or given a new token): their event streams. A
 * request checks its credentials when it comes, but a stream goes on for as long as its run does, or
 * longer when it is replayed. Revoked from the Users page, the change is seen at once (this process
 * wrote it); by `project-llm users revoke` in another process, within `pollMs`: the file's identity is
 * looked at that often (a stat; read again only when it changed), and only while a stream is watched.
 * Polling, not `fs.watch`: a watch misses changes on network and container-mounted folders, and the
 * file is replaced by a rename, which ends a watch on the old file.
 */
import { ProjectLlmError } from "../../common/index.js";
import type { Identity } from "./roles.js";
import type { UsersStore } from "./users.js";

interface Watched {
  user: string;
  /** The user's token id when the watch began: a new token ends the old credentials' streams too. */
  tokenId: string | undefined;
  controller: AbortController;
}

export function revokedError(user: string): ProjectLlmError {
  return new ProjectLlmError("unauthenticated", `the access of user "${user}" was revoked; ask an admin for a new token`);
}

export class RevocationWatch {
  readonly #watched = new Set<Watched>();
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #again = false;

  constructor(
    readonly users: UsersStore,
    readonly pollMs = 1000,
  ) {
    users.onChange(() => void this.check());
  }

  /** How many streams are watched now. */
  get size(): number {
    return this.#watched.size;
  }

  /**
   * A signal that aborts, with a `revokedError` as its reason, once `identity`'s user is revoked or given
   * a new token (at once when that happened already). Call `dispose` when the stream ends.
   */
  async watch(identity: Identity): Promise<{ signal: AbortSignal; dispose: () => void }> {
    const controller = new AbortController();
    const tokenId = (await this.users.tokenIds()).get(identity.user);
    if (tokenId === undefined) {
      controller.abort(revokedError(identity.user));
      return { signal: controller.signal, dispose: () => undefined };
    }
    const watched: Watched = { user: identity.user, tokenId, controller };
    this.#watched.add(watched);
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.check(), this.pollMs);
      // A watch never keeps a process alive on its own.
      this.#timer.unref();
    }
    return { signal: controller.signal, dispose: () => this.#forget(watched) };
  }

  /** Ends the streams of users revoked since they were watched; one check at a time (a change during one is checked after it). */
  check(): Promise<void> {
    if (this.#checking) {
      this.#again = true;
      return this.#checking;
    }
    const checking = (async () => {
      do {
        this.#again = false;
        if (this.#watched.size === 0) break;
        let tokenIds: Map<string, string>;
        try {
          tokenIds = await this.users.tokenIds();
        } catch (error) {
          // A users.json that cannot be read refuses every new request; the streams end at the next good read.
          console.error(`access control: cannot read the users to check open streams: ${(error as Error).message}`);
          break;
        }
        for (const watched of [...this.#watched]) {
          if (tokenIds.get(watched.user) === watched.tokenId) continue;
          this.#forget(watched);
          watched.controller.abort(revokedError(watched.user));
        }
      } while (this.#again);
    })().finally(() => {
      this.#checking = undefined;
    });
    this.#checking = checking;
    return checking;
  }

  #forget(watched: Watched): void {
    this.#watched.delete(watched);
    if (this.#watched.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
