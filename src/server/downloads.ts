/**
 * Model downloads started from the studio's pages. They run in the web server's process (a download is
 * network and disk, nothing for the inference worker), a few at once, and are kept in memory with their
 * progress so that any page can show them; a page polls `list` (see the models router for why). Pages get
 * each address as `displayAddress` shows it (a signed address carries its token in its query): the
 * address as given stays here, and a retry names the download by its id.
 */
import { randomBytes } from "node:crypto";
import { ProjectLlmError, errorMessage, interruption } from "../common/index.js";
import { addModelEntry, modelsUsingFile, type Environment } from "../config/index.js";
import type { Studio } from "../core/index.js";
import {
  checkModelFileName,
  displayAddress,
  downloadModel,
  downloadedModelEntry,
  freeModelName,
  modelNameFromFile,
  parseModelUri,
  planDownload,
  type DownloadOptions,
  type DownloadProgress,
  type ModelSource,
} from "../download/index.js";

export type DownloadStatus = "starting" | "downloading" | "done" | "failed" | "cancelled";

/** A download as pages see it. */
export interface DownloadView {
  id: string;
  /** Where it comes from, without the query, fragment or credentials of an address (see `displayAddress`). */
  address: string;
  /** The file's name in the models folder; null until the source is resolved. */
  fileName: string | null;
  status: DownloadStatus;
  downloadedBytes: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  etaMs: number | null;
  resumedFromBytes: number;
  retries: number;
  startedAt: number;
  endedAt: number | null;
  /** Why it failed: a code of ours, the English message and the values it names. */
  error: { code: string; message: string; params: Record<string, string | number> | null } | null;
  /** Once done: the models of models.yaml whose file it is (empty when none). */
  configuredAs: string[];
  /** Once done and not configured: a free model name made from the file's name. */
  suggestedName: string | null;
}

interface Entry {
  view: DownloadView;
  /** The model URI as it was given (an address with its query: never sent to a page). */
  source: ModelSource;
  /** The file name that was asked for, if one was. */
  fileName?: string;
  controller: AbortController;
  task: Promise<void>;
  path?: string;
}

export interface DownloadManagerOptions {
  /** Downloads running at once; more are refused (default 3). */
  maxActive?: number;
  /** Ended downloads kept to show (default 20). */
  keepEnded?: number;
  /** For `hf:` URIs (`HF_ENDPOINT`, `HF_TOKEN`); default the process's environment. */
  env?: Environment;
  /** Retry and stall settings of each download. */
  download?: Pick<DownloadOptions, "maxRetries" | "retryDelayMs" | "stallTimeoutMs">;
}

const active = (view: DownloadView) => view.status === "starting" || view.status === "downloading";

export class DownloadManager {
  readonly #studio: Studio;
  readonly #entries = new Map<string, Entry>();
  readonly #maxActive: number;
  readonly #keepEnded: number;
  readonly #env: Environment | undefined;
  readonly #download: DownloadManagerOptions["download"];
  #stopping = false;

  constructor(studio: Studio, options: DownloadManagerOptions = {}) {
    this.#studio = studio;
    this.#maxActive = options.maxActive ?? 3;
    this.#keepEnded = options.keepEnded ?? 20;
    this.#env = options.env;
    this.#download = options.download;
  }

  /**
   * Starts a download into the models folder; answers at once, before the source is reached. A URI or a
   * file name that is refused, too many downloads at once, or one to the same file already running, are
   * errors here; anything that happens on the network is the download's own `error`.
   */
  async start(input: { uri: string; fileName?: string }): Promise<DownloadView> {
    const source = parseModelUri(input.uri);
    const fileName = input.fileName?.trim() || undefined;
    if (fileName !== undefined) checkModelFileName(fileName);
    const { modelsDirectory } = await this.#studio.loadModels();
    this.#refuseToStart(fileName);
    const view: DownloadView = { ...freshView(), id: randomBytes(6).toString("hex"), address: displayAddress(source.uri), fileName: fileName ?? null };
    return this.#run({ view, source, fileName, controller: new AbortController(), task: Promise.resolve() }, modelsDirectory);
  }

  /**
   * Starts a download that failed or was cancelled again, in its place (the same id), from the address it
   * was given: a partial file it kept is resumed. Refused as a start is, and for a download that is running,
   * done or no longer kept.
   */
  async retry(id: string): Promise<DownloadView> {
    const { modelsDirectory } = await this.#studio.loadModels();
    const entry = this.#entries.get(id);
    if (!entry || (entry.view.status !== "failed" && entry.view.status !== "cancelled")) {
      throw new ProjectLlmError("usage", `no failed or cancelled download ${id}: only a download that ended without its file can be tried again`, { details: { params: { reason: "not-ended" } } });
    }
    this.#refuseToStart(entry.fileName, id);
    Object.assign(entry.view, freshView(), { fileName: entry.fileName ?? null });
    entry.controller = new AbortController();
    delete entry.path;
    return this.#run(entry, modelsDirectory);
  }

  /** Too many downloads at once, or one to the same file, or a server that is stopping: refused before anything starts. */
  #refuseToStart(fileName: string | undefined, except?: string): void {
    if (this.#stopping) throw new ProjectLlmError("unavailable", "the server is stopping; start the download again once it is back", { details: { params: { reason: "stopping" } } });
    const running = [...this.#entries.values()].filter((entry) => active(entry.view));
    if (running.length >= this.#maxActive) {
      throw new ProjectLlmError("conflict", `${running.length} downloads are running already; wait for one to end, or cancel one`, { details: { params: { reason: "busy", count: running.length } } });
    }
    if (fileName !== undefined) this.#refuseSameFile(fileName, except);
  }

  /** Runs the download of `entry` (kept under its id) in the background; answers its view as it starts. */
  #run(entry: Entry, modelsDirectory: string): DownloadView {
    const { view, controller, fileName } = entry;
    this.#entries.set(view.id, entry);
    entry.task = (async () => {
      try {
        const plan = await planDownload(entry.source, { directory: modelsDirectory, fileName, env: this.#env, signal: controller.signal });
        if (fileName === undefined) this.#refuseSameFile(plan.fileName, view.id);
        view.fileName = plan.fileName;
        view.status = "downloading";
        entry.path = plan.path;
        await downloadModel(plan, {
          ...this.#download,
          env: this.#env,
          signal: controller.signal,
          onProgress: (progress: DownloadProgress) => {
            view.downloadedBytes = progress.downloadedBytes;
            view.totalBytes = progress.totalBytes ?? null;
            view.bytesPerSecond = progress.bytesPerSecond;
            view.etaMs = progress.etaMs ?? null;
            view.resumedFromBytes = progress.resumedFromBytes;
            view.retries = progress.retries;
          },
        });
        view.status = "done";
        view.etaMs = 0;
      } catch (error) {
        const cancelled = controller.signal.aborted || (ProjectLlmError.isInstance(error) && error.code === "cancelled");
        view.status = cancelled ? "cancelled" : "failed";
        if (!cancelled) view.error = describe(error);
      } finally {
        view.endedAt = Date.now();
        this.#prune();
      }
    })();
    return { ...view };
  }

  #refuseSameFile(fileName: string, except?: string): void {
    for (const [id, entry] of this.#entries) {
      if (id !== except && active(entry.view) && entry.view.fileName === fileName) {
        throw new ProjectLlmError("conflict", `${fileName} is being downloaded already`, { details: { params: { reason: "same-file", file: fileName } } });
      }
    }
  }

  /** Every download kept, newest first; a finished one says whether models.yaml names its file. */
  async list(): Promise<DownloadView[]> {
    const views = [...this.#entries.values()].map((entry) => ({ ...entry.view })).reverse();
    if (!views.some((view) => view.status === "done")) return views;
    const models = await this.#studio.loadModels();
    const taken = new Set(Object.keys(models.config.models));
    for (const view of views) {
      if (view.status !== "done" || !view.fileName) continue;
      view.configuredAs = modelsUsingFile(models.config, view.fileName);
      view.suggestedName = view.configuredAs.length === 0 ? freeModelName(modelNameFromFile(view.fileName), taken) : null;
    }
    return views;
  }

  /** Cancels a download (its partial file is deleted); false when there is none running by that id. */
  cancel(id: string): boolean {
    const entry = this.#entries.get(id);
    if (!entry || !active(entry.view)) return false;
    entry.controller.abort(new ProjectLlmError("cancelled", "cancelled by its user"));
    return true;
  }

  /** Takes a download that has ended (done, failed or cancelled) off the list; false when there is none by that id. */
  dismiss(id: string): boolean {
    const entry = this.#entries.get(id);
    if (!entry || active(entry.view)) return false;
    return this.#entries.delete(id);
  }

  /** Adds a finished download's file to models.yaml under `name`. */
  async addToModels(id: string, name: string): Promise<{ name: string; file: string }> {
    const entry = this.#entries.get(id);
    if (!entry || entry.view.status !== "done" || !entry.path || !entry.view.fileName) {
      throw new ProjectLlmError("usage", `no finished download ${id}: only a downloaded file can be added to models.yaml`, { details: { params: { reason: "not-done" } } });
    }
    await this.#studio.ensureConfig();
    await addModelEntry(this.#studio.paths.configDir, await downloadedModelEntry({ name, fileName: entry.view.fileName, path: entry.path, uri: entry.source.uri }));
    return { name, file: entry.view.fileName };
  }

  /** Stops every download, keeping their partial files: the same download started again resumes. */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    const entries = [...this.#entries.values()];
    for (const entry of entries) if (active(entry.view)) entry.controller.abort(interruption("the server stopped during the download"));
    await Promise.all(entries.map((entry) => entry.task));
  }

  #prune(): void {
    const ended = [...this.#entries.entries()].filter(([, entry]) => !active(entry.view));
    for (const [id] of ended.slice(0, Math.max(0, ended.length - this.#keepEnded))) this.#entries.delete(id);
  }
}

/** A download's progress and outcome before it starts. */
function freshView(): Omit<DownloadView, "id" | "address" | "fileName"> {
  return {
    status: "starting",
    downloadedBytes: 0,
    totalBytes: null,
    bytesPerSecond: 0,
    etaMs: null,
    resumedFromBytes: 0,
    retries: 0,
    startedAt: Date.now(),
    endedAt: null,
    error: null,
    configuredAs: [],
    suggestedName: null,
  };
}

function describe(error: unknown): NonNullable<DownloadView["error"]> {
  if (ProjectLlmError.isInstance(error)) {
    return { code: error.code, message: error.message, params: (error.details?.params as Record<string, string | number> | undefined) ?? null };
  }
  console.error("project_llm: a download failed:", error);
  return { code: "internal", message: errorMessage(error), params: null };
}
