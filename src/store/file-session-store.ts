/**
 * Sessions as one JSON file per run (`<dir>/<id>.json`) and a lowdb index (`<dir>/index.json`) of their
 * summaries that serves listing, search and filters without opening the session files.
 *
 * - The session files are the truth; the index is derived from them. It is read once and kept in memory;
 *   when it is missing or damaged (not JSON, or not the index schema) it is rebuilt from the files, and
 *   when it is out of step with them (a crash between writing a session and writing the index) the
 *   difference is read back: files it lacks are added, entries without a file dropped, and entries still
 *   `running` refreshed from their files.
 * - Every write is durable (`writeFileDurably`): a crash leaves the old file or the new one, never a torn
 *   one. A temp file left by a crash is ignored, and removed when the store opens.
 * - Reading writes nothing where there is nothing to keep: a folder that is not there lists no sessions
 *   and is created by the first write, and an index of no sessions is not written.
 * - Another process may write the same folder (the CLI while the studio runs, or the other way round):
 *   before a listing, a family tree or a write of the index, a store that finds the folder's modification
 *   time changed since it last looked reconciles the index with the files the same way (a stat per call;
 *   a listing of the folder, and a read of the files the index lacks or lists as `running`, only when it
 *   changed). So each lists the other's sessions without being reopened, and neither writes the other's
 *   out of index.json. Writes are serialized within the process only; no two processes write one session
 *   file: a run's own process writes its session, and `interruptRunning` rewrites only a session whose
 *   process can no longer end it (see `runsElsewhere`). So a session that has ended is not read again.
 */
import { access, mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Low, type Adapter } from "lowdb";
import { z } from "zod";
import { ProjectLlmError, syncDirectory, tempSuffix, writeFileDurably } from "../common/index.js";
import { assertRunId, isValidRunId, sessionSchema, sessionSummarySchema, summarize, type SessionRecord } from "./session.js";
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
import { runsElsewhere } from "./session-owner.js";

const indexFileName = "index.json";
/** Session files read at once while rebuilding the index. */
const readConcurrency = 32;

/** How long index.json may lag the session files while the process runs. */
const indexWriteDelayMs = 1000;

/**
 * A folder's modification time this close to the clock is not trusted to show the next change: a change
 * made later within the file system's tick (a few ms; more on a network file system) leaves it the same.
 * The folder is listed again at the next look until its time is older than this.
 */
const recentChangeMs = 1000;

const indexFileSchema = z.object({ version: z.literal(1), sessions: z.array(sessionSummarySchema) });
type IndexFile = z.infer<typeof indexFileSchema>;

/** A lowdb adapter for a JSON file written with `writeFileDurably` (lowdb's own writes do not fsync). */
class DurableJsonFile<T> implements Adapter<T> {
  constructor(readonly file: string) {}

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    return JSON.parse(text) as T;
  }

  write(data: T): Promise<void> {
    return writeFileDurably(this.file, JSON.stringify(data));
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

export class FileSessionStore implements SessionStore {
  readonly directory: string;
  readonly #db: Low<IndexFile | null>;
  #index: SessionIndex | undefined;
  #opening: Promise<SessionIndex> | undefined;
  /** The tail of the write queue: each write starts when the one before it has ended. */
  #queue: Promise<unknown> = Promise.resolve();
  /** A write of the index is due (see `#indexChanged`). */
  #indexTimer: NodeJS.Timeout | undefined;
  #indexDirty = false;
  /** The folder's modification time when the index was last reconciled with it; undefined: not known to be current. */
  #reconciledAt: number | undefined;

  /** Nothing touches the disk until the first call (or `open()`); the folder is created by the first write. */
  constructor(directory: string) {
    this.directory = path.resolve(/*turbopackIgnore: true*/ directory);
    this.#db = new Low<IndexFile | null>(new DurableJsonFile<IndexFile | null>(path.join(this.directory, indexFileName)), null);
  }

  /**
   * Opens the folder: removes temp files left by a crash, reads the index and rebuilds or reconciles it
   * (see the module comment). A folder that is not there is opened empty, and not created. Every other method opens the store by itself;
   * call this to do it at a moment of your choosing.
   */
  async open(): Promise<void> {
    await this.#ready();
  }

  #file(id: string): string {
    return path.join(this.directory, `${assertRunId(id)}.json`);
  }

  #ready(): Promise<SessionIndex> {
    if (this.#index) return Promise.resolve(this.#index);
    this.#opening ??= this.#load().then(
      (index) => (this.#index = index),
      (error: unknown) => {
        this.#opening = undefined;
        throw error;
      },
    );
    return this.#opening;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #load(): Promise<SessionIndex> {
    const names = await this.#names();
    if (names === undefined) return new SessionIndex();
    const folder = await stat(this.directory);
    // A temp file is what a crash mid-write leaves: its target still holds the last whole version.
    for (const name of names) if (name.endsWith(tempSuffix)) await rm(path.join(this.directory, name), { force: true });
    this.#reconciledAt = trustedTime(folder.mtimeMs);

    let stored: IndexFile | undefined;
    let indexFound = true;
    try {
      await this.#db.read();
      indexFound = this.#db.data !== null;
      const parsed = indexFileSchema.safeParse(this.#db.data);
      if (parsed.success) stored = parsed.data;
    } catch {
      // Not JSON: rebuilt below.
    }
    if (!stored) {
      const onDisk = this.#sessionIds(names);
      const { index } = await this.#rebuild(onDisk, { write: indexFound || onDisk.size > 0 });
      return index;
    }

    const index = new SessionIndex(stored.sessions);
    if (await this.#reconcile(index, names)) await this.#writeIndex(index);
    return index;
  }

  /**
   * Brings the index in step with the session files among `names` (the folder's entries): entries without
   * a file dropped, files it lacks added, entries it lists as `running` read again. Answers whether the
   * index changed. A name the index holds is taken as it is, so that the folder of 100,000 sessions is
   * walked once, without checking each name or building a set of them unless a file was removed.
   */
  async #reconcile(index: SessionIndex, names: string[]): Promise<boolean> {
    let changed = false;
    let indexed = 0;
    const toRead: string[] = [];
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const id = name.slice(0, -5);
      const summary = index.get(id);
      if (summary) indexed++;
      if (summary ? summary.status === "running" : isValidRunId(id)) toRead.push(id);
    }
    if (indexed < index.size) {
      const onDisk = new Set(names);
      for (const summary of index.values()) {
        if (!onDisk.has(`${summary.id}.json`)) changed = index.delete(summary.id) || changed;
      }
    }
    await forEachLimited(toRead, readConcurrency, async (id) => {
      const session = await this.#readQuietly(id);
      if (!session) return;
      const summary = summarize(session);
      if (JSON.stringify(summary) !== JSON.stringify(index.get(id))) {
        index.set(summary);
        changed = true;
      }
    });
    return changed;
  }

  /**
   * Reconciles the index with the folder when the folder changed since the last time (another process
   * added or removed a session), inside the write queue. Answers whether the index changed.
   *
   * Tied to the one index file of the whole folder: an index split by period would look at the folders of
   * the periods that changed.
   */
  async #reconcileIfChanged(index: SessionIndex): Promise<boolean> {
    let folder;
    try {
      folder = await stat(this.directory);
    } catch (error) {
      // The folder is gone: there is nothing to reconcile with, and the next write says what is wrong.
      if (isMissing(error)) return false;
      throw error;
    }
    if (folder.mtimeMs === this.#reconciledAt) return false;
    const names = await readdir(this.directory);
    this.#reconciledAt = trustedTime(folder.mtimeMs);
    return this.#reconcile(index, names);
  }

  /** The index, first reconciled with what other processes wrote since the last look (a stat when nothing changed). */
  async #current(): Promise<SessionIndex> {
    const index = await this.#ready();
    const folder = await stat(this.directory).catch(() => undefined);
    if (folder === undefined || folder.mtimeMs !== this.#reconciledAt) {
      await this.#serial(async () => {
        if (await this.#reconcileIfChanged(index)) this.#indexChanged();
      });
    }
    return index;
  }

  #sessionIds(names: string[]): Set<string> {
    const ids = new Set<string>();
    for (const name of names) if (name.endsWith(".json") && isValidRunId(name.slice(0, -5))) ids.add(name.slice(0, -5));
    return ids;
  }

  /** The names in the folder; undefined when the folder is not there. */
  async #names(): Promise<string[] | undefined> {
    try {
      return await readdir(this.directory);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async #rebuild(ids: Iterable<string>, options: { write: boolean }): Promise<{ index: SessionIndex; damaged: string[] }> {
    const index = new SessionIndex();
    const damaged: string[] = [];
    await forEachLimited([...ids], readConcurrency, async (id) => {
      const session = await this.#readQuietly(id);
      if (session) index.set(summarize(session));
      else damaged.push(`${id}.json`);
    });
    if (options.write) await this.#writeIndex(index);
    return { index, damaged: damaged.sort() };
  }

  async #writeIndex(index: SessionIndex): Promise<void> {
    this.#db.data = { version: 1, sessions: index.list({ order: "oldest", limit: Number.POSITIVE_INFINITY }).items };
    await this.#db.write();
  }

  async #read(id: string): Promise<SessionRecord> {
    const file = this.#file(id);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if (isMissing(error)) throw sessionNotFound(id);
      throw error;
    }
    let parsed;
    try {
      parsed = sessionSchema.safeParse(JSON.parse(text));
    } catch (error) {
      throw new ProjectLlmError("internal", `session file ${file} is damaged (not JSON): move it away, then run rebuildIndex`, { cause: error });
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ProjectLlmError("internal", `session file ${file} is damaged at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
    }
    return parsed.data;
  }

  /** The session in a file, or undefined when the file is gone or damaged. */
  async #readQuietly(id: string): Promise<SessionRecord | undefined> {
    try {
      return await this.#read(id);
    } catch {
      return undefined;
    }
  }

  async create(session: SessionRecord): Promise<void> {
    const checked = checkSession(session);
    const file = this.#file(checked.id);
    const index = await this.#ready();
    await this.#serial(async () => {
      const exists = index.has(checked.id) || (await access(file).then(() => true, () => false));
      if (exists) throw sessionIdTaken(checked.id);
      await this.#put(index, file, checked);
    });
  }

  async save(session: SessionRecord): Promise<void> {
    const checked = checkSession(session);
    const file = this.#file(checked.id);
    const index = await this.#ready();
    await this.#serial(() => this.#put(index, file, checked));
  }

  async #put(index: SessionIndex, file: string, session: SessionRecord): Promise<void> {
    const created = await mkdir(this.directory, { recursive: true });
    if (created !== undefined) await syncDirectory(path.dirname(this.directory));
    await writeFileDurably(file, JSON.stringify(session, null, 1));
    index.set(summarize(session));
    this.#indexChanged();
  }

  /**
   * The session files are the truth and are written durably at once; index.json follows within
   * `indexWriteDelayMs`, in one write for any number of changes. Rewriting it (5 MB for 10,000 sessions,
   * ~30 ms) on every save would hold up each run's start and end. When the process stops before the
   * index caught up, opening the store reconciles it: a session file the index lacks, or one the index
   * lists as `running`, is read again, and that covers every change a session goes through (created
   * `running`, saved once more when it ends, or removed).
   */
  #indexChanged(): void {
    this.#indexDirty = true;
    if (this.#indexTimer) return;
    this.#indexTimer = setTimeout(() => {
      this.#indexTimer = undefined;
      void this.flush().catch((error: unknown) => console.error(`sessions: cannot write ${indexFileName}: ${(error as Error)?.message ?? String(error)}`));
    }, indexWriteDelayMs);
    // A pending index write never keeps a process alive: `flush()` (or the next open) takes care of it.
    this.#indexTimer.unref();
  }

  /**
   * Writes index.json now if a change is pending, and leaves no write waiting (call it before the process
   * exits, or before its folder is removed). Dropping the pending write instead would lose nothing for
   * good (the next open reconciles the index) but cost that open a read of the files.
   */
  async flush(): Promise<void> {
    if (this.#indexTimer) clearTimeout(this.#indexTimer);
    this.#indexTimer = undefined;
    const index = this.#index;
    if (!index) return;
    await this.#serial(async () => {
      if (!this.#indexDirty) return;
      this.#indexDirty = false;
      // What another process wrote since the last look goes in too: the index file is the whole folder's.
      await this.#reconcileIfChanged(index);
      await this.#writeIndex(index);
    });
  }

  async has(id: string): Promise<boolean> {
    const file = this.#file(id);
    const index = await this.#ready();
    return index.has(id) || (await access(file).then(() => true, () => false));
  }

  get(id: string): Promise<SessionRecord> {
    // Reads need no queue: a rename is atomic, so a reader sees the old file or the new one.
    return this.#read(id);
  }

  async list(options?: ListOptions): Promise<SessionPage> {
    return (await this.#current()).list(options);
  }

  async delete(id: string): Promise<void> {
    const file = this.#file(id);
    const index = await this.#ready();
    await this.#serial(async () => {
      try {
        await rm(file);
      } catch (error) {
        if (!isMissing(error)) throw error;
        if (!index.has(id)) throw sessionNotFound(id);
      }
      await syncDirectory(this.directory);
      index.delete(id);
      this.#indexChanged();
    });
  }

  async tree(id: string): Promise<SessionTreeNode> {
    assertRunId(id);
    return (await this.#current()).tree(id);
  }

  async rebuildIndex(): Promise<RebuildReport> {
    const index = await this.#ready();
    return this.#serial(async () => {
      const names = await this.#names();
      const { index: rebuilt, damaged } = await this.#rebuild(this.#sessionIds(names ?? []), { write: names !== undefined });
      index.clear();
      for (const summary of rebuilt.values()) index.set(summary);
      return { indexed: index.size, damaged };
    });
  }

  async interruptRunning(): Promise<string[]> {
    const index = await this.#ready();
    return this.#serial(async () => {
      const ids: string[] = [];
      let changed = await this.#reconcileIfChanged(index);
      for (const summary of index.values()) {
        if (summary.status !== "running") continue;
        const session = await this.#readQuietly(summary.id);
        // Another process's run goes on: that process writes its end, and the next reconciliation reads it.
        if (!session || (session.status === "running" && runsElsewhere(session.owner))) continue;
        changed = true;
        if (session.status === "running") {
          const updated = interrupted(session);
          await writeFileDurably(this.#file(session.id), JSON.stringify(updated, null, 1));
          index.set(summarize(updated));
          ids.push(session.id);
        } else {
          index.set(summarize(session));
        }
      }
      if (changed) this.#indexChanged();
      return ids.sort();
    });
  }
}

/** `mtimeMs` as the folder's last known time, or undefined when it is too recent to be trusted (see `recentChangeMs`). */
function trustedTime(mtimeMs: number): number | undefined {
  return Date.now() - mtimeMs >= recentChangeMs ? mtimeMs : undefined;
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
