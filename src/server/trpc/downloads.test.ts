/**
 * The models router's downloads through `createCaller`: real folders, a real models.yaml, and a real HTTP
 * server on loopback that serves stories260K.gguf or misbehaves (src/testing/gguf-server.ts).
 */
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { TRPCError } from "@trpc/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProjectLlmError } from "../../common/index.js";
import { Studio } from "../../core/index.js";
import { startGgufServer, type GgufServer } from "../../testing/gguf-server.js";
import { tempDir, writeFiles } from "../../testing/fixtures.js";
import { DownloadManager, type DownloadView } from "../downloads.js";
import { RunManager } from "../run-manager.js";
import { localIdentity } from "../auth/index.js";
import { createCallerFactory } from "./init.js";
import { appRouter } from "./router.js";

const modelsYaml = `# the models of the download tests
models_directory: models
models:
  # configured before its file is there
  awaited:
    file: awaited.gguf
`;

let server: GgufServer;
let root: string;
let cleanup: () => Promise<void>;
let studio: Studio;
let downloads: DownloadManager;
const createCaller = createCallerFactory(appRouter);
let caller: ReturnType<typeof createCaller>;
const modelsDir = () => path.join(root, "models");

beforeAll(async () => {
  server = await startGgufServer();
});
afterAll(async () => server.close());
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir("project-llm-downloads-"));
  await writeFiles(root, { "config/models.yaml": modelsYaml, "config/pipeline.yaml": "base_pipeline:\n  stages: []\n" });
  studio = Studio.open({ cwd: root, env: { PROJECT_LLM_CONFIG_DIR: path.join(root, "config"), PROJECT_LLM_SESSIONS_DIR: path.join(root, "sessions") } });
  downloads = new DownloadManager(studio, { env: { HF_ENDPOINT: server.origin }, download: { retryDelayMs: 5, maxRetries: 2 } });
  caller = createCaller({ studio, runs: new RunManager(studio), downloads, identity: localIdentity });
  server.behave({ mode: "ok" });
});
afterEach(async () => {
  await downloads.shutdown();
  await studio.dispose();
  await cleanup();
});

/** Polls the list, as a page does, until the download has ended. */
async function ended(id: string): Promise<DownloadView> {
  for (;;) {
    const view = (await caller.models.downloads()).find((candidate) => candidate.id === id);
    if (!view) throw new Error(`download ${id} is not listed`);
    if (view.status !== "starting" && view.status !== "downloading") return view;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
async function refusal(promise: Promise<unknown>): Promise<{ code: string; appCode?: string; message: string; params?: unknown }> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof TRPCError)) throw new Error(`expected a TRPCError, got ${String(error)}`);
  const cause = ProjectLlmError.isInstance(error.cause) ? error.cause : undefined;
  return { code: error.code, appCode: cause?.code, message: error.message, params: cause?.details?.params };
}
const files = async () => (await readdir(modelsDir()).catch(() => [] as string[])).sort();

describe("models.startDownload", () => {
  it("downloads with progress, then adds the file to models.yaml under a free name, keeping its comments", async () => {
    const started = await caller.models.startDownload({ uri: "hf:karpathy/tinyllamas-GGUF:F32" });
    expect(started).toMatchObject({ status: "starting", address: "hf:karpathy/tinyllamas-GGUF:F32", fileName: null });
    const done = await ended(started.id);
    expect(done).toMatchObject({ status: "done", fileName: "tinyllamas-F32.gguf", downloadedBytes: server.body.length, totalBytes: server.body.length, configuredAs: [], suggestedName: "tinyllamas-F32", error: null });
    expect(await files()).toEqual(["tinyllamas-F32.gguf"]);

    expect(await caller.models.addDownloaded({ id: started.id, name: "tiny" })).toEqual({ name: "tiny", file: "tinyllamas-F32.gguf" });
    const text = await readFile(path.join(root, "config", "models.yaml"), "utf8");
    expect(text).toContain("# the models of the download tests\n");
    expect(text).toContain("  # configured before its file is there\n  awaited:\n");
    expect(text).toMatch(/ {2}# downloaded from hf:karpathy\/tinyllamas-GGUF:F32 on \d{4}-\d{2}-\d{2}\n {2}tiny:\n {4}file: tinyllamas-F32\.gguf\n {4}quantization: F32\n/);
    expect((await studio.loadModels()).config.models.tiny).toMatchObject({ file: "tinyllamas-F32.gguf", quantization: "F32" });
    expect((await ended(started.id)).configuredAs).toEqual(["tiny"]);

    expect(await refusal(caller.models.addDownloaded({ id: started.id, name: "tiny" }))).toMatchObject({ code: "CONFLICT", appCode: "conflict" });
  });

  it("says when models.yaml names the downloaded file already", async () => {
    const started = await caller.models.startDownload({ uri: `${server.origin}/any/stories260K.gguf`, fileName: "awaited.gguf" });
    expect(await ended(started.id)).toMatchObject({ status: "done", configuredAs: ["awaited"], suggestedName: null });
  });

  it("refuses a bad URI or a file name with a folder in it at once, with the code", async () => {
    expect(await refusal(caller.models.startDownload({ uri: "file:///etc/passwd" }))).toMatchObject({ code: "BAD_REQUEST", appCode: "usage" });
    expect(await refusal(caller.models.startDownload({ uri: "http://example.com/m.gguf" }))).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/plain http/) });
    expect(await refusal(caller.models.startDownload({ uri: `${server.origin}/m.gguf`, fileName: "../../escaped.gguf" }))).toMatchObject({
      code: "BAD_REQUEST",
      appCode: "usage",
      params: { reason: "plain-name", name: "../../escaped.gguf" },
    });
    expect(await readdir(root)).not.toContain("escaped.gguf");
  });

  it.each([
    ["a 404", { mode: "not-found" as const }, "download-not-found"],
    ["a server that always breaks the connection", { mode: "always-break" as const }, "download-failed"],
    ["a body that is not a GGUF", { mode: "not-gguf" as const }, "model-not-gguf"],
    ["a file larger than the free space", { mode: "huge" as const }, "disk-full"],
  ])("ends %s as failed with its code and nothing under the final name", async (_, behaviour, code) => {
    server.behave(behaviour);
    const started = await caller.models.startDownload({ uri: `${server.origin}/stories260K.gguf` });
    const view = await ended(started.id);
    expect(view).toMatchObject({ status: "failed", error: { code } });
    expect(view.error!.message.length).toBeGreaterThan(20);
    expect(await files()).not.toContain("stories260K.gguf");
  });

  it("cancels a download and removes its partial file", async () => {
    server.behave({ mode: "ok", bytesPerSecond: 100_000 });
    const started = await caller.models.startDownload({ uri: `${server.origin}/stories260K.gguf` });
    for (let view = started; view.downloadedBytes === 0; view = (await caller.models.downloads())[0]!) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await caller.models.cancelDownload({ id: started.id })).toEqual({ cancelled: true });
    expect(await ended(started.id)).toMatchObject({ status: "cancelled", error: null });
    expect(await files()).toEqual([]);
    expect(await caller.models.cancelDownload({ id: started.id })).toEqual({ cancelled: false });
  });

  it("refuses a second download of the same file, and more than three at once", async () => {
    server.behave({ mode: "ok", bytesPerSecond: 50_000 });
    await caller.models.startDownload({ uri: `${server.origin}/a.gguf`, fileName: "a.gguf" });
    expect(await refusal(caller.models.startDownload({ uri: `${server.origin}/other.gguf`, fileName: "a.gguf" }))).toMatchObject({ code: "CONFLICT", message: "a.gguf is being downloaded already" });
    await caller.models.startDownload({ uri: `${server.origin}/b.gguf` });
    await caller.models.startDownload({ uri: `${server.origin}/c.gguf` });
    expect(await refusal(caller.models.startDownload({ uri: `${server.origin}/d.gguf` }))).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^3 downloads are running already/) });
  });

  it("adds only a finished download", async () => {
    server.behave({ mode: "not-found" });
    const started = await caller.models.startDownload({ uri: `${server.origin}/stories260K.gguf` });
    await ended(started.id);
    expect(await refusal(caller.models.addDownloaded({ id: started.id, name: "x" }))).toMatchObject({ code: "BAD_REQUEST" });
    expect(await refusal(caller.models.addDownloaded({ id: "../../etc", name: "x" }))).toMatchObject({ code: "BAD_REQUEST" });
  });
});

describe("models.retryDownload and models.dismissDownload", () => {
  it("lists an address without its query, and tries a failed download again in its place, from the address as it was given", async () => {
    server.behave({ mode: "not-found" });
    const started = await caller.models.startDownload({ uri: `${server.origin}/signed/stories260K.gguf?token=SECRET123` });
    expect(started.address).toBe(`${server.origin}/signed/stories260K.gguf`);
    expect(await ended(started.id)).toMatchObject({ status: "failed", error: { code: "download-not-found" } });
    expect(JSON.stringify(await caller.models.downloads())).not.toContain("SECRET123");

    server.behave({ mode: "ok" });
    server.requests.length = 0;
    expect(await caller.models.retryDownload({ id: started.id })).toMatchObject({ id: started.id, status: "starting", error: null, endedAt: null });
    expect(await ended(started.id)).toMatchObject({ status: "done", fileName: "stories260K.gguf", error: null });
    expect((await caller.models.downloads()).map((view) => view.id)).toEqual([started.id]);
    expect(server.requests.map((request) => request.query)).toContain("?token=SECRET123");
    expect(await refusal(caller.models.retryDownload({ id: started.id }))).toMatchObject({ code: "BAD_REQUEST", params: { reason: "not-ended" } });
  });

  it("dismisses a download once it has ended, and not before", async () => {
    server.behave({ mode: "ok", bytesPerSecond: 50_000 });
    const started = await caller.models.startDownload({ uri: `${server.origin}/stories260K.gguf` });
    expect(await caller.models.dismissDownload({ id: started.id })).toEqual({ dismissed: false });
    await caller.models.cancelDownload({ id: started.id });
    expect(await ended(started.id)).toMatchObject({ status: "cancelled" });
    expect(await caller.models.dismissDownload({ id: started.id })).toEqual({ dismissed: true });
    expect(await caller.models.downloads()).toEqual([]);
    expect(await refusal(caller.models.retryDownload({ id: started.id }))).toMatchObject({ code: "BAD_REQUEST", params: { reason: "not-ended" } });
  });
});
