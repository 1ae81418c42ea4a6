/**
 * Sessions behind one interface, with two implementations that pass the same conformance tests:
 * `FileSessionStore` (one JSON file per run plus a lowdb index) and `MemorySessionStore`.
 */
import { ProjectLlmError } from "../common/index.js";
import { assertRunId, summarize, type SessionRecord, type SessionStatus, type SessionSummary } from "./session.js";

export interface ListOptions {
  /** Words to find in the id, pipeline, input or final answer (case-insensitive; every word must match). */
  query?: string;
  status?: SessionStatus;
  pipeline?: string;
  parentRunId?: string;
  limit?: number;
  offset?: number;
  /** `newest` (default) or `oldest` first. */
  order?: "newest" | "oldest";
}

export interface SessionPage {
  items: SessionSummary[];
  total: number;
}

export interface SessionTreeNode extends Pick<SessionSummary, "id" | "parentRunId" | "rerunFromStage" | "status" | "startedAt" | "pipelineName"> {
  children: SessionTreeNode[];
}

export interface SessionStore {
  /** Writes a session (new or updated) durably. */
  save(session: SessionRecord): Promise<void>;
  /** The session; `session-not-found` when there is none, `invalid-id` for a malformed id. */
  get(id: string): Promise<SessionRecord>;
  list(options?: ListOptions): Promise<SessionPage>;
  delete(id: string): Promise<void>;
  /** The family tree of a session: from its root ancestor down through every branch. */
  tree(id: string): Promise<SessionTreeNode>;
  /** Marks sessions still `running` (left by a process that stopped) as `interrupted`; returns their ids. */
  interruptRunning(): Promise<string[]>;
}

/** Listing, search and family trees over an in-memory list of summaries, shared by both stores. */
export abstract class SummaryIndex implements SessionStore {
  protected abstract summaries(): Promise<Map<string, SessionSummary>>;
  abstract save(session: SessionRecord): Promise<void>;
  abstract get(id: string): Promise<SessionRecord>;
  abstract delete(id: string): Promise<void>;

  async list(options: ListOptions = {}): Promise<SessionPage> {
    const words = (options.query ?? "").toLowerCase().split(/\s+/).filter(Boolean);
    const matches: SessionSummary[] = [];
    for (const summary of (await this.summaries()).values()) {
      if (options.status && summary.status !== options.status) continue;
      if (options.pipeline && summary.pipelineName !== options.pipeline) continue;
      if (options.parentRunId && summary.parentRunId !== options.parentRunId) continue;
      if (words.length > 0) {
        const haystack = `${summary.id} ${summary.pipelineName} ${summary.inputPreview} ${summary.finalPreview ?? ""}`.toLowerCase();
        if (!words.every((word) => haystack.includes(word))) continue;
      }
      matches.push(summary);
    }
    // Ids start with their UTC start time, so sorting by id sorts by start.
    matches.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    if (options.order === "oldest") matches.reverse();
    const offset = options.offset ?? 0;
    const limit = options.limit ?? 50;
    return { items: matches.slice(offset, offset + limit), total: matches.length };
  }

  async tree(id: string): Promise<SessionTreeNode> {
    assertRunId(id);
    const all = await this.summaries();
    let current = all.get(id);
    if (!current) throw notFound(id);
    const seen = new Set<string>();
    while (current.parentRunId && all.has(current.parentRunId) && !seen.has(current.id)) {
      seen.add(current.id);
      current = all.get(current.parentRunId)!;
    }
    const children = new Map<string, SessionSummary[]>();
    for (const summary of all.values()) {
      if (!summary.parentRunId) continue;
      children.set(summary.parentRunId, [...(children.get(summary.parentRunId) ?? []), summary]);
    }
    const build = (summary: SessionSummary, depth: number): SessionTreeNode => ({
      id: summary.id,
      parentRunId: summary.parentRunId,
      rerunFromStage: summary.rerunFromStage,
      status: summary.status,
      startedAt: summary.startedAt,
      pipelineName: summary.pipelineName,
      children: depth > 1000 ? [] : (children.get(summary.id) ?? []).sort((a, b) => a.id.localeCompare(b.id)).map((child) => build(child, depth + 1)),
    });
    return build(current, 0);
  }

  async interruptRunning(): Promise<string[]> {
    const running = [...(await this.summaries()).values()].filter((summary) => summary.status === "running").map((summary) => summary.id);
    for (const id of running) {
      const session = await this.get(id);
      await this.save({ ...session, status: "interrupted", endedAt: session.endedAt ?? new Date().toISOString() });
    }
    return running;
  }
}

export function notFound(id: string): ProjectLlmError {
  return new ProjectLlmError("session-not-found", `no session ${id} (see "project-llm sessions list")`);
}

/** Sessions in memory only: for tests and throw-away use. */
export class MemorySessionStore extends SummaryIndex {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #summaries = new Map<string, SessionSummary>();

  protected async summaries() {
    return this.#summaries;
  }

  async save(session: SessionRecord): Promise<void> {
    assertRunId(session.id);
    this.#sessions.set(session.id, structuredClone(session));
    this.#summaries.set(session.id, summarize(session));
  }

  async get(id: string): Promise<SessionRecord> {
    const session = this.#sessions.get(assertRunId(id));
    if (!session) throw notFound(id);
    return structuredClone(session);
  }

  async delete(id: string): Promise<void> {
    if (!this.#sessions.delete(assertRunId(id))) throw notFound(id);
    this.#summaries.delete(id);
  }
}
