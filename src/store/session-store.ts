/**
 * Sessions behind one interface, with two implementations that pass the same conformance tests:
 * `FileSessionStore` (one JSON file per run plus an index of their summaries) and `MemorySessionStore`.
 */
import type { z } from "zod";
import { ProjectLlmError } from "../common/index.js";
import { TwoEndedArray } from "./slices.js";
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
  /**
   * While the index is being built from the session files, answer at once from the sessions indexed so
   * far (the page then has `indexing`) instead of waiting for the whole index.
   */
  partial?: boolean;
}

/** What is wrong with a damaged session file, as a word a page can say in its own language. */
export const damageProblems = ["not-json", "not-a-session", "not-a-run-id", "id-mismatch", "unreadable"] as const;
export type DamageProblem = (typeof damageProblems)[number];

/** A file in the sessions folder that should hold a session and cannot be read as one. */
export interface DamagedSession {
  /** The file's name in the sessions folder. */
  file: string;
  problem: DamageProblem;
  /** The reader's own words: the JSON parser's message, the schema's key path and message, the id found. */
  detail: string;
}

export interface SessionPage {
  items: SessionSummary[];
  /** How many sessions match the filters, across all pages. */
  total: number;
  /** Session files that cannot be read, by name (present only when there are any): never listed as sessions, never hidden. */
  damaged?: DamagedSession[];
  /** Present while the index is still being built (a `partial` listing): how many sessions it holds so far. */
  indexing?: { indexed: number };
}

export interface SessionTreeNode extends Pick<SessionSummary, "id" | "parentRunId" | "rerunFromStage" | "inputEdited" | "status" | "startedAt" | "pipelineName"> {
  /** Direct branches, oldest first. */
  children: SessionTreeNode[];
}

export interface RebuildReport {
  /** Sessions in the index after the rebuild. */
  indexed: number;
  /** Session files that could not be read as sessions (left on disk, listed as damaged). */
  damaged: DamagedSession[];
}

export interface RebuildOptions {
  /** Called as session files are read: how many of how many. */
  onProgress?: (read: number, total: number) => void;
}

export interface SessionStore {
  /**
   * Makes the store ready (reads its index, say) now rather than at its first use; every other method
   * opens it by itself. Rejects as that first use would.
   */
  open(): Promise<void>;
  /**
   * Writes a new session (a running one's first record), whole or not at all but without an fsync: the
   * run's later writes (its checkpoints, its final record) are durable, and a power cut before the first of
   * them (its first stage's end, or a second after its first text) loses the record of a run it would have
   * interrupted anyway; the fsyncs, made while the first stage decodes, took that stage's cores for nothing
   * it needs (measured at 0 to 1.5% of a 3-stage run of stories260K). `invalid-id` when its id is malformed
   * or already taken.
   */
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
  rebuildIndex(options?: RebuildOptions): Promise<RebuildReport>;
  /** Reads every stored session and answers those that cannot be read (sorted by file), writing nothing. */
  check(options?: RebuildOptions): Promise<DamagedSession[]>;
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

/** What `get` says of a session whose file cannot be read: the file, what is wrong, and what to do. */
export function sessionDamaged(directory: string, damage: DamagedSession): ProjectLlmError {
  const what: Record<DamageProblem, string> = {
    "not-json": "is not JSON (a torn or hand-edited file)",
    "not-a-session": "does not match the session schema",
    "not-a-run-id": "is not named after a run id",
    "id-mismatch": "holds a session whose id is not its name",
    unreadable: "cannot be read",
  };
  return new ProjectLlmError(
    "session-damaged",
    `session file ${damage.file} in ${directory} ${what[damage.problem]}: ${damage.detail}. Restore it from a backup or move it out of the sessions folder; "project-llm sessions check" lists every damaged file`,
    { details: { params: { file: damage.file, reason: damage.problem, detail: damage.detail } } },
  );
}

export function sessionIdTaken(id: string): ProjectLlmError {
  return new ProjectLlmError("invalid-id", `a session with id ${id} already exists: make a new id with newRunId()`, { details: { id } });
}

/** The session's own fields, its stage records and events apart (see `checkSession`). */
const sessionFieldsSchema = sessionSchema.omit({ stages: true, events: true });

function notASession(id: string, issues: z.core.$ZodIssue[], where = ""): ProjectLlmError {
  const issue = issues[0];
  const at = [where, ...(issue?.path ?? []).map(String)].filter((part) => part !== "").join(".");
  return new ProjectLlmError("internal", `session ${id} does not match the session schema at ${at || "(root)"}: ${issue?.message ?? "invalid"}`, { details: { issues } });
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Checks a session before it is stored: `invalid-id` for a malformed id (checked first, before any path
 * is built from it), `internal` when the record's own fields do not match the session schema, or its
 * stages and events are not a record of objects and a list of typed objects. Returns a copy of it.
 *
 * The stage records and events themselves are the engine's (typed where they are made, and checked
 * against their schemas by the engine's tests); every read checks them all. Parsing them at each write
 * took 2.5 ms of a 200 ms run on a small model, on the path from its last token to its end.
 */
export function checkSession(session: SessionRecord): SessionRecord {
  assertRunId(session.id);
  const { stages, events, ...fields } = session;
  const parsed = sessionFieldsSchema.safeParse(fields);
  if (!parsed.success) throw notASession(session.id, parsed.error.issues);
  const shape = (where: string, expected: string, value: unknown) => notASession(session.id, [{ code: "invalid_type", expected: "object", path: [], message: `expected ${expected}`, input: value }], where);
  if (!isObject(stages)) throw shape("stages", "a record of stages", stages);
  for (const [stageId, record] of Object.entries(stages)) if (!isObject(record) || record.stageId !== stageId) throw shape(`stages.${stageId}`, `the record of stage ${stageId}`, record);
  if (events !== undefined && !Array.isArray(events)) throw shape("events", "a list of events", events);
  for (const [index, event] of (events ?? []).entries()) if (!isObject(event) || typeof event.type !== "string") throw shape(`events.${index}`, "an event with a type", event);
  return { ...parsed.data, stages: { ...stages }, ...(events === undefined ? {} : { events: events.slice() }) };
}

/**
 * The session as `interruptRunning` leaves it: ended, and no process's any more. It stopped at its last
 * checkpoint (the last time its process wrote it; the time of its last event, or now, for a session of an
 * earlier version): its events end with a `run-end` that says so, after the stages and text written until
 * then, which are kept.
 */
export function interrupted(session: SessionRecord, now = new Date()): SessionRecord {
  const { owner: _, checkpointAt, ...rest } = session;
  const events = session.events ?? [];
  const last = events.at(-1);
  const endedAt = session.endedAt ?? checkpointAt ?? (last ? new Date(last.at).toISOString() : now.toISOString());
  const durationMs = session.durationMs ?? Math.max(0, Date.parse(endedAt) - Date.parse(session.startedAt));
  const error = session.error ?? { code: "interrupted", message: `the run's process stopped before the run ended; what it wrote until ${endedAt} is kept` };
  const ended = events.some((event) => event.type === "run-end");
  return {
    ...rest,
    status: "interrupted",
    endedAt,
    durationMs,
    error,
    ...(session.events === undefined || ended
      ? {}
      : { events: [...events, { type: "run-end" as const, runId: session.id, seq: last ? last.seq + 1 : 0, at: Date.parse(endedAt), status: "interrupted" as const, durationMs, error }] }),
  };
}

/**
 * Summaries in memory, shared by both stores: filters, search, paging and family trees. The summaries are
 * kept in order as they change (a binary search and a splice per change, never a sort of them all), so a
 * listing walks one sorted array (100,000 sessions: a few milliseconds) right after a save as well. The
 * array grows at either end in constant time (`TwoEndedArray`): new runs come last, a rebuild from the
 * files adds its sessions newest first.
 */
export class SessionIndex {
  readonly #summaries = new Map<string, SessionSummary>();
  /** Lower-cased text that search looks in, per session. */
  readonly #haystacks = new Map<string, string>();
  /** Oldest first, by start time to the millisecond (ids carry it to the second only), then by id. */
  readonly #sorted = new TwoEndedArray<SessionSummary>();
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
    const old = this.#summaries.get(summary.id);
    this.#summaries.set(summary.id, summary);
    // An API call's model is what History shows in place of its pipeline: searched too.
    this.#haystacks.set(summary.id, `${summary.id} ${summary.pipelineName} ${summary.api?.model ?? ""} ${summary.inputPreview} ${summary.finalPreview ?? ""}`.toLowerCase());
    if (old && old.startedAt === summary.startedAt) {
      this.#sorted.replace(this.#position(old), summary);
    } else {
      if (old) this.#sorted.remove(this.#position(old));
      const size = this.#sorted.length;
      // Sessions mostly arrive in order (a new run, an index read back) or newest first (a rebuild): no search.
      if (size === 0 || compareSummaries(this.#sorted.at(size - 1), summary) < 0) this.#sorted.insert(size, summary);
      else if (compareSummaries(summary, this.#sorted.at(0)) < 0) this.#sorted.insert(0, summary);
      else this.#sorted.insert(this.#position(summary), summary);
    }
    this.#children = undefined;
  }

  delete(id: string): boolean {
    const old = this.#summaries.get(id);
    if (!old) return false;
    this.#summaries.delete(id);
    this.#haystacks.delete(id);
    this.#sorted.remove(this.#position(old));
    this.#children = undefined;
    return true;
  }

  clear(): void {
    this.#summaries.clear();
    this.#haystacks.clear();
    this.#sorted.clear();
    this.#children = undefined;
  }

  /** Where `summary` is in the sorted array, or would be inserted (the first place not before it). */
  #position(summary: SessionSummary): number {
    let low = 0;
    let high = this.#sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareSummaries(this.#sorted.at(middle), summary) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  list(options: ListOptions = {}): SessionPage {
    const words = (options.query ?? "").toLowerCase().split(/\s+/).filter(Boolean);
    const offset = wholeNumber(options.offset, 0);
    const limit = wholeNumber(options.limit, 50);
    const sorted = this.#sorted;
    const newestFirst = options.order !== "oldest";
    const items: SessionSummary[] = [];
    let total = 0;
    for (let step = 0; step < sorted.length; step++) {
      const summary = sorted.at(newestFirst ? sorted.length - 1 - step : step);
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
      for (const summary of this.#sorted) {
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

/** By start time, then id. ISO times in UTC compare as strings. */
function compareSummaries(a: SessionSummary, b: SessionSummary): number {
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function wholeNumber(value: number | undefined, fallback: number): number {
  if (value === undefined || Number.isNaN(value)) return fallback;
  return Math.max(0, Math.floor(value));
}
