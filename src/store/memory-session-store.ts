/** Sessions in memory only: for tests and throw-away use. Stored and returned sessions are copies. */
import { assertRunId, summarize, type SessionRecord } from "./session.js";
import { runsElsewhere } from "./session-owner.js";
import {
  checkSession,
  interrupted,
  SessionIndex,
  sessionIdTaken,
  sessionNotFound,
  type ListOptions,
  type RebuildReport,
  type SessionPage,
  type SessionStore,
  type SessionTreeNode,
} from "./session-store.js";

export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #index = new SessionIndex();

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

  async rebuildIndex(): Promise<RebuildReport> {
    this.#index.clear();
    for (const session of this.#sessions.values()) this.#index.set(summarize(session));
    return { indexed: this.#index.size, damaged: [] };
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
