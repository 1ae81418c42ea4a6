import { readdir, readFile, rename, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StageCacheKey } from "../engine/index.js";
import { tempDir } from "../testing/fixtures.js";
import { makeSession, makeStageRecord } from "./session-store.conformance.js";
import { FileSessionStore } from "./file-session-store.js";
import { FileStageCache, installedVersion, stageSignature, type StageCacheRuntime } from "./stage-cache.js";

let dir: string;
let cleanup: () => Promise<void>;
let modelFile: string;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("project-llm-stage-cache-"));
  modelFile = path.join(dir, "tiny.gguf");
  await writeFile(modelFile, "GGUF weights");
});
afterEach(() => cleanup());

const runtime: StageCacheRuntime = { gpu: false, nodeLlamaCpp: "3.22.1" };
const keyOf = (model: StageCacheKey["calls"][number]["model"], prompt = "Once upon a time"): StageCacheKey => ({
  version: 2,
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
    await cache.forRun(session.id, runtime).put(keyOf(local()), record);
    expect(await cache.get(keyOf(local()), runtime)).toEqual(record);
    expect(await cache.get(keyOf(local(), "Another prompt"), runtime)).toBeUndefined();
    await sessions.flush();

    const reopened = new FileStageCache(path.join(dir, "sessions", "stage-cache"), new FileSessionStore(path.join(dir, "sessions")));
    expect(await reopened.get(keyOf(local()), runtime)).toEqual(record);
    const signature = await stageSignature(keyOf(local()), runtime);
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    const entry = JSON.parse(await readFile(path.join(dir, "sessions", "stage-cache", signature.slice(0, 2), `${signature}.json`), "utf8"));
    expect(entry).toMatchObject({ signature, sessionId: session.id, stageId: "draft" });
  });

  it("keys a model file on its size and modification time", async () => {
    const before = await stageSignature(keyOf(local()), runtime);
    expect(await stageSignature(keyOf(local()), runtime)).toBe(before);
    await utimes(modelFile, new Date(), new Date(Date.now() + 60_000));
    const touched = await stageSignature(keyOf(local()), runtime);
    expect(touched).not.toBe(before);
    await writeFile(modelFile, "GGUF other weights");
    expect(await stageSignature(keyOf(local()), runtime)).not.toBe(touched);
    // Key order does not matter: the JSON is canonical.
    const reordered = { ...keyOf(local()), calls: [{ params: { max_tokens: 8, temperature: 0 }, model: local(), name: "tiny", part: "model" as const }] };
    expect(await stageSignature(reordered, runtime)).toBe(await stageSignature(keyOf(local()), runtime));
  });

  it("misses when the model file is rewritten or replaced with its size and modification time kept (cp -p, rsync -a, a restore)", async () => {
    // A whole second, which utimes sets exactly; the file's times tick with a coarse clock, hence the waits.
    const kept = new Date(1_700_000_000_000);
    await utimes(modelFile, kept, kept);
    const { cache, session } = await open();
    const record = makeStageRecord("draft", "there was a cat");
    await cache.forRun(session.id, runtime).put(keyOf(local()), record);
    expect(await cache.get(keyOf(local()), runtime)).toEqual(record);

    await sleep(20);
    await writeFile(modelFile, "GGUF WEIGHTS");
    await utimes(modelFile, kept, kept);
    expect(await cache.get(keyOf(local()), runtime)).toBeUndefined();

    await cache.forRun(session.id, runtime).put(keyOf(local()), record);
    expect(await cache.get(keyOf(local()), runtime)).toEqual(record);
    await sleep(20);
    const copy = path.join(dir, "copy.gguf");
    await writeFile(copy, "GGUF weighTS");
    await utimes(copy, kept, kept);
    await rename(copy, modelFile);
    expect(await cache.get(keyOf(local()), runtime)).toBeUndefined();
  });

  it("keys a local model on the runtime that runs it (GPU setting, node-llama-cpp's version), and a remote one not", async () => {
    const base = await stageSignature(keyOf(local()), runtime);
    expect(await stageSignature(keyOf(local()), { ...runtime, gpu: "cuda" })).not.toBe(base);
    expect(await stageSignature(keyOf(local()), { ...runtime, nodeLlamaCpp: "3.23.0" })).not.toBe(base);
    const remote = keyOf({ ...local(), path: "", remote: { baseUrl: "http://gpu-box:8000/v1", model: "llama", cache: true } });
    expect(await stageSignature(remote, { ...runtime, gpu: "cuda" })).toBe(await stageSignature(remote, runtime));
    // The key's version is part of what is hashed: a new meaning never finds the old entries.
    expect(await stageSignature({ ...keyOf(local()), version: 3 as 2 }, runtime)).not.toBe(base);
    const installed = JSON.parse(await readFile(path.join(process.cwd(), "node_modules", "node-llama-cpp", "package.json"), "utf8")) as { version: string };
    expect(await installedVersion(path.join(process.cwd(), "src", "store"), "node-llama-cpp")).toBe(installed.version);
    expect(await installedVersion(dir, "no-such-package-here")).toBe("unknown");
  });

  it("keys a remote model on its server and name, not on its key's variable", async () => {
    const remote = (baseUrl: string, model: string, apiKeyEnv?: string) => ({ ...local(), path: "", remote: { baseUrl, model, ...(apiKeyEnv ? { apiKeyEnv } : {}) } });
    const base = await stageSignature(keyOf(remote("http://gpu-box:8000/v1", "llama")), runtime);
    expect(await stageSignature(keyOf(remote("http://gpu-box:8000/v1", "llama", "GPU_KEY")), runtime)).toBe(base);
    expect(await stageSignature(keyOf(remote("http://other:8000/v1", "llama")), runtime)).not.toBe(base);
    expect(await stageSignature(keyOf(remote("http://gpu-box:8000/v1", "qwen")), runtime)).not.toBe(base);
  });

  it("skips and removes an entry whose session was deleted", async () => {
    const { sessions, cache, session } = await open();
    await cache.forRun(session.id, runtime).put(keyOf(local()), makeStageRecord("draft", "there was a cat"));
    await sessions.delete(session.id);
    expect(await cache.get(keyOf(local()), runtime)).toBeUndefined();
    const signature = await stageSignature(keyOf(local()), runtime);
    expect(await readdir(path.join(dir, "sessions", "stage-cache", signature.slice(0, 2)))).toEqual([]);
  });

  it("removes a deleted session's entries by its list, keeping an entry another session stored since", async () => {
    const { sessions, cache, session } = await open();
    const other = makeSession({ id: "20261124-120102-0000aa" });
    await sessions.create(other);
    const records = ["draft", "ending", "shared"].map((id) => makeStageRecord(id, `text of ${id}`));
    await cache.forRun(session.id, runtime).put(keyOf(local(), "draft"), records[0]!);
    await cache.forRun(session.id, runtime).put(keyOf(local(), "ending"), records[1]!);
    await cache.forRun(session.id, runtime).put(keyOf(local(), "shared"), records[2]!);
    await cache.forRun(other.id, runtime).put(keyOf(local(), "shared"), records[2]!);
    const list = path.join(dir, "sessions", "stage-cache", "by-session", `${session.id}.txt`);
    expect((await readFile(list, "utf8")).trim().split("\n")).toHaveLength(3);

    expect(await cache.forget(session.id)).toBe(2);
    const fileOf = async (prompt: string) => {
      const signature = await stageSignature(keyOf(local(), prompt), runtime);
      return path.join(dir, "sessions", "stage-cache", signature.slice(0, 2), `${signature}.json`);
    };
    await expect(readFile(await fileOf("draft"))).rejects.toThrow(/ENOENT/);
    await expect(readFile(await fileOf("ending"))).rejects.toThrow(/ENOENT/);
    await expect(readFile(list)).rejects.toThrow(/ENOENT/);
    expect(JSON.parse(await readFile(await fileOf("shared"), "utf8"))).toMatchObject({ sessionId: other.id });
    expect(await cache.forget(session.id)).toBe(0);
    expect(await cache.forget("../../etc/passwd")).toBe(0);
  });

  it("prunes every entry and list whose session is gone, and keeps the others", async () => {
    const { sessions, cache, session } = await open();
    const other = makeSession({ id: "20261124-120102-0000aa" });
    await sessions.create(other);
    await cache.forRun(session.id, runtime).put(keyOf(local(), "one"), makeStageRecord("draft", "one"));
    await cache.forRun(other.id, runtime).put(keyOf(local(), "two"), makeStageRecord("draft", "two"));
    // A session file removed by hand: its store forgets it, its entries stay until pruned.
    await sessions.delete(session.id);
    expect(await cache.prune()).toEqual({ removed: 1, kept: 1 });
    expect(await readdir(path.join(dir, "sessions", "stage-cache", "by-session"))).toEqual([`${other.id}.txt`]);
    expect(await cache.get(keyOf(local(), "two"), runtime)).toMatchObject({ output: "two" });
    expect(await new FileStageCache(path.join(dir, "nothing-here"), sessions).prune()).toEqual({ removed: 0, kept: 0 });
  });

  it("skips an entry that is torn, names no run id, or names another signature", async () => {
    const { cache, session } = await open();
    const signature = await stageSignature(keyOf(local()), runtime);
    const file = path.join(dir, "sessions", "stage-cache", signature.slice(0, 2), `${signature}.json`);
    const record = makeStageRecord("draft", "there was a cat");
    await cache.forRun(session.id, runtime).put(keyOf(local()), record);
    const good = JSON.parse(await readFile(file, "utf8"));
    for (const bad of ["{not json", JSON.stringify({ ...good, sessionId: "../../etc/passwd" }), JSON.stringify({ ...good, signature: "0".repeat(64) })]) {
      await writeFile(file, bad);
      expect(await cache.get(keyOf(local()), runtime)).toBeUndefined();
    }
    await writeFile(file, JSON.stringify(good));
    expect(await cache.get(keyOf(local()), runtime)).toEqual(record);
  });

  it("misses (rejects, which the engine takes as a miss) when the model file is gone", async () => {
    const { cache } = await open();
    await expect(cache.get(keyOf({ ...local(), path: path.join(dir, "gone.gguf") }), runtime)).rejects.toThrow(/ENOENT/);
  });
});
