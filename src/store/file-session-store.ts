/**
 * Sessions as one JSON file per run in a folder, and a lowdb index (`index.json`) of their summaries
 * that serves listing and search without opening every file. One writer process.
 */
import { mkdirSync } from "node:fs";
import { open, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Low } from "lowdb";
import { JSONFile } from "lowdb/node";
import { ProjectLlmError } from "../common/index.js";
import { assertRunId, isValidRunId, sessionSchema, summarize, type SessionRecord, type SessionSummary } from "./session.js";
import { notFound, SummaryIndex } from "./session-store.js";

interface IndexData {
  version: 1;
  sessions: SessionSummary[];
}

const indexVersion = 1;
const tempSuffix = ".tmp";

/**
 * Writes a file so that a crash leaves the old content or the new one, never a torn file: a temp file in
 * the same folder, fsync, rename over the target, fsync of the folder (so the rename itself is durable).
 */
export async function writeFileDurably(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.${Date.now()}${tempSuffix}`;
  const handle = await open(temp, "w", 0o600);
  try {
    await handle.writeFile(content, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const folder = await open(path.dirname(file), "r");
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

export class FileSessionStore extends SummaryIndex {
  readonly directory: string;
  #index: Map<string, SessionSummary> | undefined;
  #loading: Promise<Map<string, SessionSummary>> | undefined;
  #db: Low<IndexData> | undefined;
  /** Writes are chained so that two saves never interleave (lowdb's lock is per process only). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(directory: string) {
    super();
    this.directory = path.resolve(/*turbopackIgnore: true*/ directory);
  }

  #file(id: string): string {
    return path.join(this.directory, `${assertRunId(id)}.json`);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  protected summaries(): Promise<Map<string, SessionSummary>> {
    if (this.#index) return Promise.resolve(this.#index);
    this.#loading ??= this.#open();
    return this.#loading;
  }

  async #open(): Promise<Map<string, SessionSummary>> {
    mkdirSync(this.directory, { recursive: true });
    // Temp files left by a crash mid-write are garbage: the target still holds the last whole version.
    for (const name of await readdir(this.directory)) {
      if (name.endsWith(tempSuffix)) await rm(path.join(this.directory, name), { force: true });
    }
    this.#db = new Low<IndexData>(new JSONFile(path.join(this.directory, "index.json")), { version: indexVersion, sessions: [] });
    let valid: boolean;
    try {
      await this.#db.read();
      valid = this.#db.data.version === indexVersion && Array.isArray(this.#db.data.sessions);
    } catch {
      valid = false;
    }
    if (valid) {
      const fileCount = (await readdir(this.directory)).filter((name) => name.endsWith(".json") && isValidRunId(name.slice(0, -5))).length;
      valid = fileCount === this.#db.data.sessions.length;
    }
    this.#index = valid ? new Map(this.#db.data.sessions.map((summary) => [summary.id, summary])) : await this.#rebuild();
    return this.#index;
  }

  /** Rebuilds the index from the session files (when it is missing, damaged or out of step). */
  async rebuildIndex(): Promise<number> {
    await this.summaries();
    this.#index = await this.#rebuild();
    return this.#index.size;
  }

  async #rebuild(): Promise<Map<string, SessionSummary>> {
    const index = new Map<string, SessionSummary>();
    for (const name of await readdir(this.directory)) {
      if (!name.endsWith(".json") || !isValidRunId(name.slice(0, -5))) continue;
      try {
        const session = sessionSchema.parse(JSON.parse(await readFile(path.join(this.directory, name), "utf8")));
        index.set(session.id, summarize(session));
      } catch {
        // A damaged session file is left on disk for a person to look at, but not listed.
      }
    }
    await this.#writeIndex(index);
    return index;
  }

  async #writeIndex(index: Map<string, SessionSummary>): Promise<void> {
    this.#db!.data = { version: indexVersion, sessions: [...index.values()] };
    await writeFileDurably(path.join(this.directory, "index.json"), JSON.stringify(this.#db!.data));
  }

  async save(session: SessionRecord): Promise<void> {
    const file = this.#file(session.id);
    const index = await this.summaries();
    await this.#serial(async () => {
      await writeFileDurably(file, JSON.stringify(session, null, 1));
      index.set(session.id, summarize(session));
      await this.#writeIndex(index);
    });
  }

  async get(id: string): Promise<SessionRecord> {
    const file = this.#file(id);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw notFound(id);
      throw error;
    }
    const parsed = sessionSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new ProjectLlmError("internal", `session file ${file} is damaged: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    return parsed.data;
  }

  async delete(id: string): Promise<void> {
    const file = this.#file(id);
    const index = await this.summaries();
    await this.#serial(async () => {
      if (!index.has(id)) throw notFound(id);
      await rm(file, { force: true });
      index.delete(id);
      await this.#writeIndex(index);
    });
  }
}
