/**
 * The stage cache on disk: one small JSON file per signature, `<folder>/<2 hex>/<sha256>.json`, holding the
 * completed stage's record and the session it was computed in. A lookup reads one file named by the
 * signature: nothing scans the sessions, and the folder survives a restart. With 100,000 sessions of a few
 * stages each the entries spread over 256 sub-folders of a few thousand files.
 *
 * Each session's stored signatures are listed in `<folder>/by-session/<id>.txt` (one a line, appended as
 * it stores them): deleting a session (`Studio.deleteSession`) removes its entries by that list without
 * a scan, so the text of a deleted session does not stay on disk. An entry whose session is gone anyway
 * (a session file removed by hand) is dropped at its next lookup, and `prune` (run by
 * `project-llm sessions reindex`) removes every such entry at once.
 */
import { createHash, randomBytes } from "node:crypto";
import { appendFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import stringify from "fast-json-stable-stringify";
import { z } from "zod";
import { stageRecordSchema, type ResolvedModel, type StageCacheKey, type StageCachePort, type StageRecord } from "../engine/index.js";
import { tempSuffix } from "../common/index.js";
import { isValidRunId, modelIdentity as fileIdentity } from "./session.js";
import type { SessionStore } from "./session-store.js";

const signaturePattern = /^[0-9a-f]{64}$/;
const entryNamePattern = /^[0-9a-f]{64}\.json$/;
const bucketPattern = /^[0-9a-f]{2}$/;
const bySessionFolder = "by-session";

const entrySchema = z.object({
  version: z.literal(1),
  signature: z.string().regex(signaturePattern),
  /** The session whose run computed the stage, and the stage's id in it. */
  sessionId: z.string(),
  stageId: z.string(),
  record: stageRecordSchema,
});
type Entry = z.infer<typeof entrySchema>;

/**
 * What runs a local model besides its file and load parameters, and changes its outputs all the same:
 * the runtime's GPU setting (a CPU and a CUDA build do not round alike) and node-llama-cpp's version
 * (its llama.cpp). A remote model's answers do not depend on them.
 */
export interface StageCacheRuntime {
  /** `runtime.gpu` of models.yaml as the runtime was started with (`auto`, `false`, `cuda`, ...). */
  gpu: string | false;
  /** node-llama-cpp's version, from its package.json (see `installedVersion`). */
  nodeLlamaCpp: string;
}

/**
 * What stands for a model in a signature. A local file: its path, size, modification time, inode and
 * change time (a file replaced in place, or copied over with its modification time kept, changes the
 * last two: no tool can set a change time back) and the sha256 of its header (what sessions record, see
 * `modelIdentity` in session.ts; remembered by file, so a run does not hash it again), with the runtime
 * that runs it. A remote model: its server and its name there (only one that opts in is ever keyed).
 */
async function callIdentity(model: ResolvedModel, runtime: StageCacheRuntime): Promise<Record<string, unknown>> {
  if (model.remote) return { remote: { baseUrl: model.remote.baseUrl, model: model.remote.model }, load: model.load };
  const [facts, file] = await Promise.all([stat(model.path), fileIdentity(model.path)]);
  return {
    path: model.path,
    size: facts.size,
    mtimeMs: facts.mtimeMs,
    ino: facts.ino,
    ctimeMs: facts.ctimeMs,
    headerSha256: file.headerSha256,
    load: model.load,
    runtime,
  };
}

/**
 * The signature of a stage: the sha256 of the canonical JSON (keys sorted) of its key, with each model
 * named by its identity (see `callIdentity`). Rejects when a model file cannot be read (never cached).
 */
export async function stageSignature(key: StageCacheKey, runtime: StageCacheRuntime): Promise<string> {
  const calls = await Promise.all(key.calls.map(async ({ model, ...call }) => ({ ...call, model: await callIdentity(model, runtime) })));
  return createHash("sha256").update(stringify({ ...key, calls })).digest("hex");
}

const versions = new Map<string, Promise<string>>();

/**
 * The version of package `name` as Node would find it from `root` (its `node_modules`, then each
 * folder above), read once per process; "unknown" when it is not installed there. Read from the file
 * rather than resolved with `require`, which the server's bundler would try to follow.
 */
export function installedVersion(root: string, name: string): Promise<string> {
  const memoKey = `${root}\0${name}`;
  let version = versions.get(memoKey);
  if (!version) {
    version = (async () => {
      for (let folder = path.resolve(/*turbopackIgnore: true*/ root); ; folder = path.dirname(folder)) {
        try {
          const manifest = JSON.parse(await readFile(path.join(folder, "node_modules", name, "package.json"), "utf8")) as { version?: unknown };
          if (typeof manifest.version === "string") return manifest.version;
        } catch {
          // Not in this folder's node_modules: look in the one above, as Node does.
        }
        if (path.dirname(folder) === folder) return "unknown";
      }
    })();
    versions.set(memoKey, version);
  }
  return version;
}

/** An entry's text as stored, if it is a usable entry under `signature` (not torn, a run id, completed). */
function parseEntry(text: string, signature: string): Entry | undefined {
  try {
    const parsed = entrySchema.safeParse(JSON.parse(text));
    if (parsed.success && parsed.data.signature === signature && isValidRunId(parsed.data.sessionId) && parsed.data.record.status === "completed") return parsed.data;
  } catch {
    // Not JSON (a torn write after a power cut): unusable like any other.
  }
  return undefined;
}

const readText = (file: string): Promise<string | undefined> => readFile(file, "utf8").catch(() => undefined);

export class FileStageCache {
  readonly directory: string;
  readonly #sessions: Pick<SessionStore, "has">;

  /** `directory`: the cache's own folder; `sessions`: the store whose sessions the entries point at. */
  constructor(directory: string, sessions: Pick<SessionStore, "has">) {
    this.directory = path.resolve(/*turbopackIgnore: true*/ directory);
    this.#sessions = sessions;
  }

  #file(signature: string): string {
    // The name is built from our own hash only: checked all the same, so that it stays inside the folder.
    if (!signaturePattern.test(signature)) throw new Error(`not a stage signature: ${signature.slice(0, 80)}`);
    return path.join(this.directory, signature.slice(0, 2), `${signature}.json`);
  }

  /** The list of the signatures a session stored; undefined for what is not a run id (never a path). */
  #listFile(sessionId: string): string | undefined {
    return isValidRunId(sessionId) ? path.join(this.directory, bySessionFolder, `${sessionId}.txt`) : undefined;
  }

  /** The port one run uses: what it stores names its session (`sessionId`); `runtime` runs its local models. */
  forRun(sessionId: string, runtime: StageCacheRuntime): StageCachePort {
    return {
      get: (key) => this.get(key, runtime),
      put: (key, record) => this.put(key, runtime, sessionId, record),
    };
  }

  /** The stored record of a stage with this key, or undefined (none, unreadable, or its session is gone). */
  async get(key: StageCacheKey, runtime: StageCacheRuntime): Promise<StageRecord | undefined> {
    const signature = await stageSignature(key, runtime);
    const file = this.#file(signature);
    const text = await readText(file);
    if (text === undefined) return undefined;
    const entry = parseEntry(text, signature);
    if (entry && (await this.#sessions.has(entry.sessionId))) return entry.record;
    await rm(file, { force: true }).catch(() => undefined);
    return undefined;
  }

  /**
   * Stores a completed stage under its key. The write is atomic (a temp file renamed into place) but not
   * fsynced: an entry lost to a power cut costs one recomputation, and a torn one is dropped when read.
   * The signature goes on the session's list first, so that no entry is ever missing from its list.
   */
  async put(key: StageCacheKey, runtime: StageCacheRuntime, sessionId: string, record: StageRecord): Promise<void> {
    const list = this.#listFile(sessionId);
    if (record.status !== "completed" || !list) return;
    const signature = await stageSignature(key, runtime);
    const file = this.#file(signature);
    const entry: Entry = { version: 1, signature, sessionId, stageId: record.stageId, record };
    await mkdir(path.dirname(list), { recursive: true });
    // One short line in append mode: runs storing at once never interleave within it.
    await appendFile(list, `${signature}\n`, { encoding: "utf8", mode: 0o600 });
    await mkdir(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}${tempSuffix}`;
    try {
      await writeFile(temp, JSON.stringify(entry), { encoding: "utf8", mode: 0o600 });
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * Removes the entries a session stored (those another session has stored since under the same
   * signature stay) and its list; answers how many entries went. Called when the session is deleted.
   */
  async forget(sessionId: string): Promise<number> {
    const list = this.#listFile(sessionId);
    if (list === undefined) return 0;
    const text = await readText(list);
    if (text === undefined) return 0;
    let removed = 0;
    for (const signature of new Set(text.split("\n").filter((line) => signaturePattern.test(line)))) {
      const file = this.#file(signature);
      const stored = await readText(file);
      if (stored === undefined) continue;
      const entry = parseEntry(stored, signature);
      if (entry && entry.sessionId !== sessionId) continue;
      await rm(file, { force: true });
      removed++;
    }
    await rm(list, { force: true });
    return removed;
  }

  /**
   * Removes every entry that is unusable or whose session is gone, and the lists of sessions that are
   * gone: a walk of the whole folder, for `project-llm sessions reindex`. Answers what it removed and kept.
   */
  async prune(): Promise<{ removed: number; kept: number }> {
    let removed = 0;
    let kept = 0;
    const names = (folder: string) => readdir(folder).catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? [] : Promise.reject(error)));
    for (const bucket of (await names(this.directory)).filter((name) => bucketPattern.test(name))) {
      // Temp files (a write in progress, or one a crash left) are not entries: only `<sha256>.json` is read.
      for (const name of (await names(path.join(this.directory, bucket))).filter((name) => entryNamePattern.test(name))) {
        const file = path.join(this.directory, bucket, name);
        const text = await readText(file);
        if (text === undefined) continue;
        const entry = parseEntry(text, name.slice(0, 64));
        if (entry && (await this.#sessions.has(entry.sessionId))) kept++;
        else {
          await rm(file, { force: true });
          removed++;
        }
      }
    }
    const lists = path.join(this.directory, bySessionFolder);
    for (const name of await names(lists)) {
      const id = name.endsWith(".txt") ? name.slice(0, -4) : "";
      if (!isValidRunId(id) || !(await this.#sessions.has(id))) await rm(path.join(lists, name), { force: true });
    }
    return { removed, kept };
  }
}
