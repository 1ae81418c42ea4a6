/**
 * Downloads from a real HTTP server on loopback (src/testing/gguf-server.ts) into real folders, one of them
 * a real small disk (a tmpfs) that fills up.
 */
import { execFileSync } from "node:child_process";
import { mkdir, readFile, readdir, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { interruption } from "../common/index.js";
import { startGgufServer, type GgufServer } from "../testing/gguf-server.js";
import { tempDir } from "../testing/fixtures.js";
import { projectError } from "../testing/loopback.js";
import { downloadModel, planDownload, type DownloadProgress } from "./download-model.js";
import { parseModelUri } from "./model-uri.js";

let server: GgufServer;
let folder: string;
let cleanup: () => Promise<void>;
const fast = { retryDelayMs: 5, stallTimeoutMs: 5000 };

beforeAll(async () => {
  server = await startGgufServer();
});
afterAll(async () => server.close());
beforeEach(async () => {
  ({ dir: folder, cleanup } = await tempDir("project-llm-download-"));
  server.behave({ mode: "ok" });
  server.requests.length = 0;
});
afterEach(async () => cleanup());

const env = () => ({ HF_ENDPOINT: server.origin });
async function pull(uri: string, options: { fileName?: string; directory?: string; signal?: AbortSignal; onProgress?: (progress: DownloadProgress) => void; maxRetries?: number } = {}) {
  const plan = await planDownload(parseModelUri(uri), { directory: options.directory ?? folder, fileName: options.fileName, env: env() });
  return downloadModel(plan, { ...fast, env: env(), signal: options.signal, onProgress: options.onProgress, maxRetries: options.maxRetries });
}
const files = async (directory = folder) => (await readdir(directory)).sort();
/** A paced download, aborted with `reason` once `bytes` have arrived. */
function stoppedAfter(bytes: number, reason?: unknown) {
  server.behave({ mode: "ok", bytesPerSecond: 400_000 });
  const stop = new AbortController();
  return pull(`${server.origin}/stories260K.gguf`, {
    signal: stop.signal,
    onProgress: (progress) => {
      if (progress.downloadedBytes > bytes) stop.abort(reason);
    },
  });
}

describe("downloadModel", () => {
  it("downloads a GGUF from an address, reporting bytes of the total, and leaves only the file", async () => {
    const seen: DownloadProgress[] = [];
    const result = await pull(`${server.origin}/files/stories260K.gguf`, { onProgress: (progress) => seen.push(progress) });
    expect(result).toMatchObject({ fileName: "stories260K.gguf", bytes: server.body.length, resumedFromBytes: 0 });
    expect((await readFile(path.join(folder, "stories260K.gguf"))).equals(server.body)).toBe(true);
    expect(await files()).toEqual(["stories260K.gguf"]);
    expect(seen.at(-1)).toMatchObject({ downloadedBytes: server.body.length, totalBytes: server.body.length });
  });

  it("fetches hf:OWNER/REPO/FILE.gguf from the hub's resolve address, under the name given", async () => {
    await pull("hf:karpathy/tinyllamas/stories260K.gguf", { fileName: "tiny.gguf" });
    expect(server.requests.map((request) => request.path)).toEqual(["/karpathy/tinyllamas/resolve/main/stories260K.gguf"]);
    expect(await files()).toEqual(["tiny.gguf"]);
  });

  it("asks the hub's manifest which file hf:OWNER/REPO:QUANT is, as llama.cpp does", async () => {
    const result = await pull("hf:karpathy/tinyllamas-GGUF:F32");
    expect(server.requests[0]).toMatchObject({ path: "/v2/karpathy/tinyllamas-GGUF/manifests/F32", userAgent: "llama-cpp" });
    expect(server.requests[1]!.path).toBe("/karpathy/tinyllamas-GGUF/resolve/main/tinyllamas-F32.gguf");
    expect(result.fileName).toBe("tinyllamas-F32.gguf");
  });

  it("says a quantization the repository does not have is not found", async () => {
    const error = await projectError(pull("hf:karpathy/tinyllamas-GGUF:Q4_K_M"));
    expect(error.code).toBe("download-not-found");
    expect(error.message).toMatch(/no quantization Q4_K_M/);
  });

  it("says a 404 is not found and writes nothing", async () => {
    server.behave({ mode: "not-found" });
    const error = await projectError(pull(`${server.origin}/nowhere.gguf`));
    expect(error).toMatchObject({ code: "download-not-found" });
    expect(error.message).toMatch(/there is no file at http:\/\/127\.0\.0\.1:\d+\/nowhere\.gguf \(127\.0\.0\.1:\d+ answered 404\)/);
    expect(await files()).toEqual([]);
  });

  it("says a 403 may be a gated model and names HF_TOKEN", async () => {
    server.behave({ mode: "forbidden" });
    const error = await projectError(pull(`${server.origin}/gated.gguf`));
    expect(error.code).toBe("download-forbidden");
    expect(error.message).toMatch(/HF_TOKEN/);
  });

  it("resumes a connection that breaks mid-way from where it broke", async () => {
    server.behave({ mode: "break-mid-way", breaks: 2 });
    const seen: DownloadProgress[] = [];
    const result = await pull(`${server.origin}/stories260K.gguf`, { onProgress: (progress) => seen.push(progress) });
    expect((await readFile(result.path)).equals(server.body)).toBe(true);
    expect(seen.at(-1)!.retries).toBe(2);
    // The second and third requests ask from past the bytes already received.
    const starts = server.requests.map((request) => Number(/bytes=(\d+)-/.exec(request.range ?? "")?.[1]));
    expect(starts[0]).toBe(0);
    expect(starts[1]).toBeGreaterThan(0);
    expect(starts[2]).toBeGreaterThan(starts[1]!);
    expect(await files()).toEqual(["stories260K.gguf"]);
  });

  it("gives up on a server that always breaks the connection, with a message, and leaves no file when no byte came", async () => {
    server.behave({ mode: "always-break" });
    const error = await projectError(pull(`${server.origin}/stories260K.gguf`, { maxRetries: 3 }));
    expect(error.code).toBe("download-failed");
    expect(error.message).toMatch(/the connection to 127\.0\.0\.1:\d+ broke 4 times in a row \([^)]*\)$/);
    expect(error.details?.params).toMatchObject({ reason: "retries", attempts: 4, downloaded: 0 });
    expect(server.requests).toHaveLength(4);
    expect(await files()).toEqual([]);
  });

  it("gives up with bytes downloaded: keeps them, says where, and the same download resumes them", async () => {
    await projectError(stoppedAfter(200_000, interruption("stopped by a test")));
    server.behave({ mode: "always-break" });
    const error = await projectError(pull(`${server.origin}/stories260K.gguf`, { maxRetries: 1 }));
    expect(error.code).toBe("download-failed");
    expect(error.message).toMatch(/KiB downloaded are kept in stories260K\.gguf\.download: start the same download again to resume$/);
    expect(await files()).toEqual(["stories260K.gguf.download", "stories260K.gguf.download.json"]);
    server.behave({ mode: "ok" });
    expect((await pull(`${server.origin}/stories260K.gguf`)).resumedFromBytes).toBeGreaterThan(200_000);
  });

  it("stops at the first bytes of a body that is not a GGUF and keeps nothing", async () => {
    server.behave({ mode: "not-gguf" });
    const error = await projectError(pull(`${server.origin}/stories260K.gguf`));
    expect(error.code).toBe("model-not-gguf");
    expect(error.message).toMatch(/is not a GGUF file/);
    expect(await files()).toEqual([]);
  });

  it("refuses a file name with a folder in it (that would leave the models folder), before any request", async () => {
    const outside = await projectError(pull(`${server.origin}/stories260K.gguf`, { fileName: "../escaped.gguf" }));
    expect(outside.details?.params).toMatchObject({ reason: "plain-name", name: "../escaped.gguf" });
    // A name the address gives, once decoded, is checked the same way.
    const encoded = await projectError(pull(`${server.origin}/x/..%2F..%2Fescaped.gguf`));
    expect(encoded.details?.params).toMatchObject({ reason: "plain-name", name: "../../escaped.gguf" });
    expect(server.requests).toEqual([]);
    expect(await files(path.dirname(folder))).not.toContain("escaped.gguf");
  });

  it("shows an address without its query, fragment or user info in every message", async () => {
    const signed = `${server.origin}/signed/stories260K.gguf?X-Amz-Signature=secret-token#part`;
    server.behave({ mode: "not-found" });
    const missing = await projectError(pull(signed));
    server.behave({ mode: "not-gguf" });
    const page = await projectError(pull(signed));
    for (const error of [missing, page]) {
      expect(error.message).toContain(`${server.origin}/signed/stories260K.gguf`);
      expect(JSON.stringify({ message: error.message, details: error.details })).not.toMatch(/secret-token|X-Amz|#part/);
    }
    expect(missing.details?.params).toMatchObject({ url: `${server.origin}/signed/stories260K.gguf` });
    const badName = await projectError(pull(`${server.origin}/x/..%2Fescaped.gguf?token=secret-token`));
    expect(badName.message).toContain(`from ${server.origin}/x/..%2Fescaped.gguf)`);
    expect(badName.message).not.toContain("secret-token");
  });

  it("refuses a file that is already in the folder", async () => {
    await writeFile(path.join(folder, "stories260K.gguf"), "mine");
    const error = await projectError(pull(`${server.origin}/stories260K.gguf`));
    expect(error.code).toBe("conflict");
    expect(await readFile(path.join(folder, "stories260K.gguf"), "utf8")).toBe("mine");
  });

  it("refuses a file larger than the free space before writing anything", async () => {
    server.behave({ mode: "huge" });
    const error = await projectError(pull(`${server.origin}/huge.gguf`));
    expect(error.code).toBe("disk-full");
    expect(error.details?.params).toMatchObject({ reason: "space", needed: 2 ** 50 });
    expect(await files()).toEqual([]);
  });

  it("keeps the partial file of an interrupted download, and the same download resumes it", async () => {
    const error = await projectError(stoppedAfter(200_000, interruption("stopped by a test")));
    expect(error).toMatchObject({ code: "cancelled", details: { interrupted: true } });
    expect(await files()).toEqual(["stories260K.gguf.download", "stories260K.gguf.download.json"]);

    server.behave({ mode: "ok" });
    server.requests.length = 0;
    const result = await pull(`${server.origin}/stories260K.gguf`);
    expect(result.resumedFromBytes).toBeGreaterThan(200_000);
    expect(server.requests[0]!.range).toBe(`bytes=${result.resumedFromBytes}-`);
    expect((await readFile(result.path)).equals(server.body)).toBe(true);
    expect(await files()).toEqual(["stories260K.gguf"]);
  });

  it("deletes the partial file of a download its user cancels", async () => {
    const error = await projectError(stoppedAfter(100_000));
    expect(error).toMatchObject({ code: "cancelled", details: { interrupted: false } });
    expect(await files()).toEqual([]);
  });

  it("starts over when the file on the server is not the one the partial file belongs to", async () => {
    const url = `${server.origin}/stories260K.gguf`;
    await writeFile(path.join(folder, "stories260K.gguf.download"), Buffer.alloc(1000, 7));
    await writeFile(path.join(folder, "stories260K.gguf.download.json"), JSON.stringify({ uri: url, url, size: server.body.length, validator: '"an older version"' }));
    const result = await pull(url);
    expect(server.requests[0]!.range).toBe("bytes=1000-");
    expect(result.resumedFromBytes).toBe(1000);
    expect((await readFile(result.path)).equals(server.body)).toBe(true);
  });
});

interface Disk {
  /** Where it is mounted; undefined when it could not be. */
  directory?: string;
  /** Why it could not be mounted. */
  reason?: string;
  /** Mounts it again read-only. */
  makeReadOnly: () => void;
  remove: () => Promise<void>;
}

/**
 * A real small disk: a tmpfs of `kib` KiB, read-only if asked (mounting needs root, as CI has; a folder of
 * mode 0555 would not do, since it does not stop root). Undefined and a reason when it cannot be made.
 */
async function smallDisk(kib: number, options: { readOnly?: boolean } = {}): Promise<Disk> {
  const directory = path.join(folder, "small-disk");
  await mkdir(directory);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${kib}k${options.readOnly ? ",ro" : ""}`, "tmpfs", directory], { stdio: "pipe" });
  } catch (error) {
    return { reason: `cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})`, makeReadOnly: () => undefined, remove: async () => undefined };
  }
  return {
    directory,
    makeReadOnly: () => execFileSync("mount", ["-o", "remount,ro", directory], { stdio: "pipe" }),
    remove: async () => {
      execFileSync("umount", [directory]);
      await rmdir(directory);
    },
  };
}

describe("downloadModel on a small disk", () => {
  it("refuses, before writing, a file larger than the free space of a real disk", async (context) => {
    const disk = await smallDisk(512);
    if (!disk.directory) return context.skip(disk.reason);
    try {
      const error = await projectError(pull(`${server.origin}/stories260K.gguf`, { directory: disk.directory }));
      expect(error.code).toBe("disk-full");
      expect(error.details?.params).toMatchObject({ reason: "space", needed: server.body.length });
      expect(await files(disk.directory)).toEqual([]);
    } finally {
      await disk.remove();
    }
  });

  it("ends a write that fills the disk with a message, and removes what it wrote", async (context) => {
    // No Content-Length: the size is unknown until the disk is full.
    server.behave({ mode: "no-length" });
    const disk = await smallDisk(512);
    if (!disk.directory) return context.skip(disk.reason);
    try {
      const error = await projectError(pull(`${server.origin}/stories260K.gguf`, { directory: disk.directory }));
      expect(error.code).toBe("disk-full");
      expect(error.message).toMatch(/filled up while writing stories260K\.gguf; the partial file was removed/);
      expect(await files(disk.directory)).toEqual([]);
    } finally {
      await disk.remove();
    }
  });
});

describe("downloadModel into a folder it cannot write", () => {
  it("refuses a read-only models folder (or one to be made on a read-only disk) in the plan, before any request", async (context) => {
    const disk = await smallDisk(2048, { readOnly: true });
    if (!disk.directory) return context.skip(disk.reason);
    try {
      for (const directory of [disk.directory, path.join(disk.directory, "models")]) {
        const error = await projectError(pull(`${server.origin}/stories260K.gguf`, { directory }));
        expect(error.code).toBe("folder-not-writable");
        expect(error.details?.params).toEqual({ reason: "read-only", folder: directory });
        expect(error.message).toBe(`the models folder ${directory} is on a read-only file system (mounted read-only?): make it writable to download into it, or choose another models folder`);
      }
      expect(server.requests).toEqual([]);
      expect(await files(disk.directory)).toEqual([]);
    } finally {
      await disk.remove();
    }
  });

  it("ends with the same error when the folder turns read-only after the plan", async (context) => {
    const disk = await smallDisk(2048);
    if (!disk.directory) return context.skip(disk.reason);
    try {
      const plan = await planDownload(parseModelUri(`${server.origin}/stories260K.gguf`), { directory: disk.directory });
      disk.makeReadOnly();
      const error = await projectError(downloadModel(plan, fast));
      expect(error).toMatchObject({ code: "folder-not-writable", details: { params: { reason: "read-only", folder: disk.directory } } });
      expect(await files(disk.directory)).toEqual([]);
    } finally {
      await disk.remove();
    }
  });
});
