/**
 * The stage cache on disk: one small JSON file per signature, `<folder>/<2 hex>/<sha256>.json`, holding the
 * completed stage's record and the session it was computed in. A lookup reads one file named by the
 * signature: nothing scans the sessions, and the folder survives a restart. With 100,000 sessions of a few
 * stages each the entries spread over 256 sub-folders of a few thousand files.
 *
 * An entry whose session was deleted is found dangling at its next lookup (the session store answers
 * `has` from its index), removed and skipped: deleting a session takes its outputs out of the cache too.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import stringify from "fast-json-stable-stringify";
import { z } from "zod";
import { stageRecordSchema, type ResolvedModel, type StageCacheKey, type StageCachePort, type StageRecord } from "../engine/index.js";
import { tempSuffix } from "../common/index.js";
import { isValidRunId } from "./session.js";
import type { SessionStore } from "./session-store.js";

const signaturePattern = /^[0-9a-f]{64}$/;

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
 * What stands for a model in a signature: a local file by its path, size and modification time (a file
 * replaced or re-downloaded in place changes them); a remote model by its server and its name there.
 */
async function modelIdentity(model: ResolvedModel): Promise<Record<string, unknown>> {
  if (model.remote) return { remote: { baseUrl: model.remote.baseUrl, model: model.remote.model }, load: model.load };
  const facts = await stat(model.path);
  return { path: model.path, size: facts.size, mtimeMs: facts.mtimeMs, load: model.load };
}

/**
 * The signature of a stage: the sha256 of the canonical JSON (keys sorted) of its key, with each model
 * named by its identity (see `modelIdentity`). Rejects when a model file cannot be read (never cached).
 */
export async function stageSignature(key: StageCacheKey): Promise<string> {
  const calls = await Promise.all(key.calls.map(async ({ model, ...call }) => ({ ...call, model: await modelIdentity(model) })));
  return createHash("sha256").update(stringify({ ...key, calls })).digest("hex");
}

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

  /** The port one run uses: what it stores names its session (`sessionId`). */
  forRun(sessionId: string): StageCachePort {
    return {
      get: (key) => this.get(key),
      put: (key, record) => this.put(key, sessionId, record),
    };
  }

  /** The stored record of a stage with this key, or undefined (none, unreadable, or its session is gone). */
  async get(key: StageCacheKey): Promise<StageRecord | undefined> {
    const signature = await stageSignature(key);
    const entry = await this.#read(signature);
    return entry?.record;
  }

  async #read(signature: string): Promise<Entry | undefined> {
    const file = this.#file(signature);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return undefined;
    }
    let entry: Entry | undefined;
    try {
      const parsed = entrySchema.safeParse(JSON.parse(text));
      if (parsed.success && parsed.data.signature === signature && isValidRunId(parsed.data.sessionId) && parsed.data.record.status === "completed") entry = parsed.data;
    } catch {
      // Not JSON (a torn write after a power cut): dropped below like any unusable entry.
    }
    if (entry && (await this.#sessions.has(entry.sessionId))) return entry;
    await rm(file, { force: true }).catch(() => undefined);
    return undefined;
  }

  /**
   * Stores a completed stage under its key. The write is atomic (a temp file renamed into place) but not
   * fsynced: an entry lost to a power cut costs one recomputation, and a torn one is dropped when read.
   */
  async put(key: StageCacheKey, sessionId: string, record: StageRecord): Promise<void> {
    if (record.status !== "completed" || !isValidRunId(sessionId)) return;
    const signature = await stageSignature(key);
    const file = this.#file(signature);
    const entry: Entry = { version: 1, signature, sessionId, stageId: record.stageId, record };
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
}
