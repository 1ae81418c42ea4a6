/**
 * Sessions behind one interface, with two implementations that pass the same conformance tests:
 * `FileSessionStore` (one JSON file per run plus a lowdb index) and `MemorySessionStore`.
 */
import { ProjectLlmError } from "../common/index.js";
import { assertRunId, sessionSchema, type SessionRecord, type SessionStatus, type SessionSummary } from "./session.js";

export interface ListOptions {
  /** Words to find in the id, pipeline name, input preview or final answer preview (case-insensitive; every word must match). */
  query?: string;
  status?: SessionStatus;
  pipeline?: string;
  /** Only the sessions of this user ("local" also matches sessions that name no user). */
  user?: string;
  /** Only the direct branches of this session. */
  parentRunId?: string;
  /** Page size; 50 when absent. */
  limit?: number;
  offset?: number;
  /** `newest` (default) or `oldest` first, by start time (the id's time stamp). */
  order?: "newest" | "oldest";
}

export interface SessionPage {
  items: SessionSummary[];
  /** How many sessions match the filters, across all pages. */
  total: number;
}

export interface SessionTreeNode extends Pick<SessionSummary, "id" | "parentRunId" | "rerunFromStage" | "inputEdited" | "status" | "startedAt" | "pipelineName"> {
  /** Direct branches, oldest first. */
  children: SessionTreeNode[];
}

export interface RebuildReport {
  /** Sessions in the index after the rebuild. */
  indexed: number;
  /** Session files that could not be read as sessions (left on disk, not listed). */
  damaged: string[];
}

export interface SessionStore {
  /** Writes a new session durably; `invalid-id` when its id is malformed or already taken. */
  create(session: SessionRecord): Promise<void>;
  /** Writes a session (new or updated) durably, replacing any session with its id. */
  save(session: SessionRecord): Promise<void>;
  /** Whether a session with this id is stored (without reading it); `invalid-id` for a malformed id. */
  has(id: string): Promise<boolean>;
  /** The session; `session-not-found` when there is none, `invalid-id` for a malformed id. */
  get(id: string): Promise<SessionRecord>;
  /** A page of summaries, newest first unless told otherwise, with the count of all that match. */
  list(options?: ListOptions): Promise<SessionPage>;
  /** Removes a session (its branches stay, and become roots of their own trees). */
  delete(id: string): Promise<void>;
  /** The family tree of a session: from its oldest stored ancestor down through every branch. */
  tree(id: string): Promise<SessionTreeNode>;
  /** Rebuilds the listing index from the stored sessions themselves. */
  rebuildIndex(): Promise<RebuildReport>;
  /**
   * Marks `interrupted` every session still `running` whose run cannot end any more, and returns their ids
   * (sorted): those of this process (call it where this process runs nothing, e.g. when it starts), of a
   * process of this host that is gone, of another host (there is no asking it) and those with no owner
   * recorded (sessions of earlier versions). A session that another live process of this host runs (a CLI
   * run while the studio starts) is left as it is: that process ends it (see `runsElsewhere`).
   */
  interruptRunning(): Promise<string[]>;
  /** Writes whatever the store keeps for later (a file store's index), leaving nothing pending; call it before the process exits. */
  flush(): Promise<void>;
}

export function sessionNotFound(id: string): ProjectLlmError {
  return new ProjectLlmError("session-not-found", `no session ${id} (see "project-llm sessions list")`, { details: { id } });
}

export function sessionIdTaken(id: string): ProjectLlmError {
  return new ProjectLlmError("invalid-id", `a session with id ${id} already exists: make a new id with newRunId()`, { details: { id } });
}

/**
 * Checks a session before it is stored: `invalid-id` for a malformed id (checked first, before any path
 * is built from it), `internal` when the record does not match the session schema. Returns the parsed copy.
 */
export function checkSession(session: SessionRecord): SessionRecord {
  assertRunId(session.id);
  const parsed = sessionSchema.safeParse(session);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProjectLlmError("internal", `session ${session.id} does not match the session schema at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`, {
      details: { issues: parsed.error.issues },
    });
  }
  return parsed.data;
}

/** The session as `interruptRunning` leaves it: ended, and no process's any more. */
export function interrupted(session: SessionRecord, now = new Date()): SessionRecord {
  const { owner: _, ...rest } = session;
  const endedAt = session.endedAt ?? now.toISOString();
  return { ...rest, status: "interrupted", endedAt, durationMs: session.durationMs ?? Math.max(0, Date.parse(endedAt) - Date.parse(session.startedAt)) };
}

/**
 * Summaries in memory, shared by both stores: filters, search, paging and family trees. The order and the
 * children of each session are computed once and kept until the next change, so a listing walks one
 * sorted array (10,000 sessions: a millisecond or two).
 */
export class SessionIndex {
  readonly #summaries = new Map<string, SessionSummary>();
  /** Lower-cased text that search looks in, per session. */
  readonly #haystacks = new Map<string, string>();
  #sorted: SessionSummary[] | undefined;
  #children: Map<string, SessionSummary[]> | undefined;

  constructor(summaries: Iterable<SessionSummary> = []) {
    for (const summary of summaries) this.set(summary);
  }

  get size(): number {
    return this.#summaries.size;
  }

  has(id: string): boolean {
    return this.#summaries.has(id);
  }

  get(id: string): SessionSummary | undefined {
    return this.#summaries.get(id);
  }

  values(): SessionSummary[] {
    return [...this.#summaries.values()];
  }

  set(summary: SessionSummary): void {
    this.#summaries.set(summary.id, summary);
    this.#haystacks.set(summary.id, `${summary.id} ${summary.pipelineName} ${summary.inputPreview} ${summary.finalPreview ?? ""}`.toLowerCase());
    this.#changed();
  }

  delete(id: string): boolean {
    this.#haystacks.delete(id);
    const deleted = this.#summaries.delete(id);
    if (deleted) this.#changed();
    return deleted;
  }

  clear(): void {
    this.#summaries.clear();
    this.#haystacks.clear();
    this.#changed();
  }

  #changed(): void {
    this.#sorted = undefined;
    this.#children = undefined;
  }

  /** Oldest first, by start time to the millisecond (ids carry it to the second only), then by id. */
  #inOrder(): SessionSummary[] {
    const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    // ISO times in UTC compare as strings.
    this.#sorted ??= [...this.#summaries.values()].sort((a, b) => compare(a.startedAt, b.startedAt) || compare(a.id, b.id));
    return this.#sorted;
  }

  list(options: ListOptions = {}): SessionPage {
    const words = (options.query ?? "").toLowerCase().split(/\s+/).filter(Boolean);
    const offset = wholeNumber(options.offset, 0);
    const limit = wholeNumber(options.limit, 50);
    const sorted = this.#inOrder();
    const newestFirst = options.order !== "oldest";
    const items: SessionSummary[] = [];
    let total = 0;
    for (let step = 0; step < sorted.length; step++) {
      const summary = sorted[newestFirst ? sorted.length - 1 - step : step]!;
      if (options.status !== undefined && summary.status !== options.status) continue;
      if (options.pipeline !== undefined && summary.pipelineName !== options.pipeline) continue;
      if (options.user !== undefined && (summary.user ?? "local") !== options.user) continue;
      if (options.parentRunId !== undefined && summary.parentRunId !== options.parentRunId) continue;
      if (words.length > 0) {
        const haystack = this.#haystacks.get(summary.id)!;
        if (!words.every((word) => haystack.includes(word))) continue;
      }
      if (total >= offset && items.length < limit) items.push({ ...summary });
      total++;
    }
    return { items, total };
  }

  tree(id: string): SessionTreeNode {
    assertRunId(id);
    let root = this.#summaries.get(id);
    if (!root) throw sessionNotFound(id);
    // A parent that was deleted ends the climb; `seen` stops a (hand-made) cycle.
    const seen = new Set<string>([root.id]);
    for (let parent = this.#parentOf(root); parent && !seen.has(parent.id); parent = this.#parentOf(parent)) {
      seen.add(parent.id);
      root = parent;
    }
    if (!this.#children) {
      this.#children = new Map();
      for (const summary of this.#inOrder()) {
        if (summary.parentRunId === undefined) continue;
        const siblings = this.#children.get(summary.parentRunId);
        if (siblings) siblings.push(summary);
        else this.#children.set(summary.parentRunId, [summary]);
      }
    }
    const children = this.#children;
    const placed = new Set<string>();
    const build = (summary: SessionSummary): SessionTreeNode => {
      placed.add(summary.id);
      const node: SessionTreeNode = { id: summary.id, status: summary.status, startedAt: summary.startedAt, pipelineName: summary.pipelineName, children: [] };
      if (summary.parentRunId !== undefined) node.parentRunId = summary.parentRunId;
      if (summary.rerunFromStage !== undefined) node.rerunFromStage = summary.rerunFromStage;
      if (summary.inputEdited) node.inputEdited = true;
      for (const child of children.get(summary.id) ?? []) if (!placed.has(child.id)) node.children.push(build(child));
      return node;
    };
    return build(root);
  }

  #parentOf(summary: SessionSummary): SessionSummary | undefined {
    return summary.parentRunId === undefined ? undefined : this.#summaries.get(summary.parentRunId);
  }
}

function wholeNumber(value: number | undefined, fallback: number): number {
  if (value === undefined || Number.isNaN(value)) return fallback;
  return Math.max(0, Math.floor(value));
}
