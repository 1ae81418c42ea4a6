/**
 * The lowdb adapter of the sessions index (see `file-session-store.ts`): `index.json`, every summary as of
 * its last compaction, plus `index.log`, one line per change since.
 *
 * lowdb hands an adapter's `write` the whole data, and its own `JSONFile` serializes all of it every
 * time: at 100,000 sessions that is 40 MB, and it held the server's event loop for 0.8 s at each save. So
 * this adapter never serializes what it is given: the store records each change it makes to `db.data`
 * here (`record`), and `write` appends those to the log, one line each, then folds the log into a new
 * index.json in a worker thread (`index-worker.ts`) once it has grown. `read` reads index.json with the
 * logs applied in the worker too (in this thread while they are small: see `inlineLoadBytes`).
 */
import { mkdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Adapter } from "lowdb";
import { z } from "zod";
import { syncDirectory, tempSuffix } from "../common/index.js";
import { runIndexJob } from "./index-worker.js";
import { sessionSummarySchema, type SessionSummary } from "./session.js";
import { SessionIndex } from "./session-store.js";

export const indexFileName = "index.json";
/** Where a new index.json is written before it is renamed into place (see `compact`). */
export const scratchFolderName = ".index-new";
export const logFileName = "index.log";
/** A log segment being folded into index.json: `index.log.<time>-<pid>.compacting` (they sort by time). */
export const compactingPattern = /^index\.log\.\d{13}-\d+\.compacting$/;
/** Summaries per message from the worker that reads the index: each costs this thread its copy (a few ms). */
const loadChunkSize = 2000;

const summariesSchema = z.array(sessionSummarySchema);

/** A chunk of index.json that does not match the summary schema: the index is rebuilt from the files. */
class UnusableIndex extends Error {}

/** What the adapter needs of the store that owns the folder: its write queue and its account of its own writes. */
export interface IndexFolder {
  readonly directory: string;
  /** Runs `work` in the store's write queue. */
  serial<T>(work: () => Promise<T>): Promise<T>;
  /** Runs `write`, a change of the folder, so that the store knows the folder's new time as its own (inside `serial`). */
  ownWrite<T>(write: () => Promise<T>): Promise<T>;
  /** Appends `text` to a file of the folder, as `ownWrite` would (in the store's write thread: see write-thread.ts). */
  ownAppend(file: string, text: string): Promise<void>;
  /** The names in the folder; undefined when it is not there. */
  names(): Promise<string[] | undefined>;
  /** Whether the index is being rebuilt from the files: the log is not folded meanwhile (the rebuild folds it at its end). */
  rebuilding(): boolean;
  /** Lines of the log past which it is folded into index.json, for an index of `sessions`. */
  compactAfterLines(sessions: number): number;
}

export class IndexLog implements Adapter<SessionIndex> {
  /** Log segments left by a compaction that did not end, to apply at the next `read` (the store lists the folder). */
  segments: string[] = [];
  /** Why the last `read` found no usable index: "missing", or what is wrong with index.json. */
  problem: string | undefined;
  /** Changes of the index not in the log yet, by session: its summary now, or null when it was removed. */
  readonly #pending = new Map<string, SessionSummary | null>();
  /** Lines in the log since the last compaction began. */
  #logLines = 0;
  /** There is no index.json to amend: the first append writes an empty one first (see `#append`). */
  #snapshotMissing = true;
  #compacting: Promise<void> | undefined;

  constructor(readonly folder: IndexFolder) {}

  /** A compaction under way, if any. */
  get compacting(): Promise<void> | undefined {
    return this.#compacting;
  }

  /** Records a change the store made to the index, for the next `write`. */
  record(id: string, summary: SessionSummary | null): void {
    this.#pending.set(id, summary);
  }

  /**
   * Reads index.json with the log segments and the log applied (see `runIndexJob`); null when there is none
   * or it is damaged (`problem` says which), and then the store rebuilds the index from the files.
   */
  async read(): Promise<SessionIndex | null> {
    const index = new SessionIndex();
    const { directory } = this.folder;
    const logs = [...this.segments, logFileName].map((name) => path.join(directory, name));
    let loaded;
    try {
      loaded = await runIndexJob({ kind: "load", snapshot: path.join(directory, indexFileName), logs, chunkSize: loadChunkSize }, (chunk) => {
        const parsed = summariesSchema.safeParse(chunk);
        if (!parsed.success) throw new UnusableIndex("not the index schema");
        for (const summary of parsed.data) index.set(summary);
      });
    } catch (error) {
      if (!(error instanceof UnusableIndex)) throw error;
      loaded = { ok: false as const, problem: error.message };
    }
    if (!loaded.ok) {
      this.problem = loaded.problem;
      this.#snapshotMissing = true;
      return null;
    }
    this.problem = undefined;
    this.#snapshotMissing = false;
    this.#logLines = loaded.logLines;
    return index;
  }

  /** Appends the changes recorded since the last write to the log (not `index`: see the module comment), then folds the log when it has grown. */
  async write(index: SessionIndex): Promise<void> {
    await this.#append();
    this.compactIfDue(index);
  }

  /** Starts folding the log into index.json, in the background, when it holds enough lines for `index`. */
  compactIfDue(index: SessionIndex): void {
    if (this.folder.rebuilding() || this.#compacting || this.#logLines <= this.folder.compactAfterLines(index.size)) return;
    void this.compact({ fromScratch: false }).catch(reportIndexError);
  }

  /** Forgets the recorded changes and removes the log, before the index is rebuilt from the files (inside `serial`). */
  async discard(): Promise<void> {
    this.#pending.clear();
    this.#logLines = 0;
    const stale = (await this.folder.names())?.filter((name) => name === logFileName || compactingPattern.test(name)) ?? [];
    for (const name of stale) await rm(path.join(this.folder.directory, name), { force: true });
  }

  async #append(): Promise<void> {
    const { directory } = this.folder;
    await this.folder.serial(async () => {
      if (this.#pending.size === 0) return;
      let text = "";
      for (const [id, summary] of this.#pending) text += `${JSON.stringify(summary ? { set: summary } : { delete: id })}\n`;
      const lines = this.#pending.size;
      this.#pending.clear();
      try {
        // A log amends an index.json: without one the next open would rebuild from the files, not read the log.
        if (this.#snapshotMissing) {
          await writeFile(path.join(directory, indexFileName), JSON.stringify({ version: 1, sessions: [] }), { flag: "wx" }).catch((error: unknown) => {
            // Another process wrote one meanwhile: the log amends that.
            if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
          });
          this.#snapshotMissing = false;
        }
        await this.folder.ownAppend(path.join(directory, logFileName), text);
      } catch (error) {
        // The folder was removed: there is no index to keep.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
        throw error;
      }
      this.#logLines += lines;
    });
  }

  /**
   * Folds the log into a new index.json in a worker thread: the log is first renamed to a segment of its
   * own (appends go on into a new log meanwhile), and the segments are removed once index.json holds
   * them. A crash in between leaves segments that the next open reads again (applying a line twice does
   * no harm). `fromScratch`: index.json is made from the segments alone (a rebuild wrote them all).
   */
  compact(options: { fromScratch: boolean }): Promise<void> {
    const { directory, serial, ownWrite } = this.folder;
    const run = async () => {
      await this.#compacting;
      const segments = await serial(async () => {
        const names = await this.folder.names();
        if (names === undefined) return undefined;
        const found = names.filter((name) => compactingPattern.test(name)).sort();
        if (names.includes(logFileName)) {
          const segment = `index.log.${String(Date.now()).padStart(13, "0")}-${process.pid}.compacting`;
          await ownWrite(() => rename(path.join(directory, logFileName), path.join(directory, segment)));
          found.push(segment);
        }
        this.#logLines = 0;
        return found;
      });
      if (segments === undefined || (segments.length === 0 && !options.fromScratch)) return;
      const logs = segments.map((name) => path.join(directory, name));
      // The new index.json is written in a folder of its own and renamed into place here, in the write
      // queue: a file made in the sessions folder by the worker would change the folder under the
      // store's feet, and the next listing would walk it as if another process had written there.
      const scratch = path.join(directory, scratchFolderName);
      const out = path.join(scratch, `${indexFileName}.${process.pid}-${randomBytes(4).toString("hex")}${tempSuffix}`);
      await serial(() => ownWrite(() => mkdir(scratch, { recursive: true })));
      try {
        await runIndexJob({ kind: "compact", snapshot: path.join(directory, indexFileName), logs, fromScratch: options.fromScratch, out });
        await serial(() =>
          ownWrite(async () => {
            await rename(out, path.join(directory, indexFileName));
            for (const log of logs) await rm(log, { force: true });
            // Another process's fold may be using it.
            await rmdir(scratch).catch(() => undefined);
          }),
        );
      } finally {
        await rm(out, { force: true });
      }
      await syncDirectory(directory);
      this.#snapshotMissing = false;
    };
    const compacting = run().finally(() => {
      if (this.#compacting === compacting) this.#compacting = undefined;
    });
    this.#compacting = compacting;
    return compacting;
  }
}

export function reportIndexError(error: unknown): void {
  console.error(`sessions: cannot update the index: ${(error as Error)?.message ?? String(error)}`);
}
