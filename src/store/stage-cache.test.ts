import { readdir, readFile, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StageCacheKey } from "../engine/index.js";
import { tempDir } from "../testing/fixtures.js";
import { makeSession, makeStageRecord } from "./session-store.conformance.js";
import { FileSessionStore } from "./file-session-store.js";
import { FileStageCache, stageSignature } from "./stage-cache.js";

let dir: string;
let cleanup: () => Promise<void>;
let modelFile: string;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("project-llm-stage-cache-"));
  modelFile = path.join(dir, "tiny.gguf");
  await writeFile(modelFile, "GGUF weights");
});
afterEach(() => cleanup());

const keyOf = (model: StageCacheKey["calls"][number]["model"], prompt = "Once upon a time"): StageCacheKey => ({
  version: 1,
  type: "single",
  outputMode: "answer_only",
  input: prompt,
  inputs: [],
  prompt,
  calls: [{ part: "model", name: "tiny", model, params: { temperature: 0, max_tokens: 8 } }],
});
const local = () => ({ name: "tiny", path: modelFile, load: { context_size: 512, gpu_layers: 0 as const, threads: 1 } });

async function open() {
  const sessions = new FileSessionStore(path.join(dir, "sessions"));
  const cache = new FileStageCache(path.join(dir, "sessions", "stage-cache"), sessions);
  const session = makeSession();
  await sessions.create(session);
  return { sessions, cache, session };
}

describe("FileStageCache", () => {
  it("finds a stored stage by its key, after a restart too, in a file named by its signature inside its folder", async () => {
    const { sessions, cache, session } = await open();
    const record = makeStageRecord("draft", "there was a cat");
    await cache.forRun(session.id).put(keyOf(local()), record);
    expect(await cache.get(keyOf(local()))).toEqual(record);
    expect(await cache.get(keyOf(local(), "Another prompt"))).toBeUndefined();
    await sessions.flush();

    const reopened = new FileStageCache(path.join(dir, "sessions", "stage-cache"), new FileSessionStore(path.join(dir, "sessions")));
    expect(await reopened.get(keyOf(local()))).toEqual(record);
    const signature = await stageSignature(keyOf(local()));
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    const entry = JSON.parse(await readFile(path.join(dir, "sessions", "stage-cache", signature.slice(0, 2), `${signature}.json`), "utf8"));
    expect(entry).toMatchObject({ signature, sessionId: session.id, stageId: "draft" });
  });

  it("keys a model file on its size and modification time", async () => {
    const before = await stageSignature(keyOf(local()));
    expect(await stageSignature(keyOf(local()))).toBe(before);
    await utimes(modelFile, new Date(), new Date(Date.now() + 60_000));
    const touched = await stageSignature(keyOf(local()));
    expect(touched).not.toBe(before);
    await writeFile(modelFile, "GGUF other weights");
    expect(await stageSignature(keyOf(local()))).not.toBe(touched);
    // Key order does not matter: the JSON is canonical.
    const reordered = { ...keyOf(local()), calls: [{ params: { max_tokens: 8, temperature: 0 }, model: local(), name: "tiny", part: "model" as const }] };
    expect(await stageSignature(reordered)).toBe(await stageSignature(keyOf(local())));
  });

  it("keys a remote model on its server and name, not on its key's variable", async () => {
    const remote = (baseUrl: string, model: string, apiKeyEnv?: string) => ({ ...local(), path: "", remote: { baseUrl, model, ...(apiKeyEnv ? { apiKeyEnv } : {}) } });
    const base = await stageSignature(keyOf(remote("http://gpu-box:8000/v1", "llama")));
    expect(await stageSignature(keyOf(remote("http://gpu-box:8000/v1", "llama", "GPU_KEY")))).toBe(base);
    expect(await stageSignature(keyOf(remote("http://other:8000/v1", "llama")))).not.toBe(base);
    expect(await stageSignature(keyOf(remote("http://gpu-box:8000/v1", "qwen")))).not.toBe(base);
  });

  it("skips and removes an entry whose session was deleted", async () => {
    const { sessions, cache, session } = await open();
    await cache.forRun(session.id).put(keyOf(local()), makeStageRecord("draft", "there was a cat"));
    await sessions.delete(session.id);
    expect(await cache.get(keyOf(local()))).toBeUndefined();
    const signature = await stageSignature(keyOf(local()));
    expect(await readdir(path.join(dir, "sessions", "stage-cache", signature.slice(0, 2)))).toEqual([]);
  });

  it("skips an entry that is torn, names no run id, or names another signature", async () => {
    const { cache, session } = await open();
    const signature = await stageSignature(keyOf(local()));
    const file = path.join(dir, "sessions", "stage-cache", signature.slice(0, 2), `${signature}.json`);
    const record = makeStageRecord("draft", "there was a cat");
    await cache.forRun(session.id).put(keyOf(local()), record);
    const good = JSON.parse(await readFile(file, "utf8"));
    for (const bad of ["{not json", JSON.stringify({ ...good, sessionId: "../../etc/passwd" }), JSON.stringify({ ...good, signature: "0".repeat(64) })]) {
      await writeFile(file, bad);
      expect(await cache.get(keyOf(local()))).toBeUndefined();
    }
    await writeFile(file, JSON.stringify(good));
    expect(await cache.get(keyOf(local()))).toEqual(record);
  });

  it("misses (rejects, which the engine takes as a miss) when the model file is gone", async () => {
    const { cache } = await open();
    await expect(cache.get(keyOf({ ...local(), path: path.join(dir, "gone.gguf") }))).rejects.toThrow(/ENOENT/);
  });
});
