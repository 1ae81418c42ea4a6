/**
 * Downloads a model file into the models folder so that a name there only ever holds a whole GGUF file:
 * the bytes go to `NAME.download` beside it (with `NAME.download.json`, what it is a part of), and only a
 * file that is complete and starts with a GGUF header is renamed to `NAME`.
 *
 * Written here rather than with node-llama-cpp's `createModelDownloader` (ipull underneath), which was
 * tried first, against the tests' loopback server: a disk that fills up leaves the partial file under the
 * final name and raises unhandled promise rejections (which end a plain Node process such as the CLI); a
 * server that keeps breaking the connection is retried 150 times, up to 5 s apart, with no way to set a
 * bound through node-llama-cpp; and it has no check of free space first. What it does well is reused:
 * the URI forms and the hub's calls (see model-uri.ts).
 */
import { constants } from "node:fs";
import { access, lstat, mkdir, open, readFile, rename, rm, stat, statfs, writeFile, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { ProjectLlmError, isInterruption, mergeSignals, syncDirectory } from "../common/index.js";
import { formatBytes } from "../common/format.js";
import { checkGgufHeader, ggufHeaderProblem, modelPath, type Environment } from "../config/index.js";
import { checkModelFileName } from "./file-name.js";
import { causeOf, displayAddress, forbidden, huggingFaceHeaders, isLoopbackHost, resolveModelSource, statusError, type ModelSource } from "./model-uri.js";

/** What a download will do, known before any byte of the model is fetched. */
export interface DownloadPlan {
  /** The URI as given, normalised. */
  uri: string;
  /** The address of the bytes. */
  url: string;
  /** The file's name in the models folder. */
  fileName: string;
  directory: string;
  /** `directory/fileName`: written only once the file is whole and a GGUF. */
  path: string;
  /** Where the bytes go meanwhile. */
  partialPath: string;
}

export interface DownloadProgress {
  /** Bytes of the file on disk so far (including those of an earlier, interrupted download). */
  downloadedBytes: number;
  /** The file's size; undefined while the server has not said. */
  totalBytes?: number;
  /** Over the last few seconds. */
  bytesPerSecond: number;
  /** Time left at that speed; undefined when the size or the speed is unknown. */
  etaMs?: number;
  /** Bytes already there when this download started (an interrupted one resumed). */
  resumedFromBytes: number;
  /** Connections that broke and were resumed. */
  retries: number;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /** Called a few times a second while bytes arrive, and once at the end. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Connections in a row that may break without bringing a byte before the download gives up (default 5). */
  maxRetries?: number;
  /** The first wait before a retry; it doubles each time, up to 10 s (default 500 ms). */
  retryDelayMs?: number;
  /** A connection that brings nothing for this long is broken off and resumed (default 30 s). */
  stallTimeoutMs?: number;
  env?: Environment;
}

export interface DownloadResult {
  fileName: string;
  path: string;
  bytes: number;
  resumedFromBytes: number;
}

/** What `NAME.download.json` holds: the partial file is resumed only for the same address and file. */
interface PartialRecord {
  uri: string;
  url: string;
  size?: number;
  /** The ETag or Last-Modified the bytes so far came with; sent as If-Range when resuming. */
  validator?: string;
}

export const partialSuffix = ".download";
const recordPath = (plan: DownloadPlan) => `${plan.partialPath}.json`;
const progressIntervalMs = 200;
const writeBatchBytes = 1024 * 1024;

/**
 * Resolves a source to a plan: the address of its bytes and the file it will make. The name is `fileName`
 * when given, else the file's own name; either must be a plain `.gguf` name, and no file may have it yet.
 * A models folder that cannot be written is refused first, before any request.
 */
export async function planDownload(source: ModelSource, options: { directory: string; fileName?: string; env?: Environment; signal?: AbortSignal }): Promise<DownloadPlan> {
  if (options.fileName !== undefined) checkModelFileName(options.fileName);
  const directory = path.resolve(options.directory);
  await checkWritable(directory);
  const resolved = await resolveModelSource(source, { env: options.env, signal: options.signal });
  const fileName = options.fileName ?? checkModelFileName(resolved.remoteName, `the file's own name (from ${displayAddress(source.uri)}) is not usable:`);
  const target = modelPath(directory, fileName);
  // checkModelFileName already refuses paths; this is the last word on staying inside the folder.
  if (target !== path.join(directory, fileName)) throw new ProjectLlmError("model-outside-directory", `"${fileName}" would leave the models folder ${directory}`);
  await refuseExisting(target, fileName, directory);
  return { uri: source.uri, url: resolved.url, fileName, directory, path: target, partialPath: `${target}${partialSuffix}` };
}

/**
 * Refuses a models folder this process cannot write: checked on the folder, or on the nearest folder above
 * it that exists when the download is to create it.
 */
async function checkWritable(directory: string): Promise<void> {
  let existing = directory;
  while (!(await stat(existing).then(() => true, () => false))) {
    const parent = path.dirname(existing);
    if (parent === existing) return;
    existing = parent;
  }
  try {
    await access(existing, constants.W_OK);
  } catch (error) {
    throw notWritable(error, directory) ?? error;
  }
}

/** The error of a write the file system refused (read-only, or no permission); undefined for any other error. */
function notWritable(error: unknown, folder: string): ProjectLlmError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EROFS") {
    return new ProjectLlmError("folder-not-writable", `the models folder ${folder} is on a read-only file system (mounted read-only?): make it writable to download into it, or choose another models folder`, {
      cause: error,
      details: { params: { reason: "read-only", folder } },
    });
  }
  if (code === "EACCES" || code === "EPERM") {
    return new ProjectLlmError("folder-not-writable", `no permission to write in the models folder ${folder}: give this user write access to it, or choose another models folder`, {
      cause: error,
      details: { params: { reason: "permission", folder } },
    });
  }
  return undefined;
}

async function refuseExisting(target: string, fileName: string, directory: string): Promise<void> {
  const existing = await lstat(target).catch(() => undefined);
  if (existing) {
    throw new ProjectLlmError("conflict", `${fileName} is already in ${directory}: add it to models.yaml as it is, or give the download another file name`, {
      details: { params: { reason: "file-exists", file: fileName } },
    });
  }
}

/** A retry-worthy failure of one connection (it broke, stalled, or the server answered 5xx or 429). */
class ConnectionBroke extends Error {}

/**
 * Downloads a plan's file. Resumes a partial file left by an earlier download of the same address (with
 * If-Range, so a file changed on the server starts over); checks free space as soon as the size is known;
 * resumes a broken connection, giving up after `maxRetries` breaks in a row that brought nothing.
 *
 * Leaves nothing under the final name unless it succeeds. On the way out: a download cancelled by its
 * user deletes its partial file; one interrupted (the signal's reason is an `interruption()`: Ctrl+C, the
 * server stopping) or given up after retries keeps it for a resume, when it holds bytes to resume; a full
 * disk or a file that is not a GGUF deletes it. Whatever the failure, an empty partial file is not kept.
 * A write the file system refuses ends it with `folder-not-writable`.
 */
export async function downloadModel(plan: DownloadPlan, options: DownloadOptions = {}): Promise<DownloadResult> {
  try {
    return await transfer(plan, options);
  } catch (error) {
    await discardEmptyPartial(plan);
    throw notWritable(error, plan.directory) ?? error;
  }
}

/** Removes a partial file with nothing in it to resume (and its record), so that no file is left unsaid. */
async function discardEmptyPartial(plan: DownloadPlan): Promise<void> {
  const size = await stat(plan.partialPath).then(
    (info) => info.size,
    () => 0,
  );
  // The error that ended the download is the one to tell: a folder that refuses this too says so there.
  if (size === 0) await discardPartial(plan).catch(() => undefined);
}

async function transfer(plan: DownloadPlan, options: DownloadOptions): Promise<DownloadResult> {
  const { signal, onProgress } = options;
  const maxRetries = options.maxRetries ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
  const host = new URL(plan.url).host;
  await mkdir(plan.directory, { recursive: true });
  await refuseExisting(plan.path, plan.fileName, plan.directory);

  let { offset, record } = await readPartial(plan);
  const resumedFromBytes = offset;
  let total = record?.size;
  let retries = 0;
  let breaksInARow = 0;
  const meter = new SpeedMeter();
  let lastReport = 0;
  const report = (downloadedBytes: number, force = false) => {
    const now = Date.now();
    if (!onProgress || (!force && now - lastReport < progressIntervalMs)) return;
    lastReport = now;
    meter.add(now, downloadedBytes);
    const bytesPerSecond = meter.bytesPerSecond();
    const etaMs = total !== undefined && bytesPerSecond > 0 ? ((total - downloadedBytes) / bytesPerSecond) * 1000 : undefined;
    onProgress({ downloadedBytes, totalBytes: total, bytesPerSecond, etaMs, resumedFromBytes, retries });
  };
  const cancelled = async (): Promise<never> => {
    if (!isInterruption(signal?.reason)) await discardPartial(plan);
    throw new ProjectLlmError("cancelled", isInterruption(signal?.reason) ? `the download of ${plan.fileName} was interrupted; start it again to resume` : `the download of ${plan.fileName} was cancelled`, {
      details: { interrupted: isInterruption(signal?.reason) },
    });
  };

  report(offset, true);
  for (;;) {
    if (signal?.aborted) return cancelled();
    const attemptStart = offset;
    const stall = new AbortController();
    const merged = mergeSignals(signal, stall.signal);
    let stallTimer: NodeJS.Timeout | undefined;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => stall.abort(new ConnectionBroke(`no data for ${Math.round(stallTimeoutMs / 1000)} s`)), stallTimeoutMs);
    };
    try {
      armStall();
      const headers: Record<string, string> = { range: `bytes=${offset}-`, "accept-encoding": "identity", "user-agent": "project-llm", ...huggingFaceHeaders(plan.url, options.env) };
      if (offset > 0 && record?.validator) headers["if-range"] = record.validator;
      let response: Response;
      try {
        response = await fetch(plan.url, { headers, signal: merged.signal, redirect: "follow" });
      } catch (error) {
        throw new ConnectionBroke(causeOf(error), { cause: error });
      }
      // Redirects are followed (the hub sends its files from a CDN), but not down to plain http elsewhere.
      const landed = new URL(response.url || plan.url);
      if (landed.protocol === "http:" && !isLoopbackHost(landed.hostname) && new URL(plan.url).protocol === "https:") {
        await response.body?.cancel();
        throw new ProjectLlmError("usage", `${host} redirected the download to plain http://${landed.host}, which anything on the way can alter; refused`, {
          details: { params: { reason: "plain-http", host: landed.host } },
        });
      }
      const status = response.status;
      if (status === 404 || status === 410) {
        await discardPartial(plan);
        throw new ProjectLlmError("download-not-found", `there is no file at ${displayAddress(plan.url)} (${host} answered ${status}); check the address`, {
          details: { params: { reason: "address", url: displayAddress(plan.url), status } },
        });
      }
      if (status === 401 || status === 403) throw forbidden(host, status);
      if (status === 416) {
        // Asked from past the end: what is on disk is either the whole file or not this file.
        await response.body?.cancel();
        if (offset > 0 && record?.size === offset) break;
        await discardPartial(plan);
        offset = 0;
        record = undefined;
        throw new ConnectionBroke(`${host} answered 416 to a resume`);
      }
      if (status >= 500 || status === 429 || status === 408) {
        await response.body?.cancel();
        throw new ConnectionBroke(`${host} answered ${status}`);
      }
      if (status !== 200 && status !== 206) {
        await response.body?.cancel();
        throw statusError(host, status);
      }

      // 206 continues from `offset`; 200 is the whole file (ranges unsupported, or the file changed).
      let size: number | undefined;
      if (status === 206) {
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
        if (!range || Number(range[1]) !== offset) {
          await response.body?.cancel();
          throw statusError(host, status);
        }
        size = range[3] === "*" ? undefined : Number(range[3]);
      } else {
        offset = 0;
        const length = response.headers.get("content-length");
        size = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
      }
      if (record?.size !== undefined && size !== undefined && size !== record.size) {
        // The file on the server is not the one the partial file is a part of.
        await response.body?.cancel();
        await discardPartial(plan);
        offset = 0;
        record = undefined;
        throw new ConnectionBroke(`the file at ${host} changed during the download`);
      }
      total = size;
      if (size !== undefined) await checkFreeSpace(plan, size - offset, response);
      record = { uri: plan.uri, url: plan.url, size, validator: strongValidator(response) };
      await writeFile(recordPath(plan), JSON.stringify(record));

      const handle = await open(plan.partialPath, offset > 0 ? "r+" : "w");
      const cursor = { offset };
      try {
        await receive(response, handle, cursor, {
          checkHeader: offset === 0,
          onBytes: (downloaded) => {
            armStall();
            report(downloaded);
          },
          fail: async (error) => {
            await handle.close().catch(() => undefined);
            await discardPartial(plan);
            throw error;
          },
          plan,
          host,
        });
        await handle.sync();
      } finally {
        // Bytes written before a break count: the resume asks from there.
        offset = cursor.offset;
        await handle.close().catch(() => undefined);
      }
      if (size !== undefined && offset < size) throw new ConnectionBroke(`${host} closed the connection at ${offset} of ${size} bytes`);
      if (size !== undefined && offset > size) throw statusError(host, status);
      break;
    } catch (error) {
      if (signal?.aborted) return cancelled();
      const broke = error instanceof ConnectionBroke ? error : stall.signal.aborted ? (stall.signal.reason as ConnectionBroke) : undefined;
      if (!broke) throw error;
      retries++;
      breaksInARow = offset > attemptStart ? 1 : breaksInARow + 1;
      if (breaksInARow > maxRetries) {
        const kept = offset > 0 ? `; the ${formatBytes(offset)} downloaded are kept in ${path.basename(plan.partialPath)}: start the same download again to resume` : "";
        throw new ProjectLlmError("download-failed", `the connection to ${host} broke ${breaksInARow} times in a row (${broke.message})${kept}`, {
          cause: broke,
          details: { params: { reason: "retries", host, attempts: breaksInARow, downloaded: offset } },
        });
      }
      // A cancel during the wait ends it early (rejects); the loop's first line then says cancelled.
      await delay(Math.min(10_000, retryDelayMs * 2 ** (breaksInARow - 1)), undefined, { signal }).catch(() => undefined);
    } finally {
      clearTimeout(stallTimer);
      merged.dispose();
    }
  }

  report(offset, true);
  const problem = await checkGgufHeader(plan.partialPath);
  if (problem) {
    await discardPartial(plan);
    throw notGguf(plan, problem);
  }
  await refuseExisting(plan.path, plan.fileName, plan.directory);
  await rename(plan.partialPath, plan.path);
  await rm(recordPath(plan), { force: true });
  await syncDirectory(plan.directory);
  return { fileName: plan.fileName, path: plan.path, bytes: offset, resumedFromBytes };
}

/** Streams a response's body into the partial file from `cursor.offset`, moving it on as bytes are written. */
async function receive(
  response: Response,
  handle: FileHandle,
  cursor: { offset: number },
  context: { checkHeader: boolean; onBytes: (downloaded: number) => void; fail: (error: Error) => Promise<never>; plan: DownloadPlan; host: string },
): Promise<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let headerChecked = !context.checkHeader;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const data = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    try {
      for (let written = 0; written < data.length; ) {
        const { bytesWritten } = await handle.write(data, written, data.length - written, cursor.offset + written);
        written += bytesWritten;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOSPC") {
        await context.fail(
          new ProjectLlmError("disk-full", `the disk of ${context.plan.directory} filled up while writing ${context.plan.fileName}; the partial file was removed: free some space and start again`, {
            cause: error,
            details: { params: { reason: "write", file: context.plan.fileName, folder: context.plan.directory } },
          }),
        );
      }
      throw error;
    }
    cursor.offset += data.length;
  };
  if (!response.body) return;
  const reader = response.body.getReader();
  for (;;) {
    let read: Awaited<ReturnType<typeof reader.read>>;
    try {
      read = await reader.read();
    } catch (error) {
      // What arrived before the break is kept: the resume asks from there.
      await flush();
      throw new ConnectionBroke(causeOf(error), { cause: error });
    }
    if (read.done) break;
    const chunk = read.value;
    pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    pendingBytes += chunk.byteLength;
    // Fail fast on a page that is not a model (a sign-in page, an error page): no need to fetch gigabytes of it.
    if (!headerChecked && pendingBytes >= 8) {
      headerChecked = true;
      const problem = ggufHeaderProblem(Buffer.concat(pending, pendingBytes).subarray(0, 8));
      if (problem) {
        await reader.cancel().catch(() => undefined);
        await context.fail(notGguf(context.plan, problem));
      }
    }
    if (pendingBytes >= writeBatchBytes) await flush();
    context.onBytes(cursor.offset + pendingBytes);
  }
  await flush();
}

function notGguf(plan: DownloadPlan, problem: { message: string }): ProjectLlmError {
  return new ProjectLlmError("model-not-gguf", `${displayAddress(plan.url)} ${problem.message}: it is not a model file (a page that asks to sign in, or the wrong address?)`, {
    details: { params: { reason: "download", url: displayAddress(plan.url) } },
  });
}

/** Refuses a download that would not fit, before any byte is written. */
async function checkFreeSpace(plan: DownloadPlan, needed: number, response: Response): Promise<void> {
  const stats = await statfs(plan.directory);
  const free = stats.bavail * stats.bsize;
  if (needed <= free) return;
  await response.body?.cancel();
  throw new ProjectLlmError("disk-full", `${plan.fileName} needs ${formatBytes(needed)} but ${plan.directory} has ${formatBytes(free)} free: free some space, or choose another models folder`, {
    details: { params: { reason: "space", file: plan.fileName, folder: plan.directory, needed, free } },
  });
}

/** A validator If-Range may carry: a strong ETag, else Last-Modified. */
function strongValidator(response: Response): string | undefined {
  const etag = response.headers.get("etag");
  if (etag && !etag.startsWith("W/")) return etag;
  return response.headers.get("last-modified") ?? undefined;
}

/** The partial file of an earlier download of the same address, or nothing (a stale one is removed). */
async function readPartial(plan: DownloadPlan): Promise<{ offset: number; record?: PartialRecord }> {
  const record = await readFile(recordPath(plan), "utf8")
    .then((text) => JSON.parse(text) as PartialRecord)
    .catch(() => undefined);
  const size = await stat(plan.partialPath).then(
    (info) => (info.isFile() ? info.size : undefined),
    () => undefined,
  );
  if (record && record.url === plan.url && size !== undefined && (record.size === undefined || size <= record.size)) return { offset: size, record };
  await discardPartial(plan);
  return { offset: 0 };
}

async function discardPartial(plan: DownloadPlan): Promise<void> {
  await rm(plan.partialPath, { force: true });
  await rm(recordPath(plan), { force: true });
}

/** Bytes a second over the last five seconds of samples. */
class SpeedMeter {
  readonly #samples: Array<{ time: number; bytes: number }> = [];

  add(time: number, bytes: number): void {
    this.#samples.push({ time, bytes });
    while (this.#samples.length > 2 && time - this.#samples[0]!.time > 5000) this.#samples.shift();
  }

  bytesPerSecond(): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.time <= first.time) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.time - first.time);
  }
}
