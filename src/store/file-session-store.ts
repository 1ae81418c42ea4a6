/**
 * Sessions as one JSON file per run (`<dir>/<id>.json`) and an index of their summaries that serves
 * listing, search and filters without opening the session files.
 *
 * - The session files are the truth; the index is derived from them. It is kept in memory, and on disk as
 *   `index.json` (every summary, as of its last compaction) plus `index.log`, one line per change since
 *   (a summary as it is now, or a removal). A change appends its line (within `indexWriteDelayMs`, one
 *   append for any number of changes), so a save costs the index what changed, not the whole index: at
 *   100,000 sessions index.json is 40 MB, and rewriting it on the event loop blocked the server for 0.8 s.
 *   When the log has grown past a tenth of the index, it is folded into a new index.json in a worker
 *   thread (`index-worker.ts`), and index.json is read there too when the store opens (in the calling thread
 *   while index.json and its logs are small: a thread's start costs more than the read). The index is a
 *   lowdb database (`db.data` in memory) whose adapter (`index-log.ts`) does both: a change to `db.data` is
 *   recorded on the adapter, and `db.write()` appends what was recorded.
 * - When index.json is missing or damaged (not JSON, or not the index schema) the index is rebuilt from the
 *   session files, in slices on the event loop: the store answers at once, a `partial` listing shows the
 *   sessions read so far (marked `indexing`), other listings wait for the whole index.
 * - When the index is out of step with the files (a crash before a change reached the log, another
 *   process's writes) the difference is read back: files it lacks are added, entries without a file
 *   dropped, and entries still `running` refreshed from their files. That covers every change a session
 *   goes through (created `running`, saved while it runs and once more when it ends, or removed), so a
 *   log line lost to a crash loses nothing.
 * - Files that should hold a session and cannot be read as one (torn JSON, not the session schema, a name
 *   that is not a run id, another session's id) are listed as damaged, with what is wrong, and left alone.
 * - Every session write is atomic (`writeFileDurably`): a crash leaves the old file or the new one, never
 *   a torn one, and durable (fsynced) but a running session's first record (see `SessionStore.create`).
 *   A temp file left by a crash is ignored, and removed when the store opens.
 * - Reading writes nothing where there is nothing to keep: a folder that is not there lists no sessions
 *   and is created by the first write, and an index of no sessions is not written.
 * - Another process may write the same folder (the CLI while the studio runs, or the other way round):
 *   before a listing, a family tree or an append to the log, a store that finds the folder's modification
 *   time changed since it last looked reconciles the index with the files the same way (a stat per call;
 *   a listing of the folder, and a read of the files the index lacks or lists as `running`, only when it
 *   changed). So each lists the other's sessions without being reopened. Both append to one log, and
 *   each folds the log segments it finds; a segment one of them misses is read back from the files as
 *   above. Writes are serialized within the process only; no two processes write one session file: a
 *   run's own process writes its session, and `interruptRunning` rewrites only a session whose process
 *   can no longer end it (see `runsElsewhere`).
 */
import { access, appendFile, mkdir, opendir, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { Low } from "lowdb";
import { syncDirectory, tempSuffix, writeFileDurably } from "../common/index.js";
import { writeFolderFile, type FolderWrite } from "./write-thread.js";
import { compactingPattern, indexFileName, IndexLog, logFileName, reportIndexError, scratchFolderName } from "./index-log.js";
import { assertRunId, isValidRunId, sessionSchema, summarize, type SessionRecord, type SessionSummary } from "./session.js";
import {
  checkSession,
  interrupted,
  SessionIndex,
  sessionDamaged,
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
import { runsElsewhere } from "./session-owner.js";
import { nextTurn, sortInSlices } from "./slices.js";

/** Session files read at once while rebuilding the index. */
const readConcurrency = 32;

/** How long the log may lag the session files while the process runs. */
const indexWriteDelayMs = 1000;

/** The log is folded into index.json once it holds this many lines: a tenth of the index, at least 1,000. */
const defaultCompactAfterLines = (sessions: number) => Math.max(1000, Math.floor(sessions / 10));

export interface FileSessionStoreOptions {
  /** Lines of the log past which it is folded into index.json (default: a tenth of the index, at least 1,000). */
  compactAfterLines?: number;
}

/**
 * A folder's modification time this close to the clock is not trusted to show the next change: a change
 * made later within the file system's tick (a few ms; more on a network file system) leaves it the same.
 * The folder is listed again at the next look until its time is older than this.
 */
const recentChangeMs = 1000;

/**
 * While this process's own writes keep changing the folder (runs saving), a change another process made
 * in the same instant would hide behind them: the folder is listed again in the background this often.
 */
const verifyEveryMs = 10_000;

/** Folder entries handled between two turns of the event loop when the folder is listed or walked. */
const walkSlice = 10_000;

type ReadResult = { session: SessionRecord } | { damage: DamagedSession } | { missing: true };

/** A rebuild of the index from the session files, under way. */
interface Building {
  /** Sessions saved or removed meanwhile: what the rebuild read of them may be older, and is not used. */
  touched: Set<string>;
  done: Promise<void>;
  /** `interruptRunning` was called meanwhile: it is done once the files are read (see there). */
  interrupt?: boolean;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

const byFile = (a: DamagedSession, b: DamagedSession) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0);

/**
 * A session still `running` whose process is gone: not one of this process's runs (its owner is this
 * process while it runs) and not another live process's (a CLI run goes on there). A session without an
 * owner (an earlier version's) is left to `interruptRunning`, at a studio's start.
 */
function leftRunning(session: SessionRecord): boolean {
  const owner = session.owner;
  if (session.status !== "running" || !owner) return false;
  if (owner.host === hostname() && owner.pid === process.pid) return false;
  return !runsElsewhere(owner);
}

export class FileSessionStore implements SessionStore {
  readonly directory: string;
  /** The index: `data` in memory, written to index.json and index.log by its adapter. */
  readonly #db: Low<SessionIndex>;
  /** The adapter of `#db`, on which each change to the index is recorded for the next `#db.write()`. */
  readonly #log: IndexLog;
  #opened = false;
  #opening: Promise<SessionIndex> | undefined;
  /** The tail of the write queue: each write starts when the one before it has ended. */
  #queue: Promise<unknown> = Promise.resolve();
  /** A write of the recorded changes to the log is due. */
  #indexTimer: NodeJS.Timeout | undefined;
  #building: Building | undefined;
  /** Damaged files found by the last look at the folder, by name. */
  #damaged = new Map<string, DamagedSession>();
  /**
   * The folder's modification time as this store last accounted for it: by listing the folder, or by a
   * write of its own made when nothing else had changed it. Undefined: the folder is listed at the next look.
   */
  #seenMtime: number | undefined;
  /** Since when `#seenMtime` was recent when accounted for (another process's change could hide in it); undefined: verified. */
  #unverifiedSince: number | undefined;
  /** A background listing of the folder under way (see `verifyEveryMs`). */
  #verifying: Promise<void> | undefined;
  /** Writes of this store to its folder under way (see `#current`). */
  #ownWritesInFlight = 0;

  /** Nothing touches the disk until the first call (or `open()`); the folder is created by the first write. */
  constructor(directory: string, options: FileSessionStoreOptions = {}) {
    this.directory = path.resolve(/*turbopackIgnore: true*/ directory);
    const lines = options.compactAfterLines;
    this.#log = new IndexLog({
      directory: this.directory,
      serial: (work) => this.#serial(work),
      ownWrite: (write) => this.#ownWrite(write),
      ownAppend: (file, text) => this.#ownFolderWrite({ directory: this.directory, file, content: text, append: true }, () => appendFile(file, text)),
      names: () => this.#names(),
      rebuilding: () => this.#building !== undefined,
      compactAfterLines: lines === undefined ? defaultCompactAfterLines : () => lines,
    });
    this.#db = new Low(this.#log, new SessionIndex());
  }

  /**
   * Opens the folder: removes temp files left by a crash, reads the index (in a worker thread if large) and
   * reconciles it with the files, or starts rebuilding it (see the module comment). A folder that is not
   * there is opened empty, and not created. Every other method opens the store by itself; call this to do
   * it at a moment of your choosing.
   */
  async open(): Promise<void> {
    await this.#ready();
  }

  /** Whether the index is still being built from the session files. */
  get indexing(): boolean {
    return this.#building !== undefined;
  }

  #file(id: string): string {
    return path.join(this.directory, `${assertRunId(id)}.json`);
  }

  #ready(): Promise<SessionIndex> {
    if (this.#opened) return Promise.resolve(this.#db.data);
    this.#opening ??= this.#load().then(
      (index) => {
        this.#opened = true;
        return index;
      },
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
    const folder = await stat(this.directory).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    const names = folder && (await this.#names());
    if (!folder || names === undefined) return (this.#db.data = new SessionIndex());
    // A temp file is what a crash mid-write leaves: its target still holds the last whole version.
    for (const name of names) if (name.endsWith(tempSuffix)) await rm(path.join(this.directory, name), { force: true });
    // So is a new index.json that was not renamed into place yet: the logs it was made of are still there.
    if (names.includes(scratchFolderName)) await rm(path.join(this.directory, scratchFolderName), { recursive: true, force: true });
    this.#seen(folder.mtimeMs);

    this.#log.segments = names.filter((name) => compactingPattern.test(name)).sort();
    await this.#db.read();
    const index = this.#db.data;
    if (this.#log.problem !== undefined) {
      const indexFound = this.#log.problem !== "missing" || names.includes(logFileName);
      const sessionNames = names.some((name) => name.endsWith(".json") && name !== indexFileName);
      index.clear();
      this.#build(index, names, { write: indexFound || sessionNames });
      return index;
    }
    await this.#reconcile(index, names);
    this.#log.compactIfDue(index);
    return index;
  }

  /** Records a change of the index, to be appended to the log; `read`: what a rebuild read (not a change made meanwhile). */
  #record(index: SessionIndex, summary: SessionSummary, options: { read?: boolean } = {}): void {
    index.set(summary);
    this.#changed(summary.id, summary, options.read);
  }

  #drop(index: SessionIndex, id: string): void {
    if (index.delete(id)) this.#changed(id, null);
  }

  #changed(id: string, summary: SessionSummary | null, read = false): void {
    this.#log.record(id, summary);
    if (!read) this.#building?.touched.add(id);
    if (this.#indexTimer) return;
    this.#indexTimer = setTimeout(() => {
      this.#indexTimer = undefined;
      void this.#db.write().catch(reportIndexError);
    }, indexWriteDelayMs);
    // A pending append never keeps a process alive: `flush()` (or the next open) takes care of it.
    this.#indexTimer.unref();
  }

  /**
   * Brings the index in step with the session files among `names` (the folder's entries): entries without
   * a file dropped, files it lacks added, entries it lists as `running` read again, and the damaged files
   * found anew. A name the index holds is taken as it is, so that the folder of 100,000 sessions is walked
   * once, without checking each name or building a set of them unless a file was removed.
   */
  async #reconcile(index: SessionIndex, names: string[]): Promise<void> {
    let indexed = 0;
    const toRead: string[] = [];
    const damaged = new Map<string, DamagedSession>();
    for (let position = 0; position < names.length; position++) {
      if (position > 0 && position % walkSlice === 0) await nextTurn();
      const name = names[position]!;
      if (!name.endsWith(".json") || name === indexFileName) continue;
      const id = name.slice(0, -5);
      const summary = index.get(id);
      if (summary) {
        indexed++;
        if (summary.status === "running") toRead.push(id);
      } else if (isValidRunId(id)) {
        toRead.push(id);
      } else {
        damaged.set(name, misnamed(name));
      }
    }
    if (indexed < index.size) {
      const onDisk = new Set(names);
      for (const summary of index.values()) if (!onDisk.has(`${summary.id}.json`)) this.#drop(index, summary.id);
    }
    await forEachLimited(toRead, readConcurrency, async (id) => {
      const result = await this.#read(id);
      if ("damage" in result) damaged.set(result.damage.file, result.damage);
      if (!("session" in result)) return;
      const summary = summarize(result.session);
      if (JSON.stringify(summary) !== JSON.stringify(index.get(id))) this.#record(index, summary);
    });
    this.#damaged = damaged;
  }

  /**
   * Reconciles the index with the folder when the folder changed since the last time (another process
   * added or removed a session), inside the write queue. Not while the index is being built: the
   * rebuild reads the folder itself, and the next look after it lists the folder again.
   */
  async #reconcileIfChanged(index: SessionIndex, options: { always?: boolean } = {}): Promise<void> {
    if (this.#building) return;
    let folder;
    try {
      folder = await stat(this.directory);
    } catch (error) {
      // The folder is gone: there is nothing to reconcile with, and the next write says what is wrong.
      if (isMissing(error)) return;
      throw error;
    }
    if (!options.always && folder.mtimeMs === this.#seenMtime) return;
    const names = await this.#names();
    if (names === undefined) return;
    this.#unverifiedSince = undefined;
    this.#seen(folder.mtimeMs);
    await this.#reconcile(index, names);
  }

  /** Accounts for the folder's modification time `mtimeMs`, as unverified when it is too recent to be trusted (see `recentChangeMs`). */
  #seen(mtimeMs: number): void {
    this.#seenMtime = mtimeMs;
    if (Date.now() - mtimeMs < recentChangeMs) this.#unverifiedSince ??= Date.now();
  }

  /**
   * `#ownWrite` of a write the store's write thread makes (see write-thread.ts: one message there and back,
   * where the same write made from here is a dozen trips through the thread pool); `fallback` is the same
   * write made from here, where that thread cannot.
   */
  async #ownFolderWrite(write: FolderWrite, fallback: (folderExists: boolean) => Promise<void>): Promise<void> {
    this.#ownWritesInFlight++;
    try {
      const { before, after } = await writeFolderFile(write, async () => {
        await this.#ownWrite(fallback);
        return {};
      });
      if (before !== undefined && before === this.#seenMtime && after !== undefined) this.#seen(after);
    } finally {
      this.#ownWritesInFlight--;
    }
  }

  /**
   * Runs `write`, a change of the folder by this store (inside the write queue), and accounts for the
   * folder's new modification time as its own when the folder had not changed since the last look, so that
   * the next listing does not list the folder again (0.2 s at 100,000 sessions) for a change it made.
   */
  async #ownWrite<T>(write: (folderExists: boolean) => Promise<T>): Promise<T> {
    const mtime = () => stat(this.directory).then((folder) => folder.mtimeMs, () => undefined);
    this.#ownWritesInFlight++;
    try {
      const before = await mtime();
      const result = await write(before !== undefined);
      if (before !== undefined && before === this.#seenMtime) {
        const after = await mtime();
        if (after !== undefined) this.#seen(after);
      }
      return result;
    } finally {
      this.#ownWritesInFlight--;
    }
  }

  /**
   * The index, first reconciled with what other processes wrote since the last look (a stat when nothing
   * changed). While the index is being built: at once when `partial`, else once it is whole.
   */
  async #current(partial = false): Promise<SessionIndex> {
    const index = await this.#ready();
    if (this.#building) {
      if (partial) return index;
      await this.#building.done;
    }
    const folder = await stat(this.directory).catch(() => undefined);
    if (folder !== undefined && folder.mtimeMs !== this.#seenMtime && this.#ownWritesInFlight > 0) {
      // The change is most likely the write under way, which accounts for it when it ends: a listing does
      // not wait behind the write queue (runs saving) for it, and the folder is looked at after them.
      this.#verify(index, { always: false });
    } else if (folder === undefined || folder.mtimeMs !== this.#seenMtime) {
      await this.#serial(() => this.#reconcileIfChanged(index));
    } else if (this.#unverifiedSince !== undefined && !this.#verifying) {
      const now = Date.now();
      // Once the folder's time is old enough to be trusted, or every `verifyEveryMs` while it keeps changing.
      if (now - folder.mtimeMs >= recentChangeMs || now - this.#unverifiedSince >= verifyEveryMs) this.#verify(index, { always: true });
    }
    return index;
  }

  /** Reconciles the index with the folder in the background (in the write queue), once at a time. */
  #verify(index: SessionIndex, options: { always: boolean }): void {
    if (this.#verifying) return;
    const verifying = this.#serial(() => this.#reconcileIfChanged(index, options))
      .catch(reportIndexError)
      .finally(() => {
        if (this.#verifying === verifying) this.#verifying = undefined;
      });
    this.#verifying = verifying;
  }

  /**
   * The names in the folder; undefined when the folder is not there. Read in batches (`opendir`): a
   * `readdir` of 100,000 names builds its whole array at once and held the event loop for 150-400 ms.
   */
  async #names(): Promise<string[] | undefined> {
    let folder;
    try {
      folder = await opendir(this.directory, { bufferSize: 1024 });
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const names: string[] = [];
    for await (const entry of folder) names.push(entry.name);
    return names;
  }

  /**
   * Starts building `index` (empty) from the session files among `names`. The old log goes first (it
   * amends an index.json that is being replaced); each session read is recorded like any change, so the
   * log holds the whole index when the reading ends, and is then folded into a new index.json from
   * scratch in the worker. Sessions saved meanwhile are recorded by their saves, and not overwritten by
   * what the rebuild read of them earlier.
   */
  #build(index: SessionIndex, names: string[], options: { write: boolean; onProgress?: RebuildOptions["onProgress"] }): Building {
    const building: Building = { touched: new Set(), done: Promise.resolve() };
    this.#building = building;
    const damaged = new Map<string, DamagedSession>();
    this.#damaged = damaged;
    const work = async () => {
      const found: string[] = [];
      for (let position = 0; position < names.length; position++) {
        if (position > 0 && position % walkSlice === 0) await nextTurn();
        const name = names[position]!;
        if (!name.endsWith(".json") || name === indexFileName) continue;
        const id = name.slice(0, -5);
        if (isValidRunId(id)) found.push(id);
        else damaged.set(name, misnamed(name));
      }
      // Newest first: the first page of History fills first.
      const ids = await sortInSlices(found, (a, b) => (a < b ? 1 : a > b ? -1 : 0));
      if (options.write) {
        await this.#serial(() => this.#log.discard());
      }
      let read = 0;
      options.onProgress?.(0, ids.length);
      await forEachLimited(ids, readConcurrency, async (id) => {
        const result = await this.#read(id);
        options.onProgress?.(++read, ids.length);
        if (building.touched.has(id)) return;
        if ("session" in result) this.#record(index, summarize(result.session), { read: true });
        else if ("damage" in result) damaged.set(result.damage.file, result.damage);
      });
      if (building.interrupt) {
        const ids = await this.#serial(() => this.#interrupt(index, new Set(building.touched)));
        if (ids.length > 0) console.log(`sessions: marked ${ids.length} session(s) left running by a process that stopped as interrupted`);
      }
      if (!options.write) return;
      // Not folded by the write (the rebuild is not over yet), but from scratch here.
      await this.#db.write();
      await this.#log.compact({ fromScratch: true });
    };
    building.done = work().finally(() => {
      if (this.#building === building) this.#building = undefined;
      // What other processes wrote while the folder was read is found at the next look.
      this.#seenMtime = undefined;
    });
    // A failed rebuild is reported where it is awaited, and by the log below when nothing awaits it.
    building.done.catch(reportIndexError);
    return building;
  }

  /** Reads a session file: the session, what is wrong with it, or that it is not there. */
  async #read(id: string): Promise<ReadResult> {
    const name = `${id}.json`;
    let text: string;
    try {
      text = await readFile(this.#file(id), "utf8");
    } catch (error) {
      if (isMissing(error)) return { missing: true };
      return { damage: { file: name, problem: "unreadable", detail: (error as Error).message } };
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      return { damage: { file: name, problem: "not-json", detail: (error as Error).message } };
    }
    const parsed = sessionSchema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { damage: { file: name, problem: "not-a-session", detail: `${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}` } };
    }
    if (parsed.data.id !== id) return { damage: { file: name, problem: "id-mismatch", detail: `it holds session ${parsed.data.id}` } };
    return { session: parsed.data };
  }

  /** The session in a file, or undefined when the file is gone or damaged. */
  async #readQuietly(id: string): Promise<SessionRecord | undefined> {
    const result = await this.#read(id);
    return "session" in result ? result.session : undefined;
  }

  async create(session: SessionRecord): Promise<void> {
    const checked = checkSession(session);
    const file = this.#file(checked.id);
    const index = await this.#ready();
    await this.#serial(async () => {
      const exists = index.has(checked.id) || (await access(file).then(() => true, () => false));
      if (exists) throw sessionIdTaken(checked.id);
      // Not fsynced (see `SessionStore.create`): the run's checkpoints and final write are.
      await this.#put(index, file, checked, { sync: false });
    });
  }

  async save(session: SessionRecord): Promise<void> {
    const checked = checkSession(session);
    const file = this.#file(checked.id);
    const index = await this.#ready();
    await this.#serial(() => this.#put(index, file, checked));
  }

  async #put(index: SessionIndex, file: string, session: SessionRecord, options: { sync?: boolean } = {}): Promise<void> {
    // The folder is made by the first write (a save is on the path from a run's last token to its end).
    const content = JSON.stringify(session, null, 1);
    await this.#ownFolderWrite({ directory: this.directory, file, content, ...options }, async (folderExists) => {
      if (!folderExists) {
        const created = await mkdir(this.directory, { recursive: true });
        if (created !== undefined) await syncDirectory(path.dirname(this.directory));
      }
      await writeFileDurably(file, content, options);
    });
    this.#damaged.delete(path.basename(file));
    this.#record(index, summarize(session));
  }

  /**
   * Appends the pending changes to the log now and waits for a rebuild or a compaction under way, leaving
   * nothing pending (call it before the process exits, or before its folder is removed). Dropping the
   * pending changes instead would lose nothing for good (the next open reconciles the index) but cost
   * that open a read of the files.
   */
  async flush(): Promise<void> {
    if (this.#indexTimer) clearTimeout(this.#indexTimer);
    this.#indexTimer = undefined;
    if (!this.#opened) return;
    await this.#building?.done.catch(() => undefined);
    await this.#verifying;
    // What another process wrote since the last look goes in too.
    await this.#serial(() => this.#reconcileIfChanged(this.#db.data));
    await this.#db.write();
    await this.#log.compacting;
  }

  async has(id: string): Promise<boolean> {
    const file = this.#file(id);
    const index = await this.#ready();
    return index.has(id) || (await access(file).then(() => true, () => false));
  }

  async get(id: string): Promise<SessionRecord> {
    // Reads need no queue: a rename is atomic, so a reader sees the old file or the new one.
    const result = await this.#read(assertRunId(id));
    if ("session" in result) return leftRunning(result.session) ? ((await this.#interruptOne(id)) ?? result.session) : result.session;
    if ("damage" in result) throw sessionDamaged(this.directory, result.damage);
    throw sessionNotFound(id);
  }

  async list(options: ListOptions = {}): Promise<SessionPage> {
    const index = await this.#current(options.partial);
    const page = index.list(options);
    if (this.#damaged.size > 0) page.damaged = [...this.#damaged.values()].sort(byFile);
    if (this.#building) page.indexing = { indexed: index.size };
    return page;
  }

  async delete(id: string): Promise<void> {
    const file = this.#file(id);
    const index = await this.#ready();
    await this.#serial(async () => {
      try {
        await this.#ownWrite(() => rm(file));
      } catch (error) {
        if (!isMissing(error)) throw error;
        if (!index.has(id)) throw sessionNotFound(id);
      }
      await syncDirectory(this.directory);
      this.#damaged.delete(`${id}.json`);
      this.#drop(index, id);
      this.#building?.touched.add(id);
    });
  }

  async tree(id: string): Promise<SessionTreeNode> {
    assertRunId(id);
    return (await this.#current()).tree(id);
  }

  async rebuildIndex(options: RebuildOptions = {}): Promise<RebuildReport> {
    const index = await this.#ready();
    await this.#building?.done.catch(() => undefined);
    await this.#log.compacting;
    const names = await this.#names();
    index.clear();
    const building = this.#build(index, names ?? [], { write: names !== undefined, onProgress: options.onProgress });
    await building.done;
    return { indexed: index.size, damaged: [...this.#damaged.values()].sort(byFile) };
  }

  async check(options: RebuildOptions = {}): Promise<DamagedSession[]> {
    const names = (await this.#names()) ?? [];
    const damaged: DamagedSession[] = [];
    const ids: string[] = [];
    for (const name of names) {
      if (!name.endsWith(".json") || name === indexFileName) continue;
      const id = name.slice(0, -5);
      if (isValidRunId(id)) ids.push(id);
      else damaged.push(misnamed(name));
    }
    let read = 0;
    options.onProgress?.(0, ids.length);
    await forEachLimited(ids, readConcurrency, async (id) => {
      const result = await this.#read(id);
      options.onProgress?.(++read, ids.length);
      if ("damage" in result) damaged.push(result.damage);
    });
    return damaged.sort(byFile);
  }

  /**
   * See `SessionStore.interruptRunning`. While the index is being built from the files (seconds at 100,000
   * sessions) it answers at once, with no ids, and marks the sessions once the files are read, leaving
   * alone those this process saved meanwhile (its own runs): a studio that starts serves its pages during
   * a rebuild rather than after it.
   */
  async interruptRunning(): Promise<string[]> {
    const index = await this.#ready();
    if (this.#building) {
      this.#building.interrupt = true;
      return [];
    }
    await this.#current();
    return this.#serial(() => this.#interrupt(index));
  }

  /**
   * Marks one session `interrupted` that a process that is gone left `running`, as `interruptRunning` does
   * at the start (while a rebuild of the index goes on, that is left to the rebuild's end: a read meanwhile
   * must not show the dead process's run as going on). Answers the session as written, or undefined.
   */
  async #interruptOne(id: string): Promise<SessionRecord | undefined> {
    const index = await this.#ready();
    return this.#serial(async () => {
      const session = await this.#readQuietly(id);
      return session && leftRunning(session) ? this.#writeInterrupted(index, session) : session;
    });
  }

  /** Writes `session` as `interrupted` and records it in `index`; answers it as written. Inside the write queue. */
  async #writeInterrupted(index: SessionIndex, session: SessionRecord): Promise<SessionRecord> {
    const updated = interrupted(session);
    await this.#ownWrite(() => writeFileDurably(this.#file(session.id), JSON.stringify(updated, null, 1)));
    this.#record(index, summarize(updated));
    return updated;
  }

  /** Marks `interrupted` the sessions `interruptRunning` names, but those in `skip`; answers their ids (sorted). Inside the write queue. */
  async #interrupt(index: SessionIndex, skip?: Set<string>): Promise<string[]> {
    {
      const ids: string[] = [];
      await this.#reconcileIfChanged(index);
      for (const summary of index.values()) {
        if (summary.status !== "running" || skip?.has(summary.id)) continue;
        const session = await this.#readQuietly(summary.id);
        // Another process's run goes on: that process writes its end, and the next reconciliation reads it.
        if (!session || (session.status === "running" && runsElsewhere(session.owner))) continue;
        if (session.status === "running") {
          await this.#writeInterrupted(index, session);
          ids.push(session.id);
        } else {
          this.#record(index, summarize(session));
        }
      }
      return ids.sort();
    }
  }
}

/** A `.json` file in the sessions folder whose name is not a run id. */
function misnamed(name: string): DamagedSession {
  return { file: name, problem: "not-a-run-id", detail: `"${name.slice(0, -5)}" is not a run id (they look like 20261124-120102-3fa9c1)` };
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
