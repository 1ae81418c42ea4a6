/** Sessions in memory only: for tests and throw-away use. Stored and returned sessions are copies. */
import { assertRunId, summarize, type SessionRecord } from "./session.js";
import { runsElsewhere } from "./session-owner.js";
import {
  checkSession,
  interrupted,
  SessionIndex,
  sessionIdTaken,
  sessionNotFound,
  type DamagedSession,
  type ListOptions,
  type RebuildOptions,
  type RebuildReport,
  type SessionPage,
  type SessionStore,
  type SessionTreeNode,
} from "./session-store.js";

export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #index = new SessionIndex();

  async open(): Promise<void> {
    // Nothing to read: the sessions are in this process's memory.
  }

  async create(session: SessionRecord): Promise<void> {
    assertRunId(session.id);
    if (this.#sessions.has(session.id)) throw sessionIdTaken(session.id);
    this.#put(checkSession(session));
  }

  async save(session: SessionRecord): Promise<void> {
    this.#put(checkSession(session));
  }

  #put(session: SessionRecord): void {
    this.#sessions.set(session.id, structuredClone(session));
    this.#index.set(summarize(session));
  }

  async has(id: string): Promise<boolean> {
    return this.#sessions.has(assertRunId(id));
  }

  async get(id: string): Promise<SessionRecord> {
    const session = this.#sessions.get(assertRunId(id));
    if (!session) throw sessionNotFound(id);
    return structuredClone(session);
  }

  async list(options?: ListOptions): Promise<SessionPage> {
    return this.#index.list(options);
  }

  async delete(id: string): Promise<void> {
    if (!this.#sessions.delete(assertRunId(id))) throw sessionNotFound(id);
    this.#index.delete(id);
  }

  async tree(id: string): Promise<SessionTreeNode> {
    return this.#index.tree(id);
  }

  async rebuildIndex(options: RebuildOptions = {}): Promise<RebuildReport> {
    this.#index.clear();
    let read = 0;
    for (const session of this.#sessions.values()) {
      this.#index.set(summarize(session));
      options.onProgress?.(++read, this.#sessions.size);
    }
    return { indexed: this.#index.size, damaged: [] };
  }

  async check(): Promise<DamagedSession[]> {
    // Sessions in memory are checked as they are stored: none can be damaged.
    return [];
  }

  async interruptRunning(): Promise<string[]> {
    const ids: string[] = [];
    for (const session of this.#sessions.values()) {
      if (session.status !== "running" || runsElsewhere(session.owner)) continue;
      this.#put(interrupted(session));
      ids.push(session.id);
    }
    return ids.sort();
  }

  async flush(): Promise<void> {
    // Nothing is kept for later in memory.
  }
}
