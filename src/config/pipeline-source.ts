/**
 * Pipelines as files the editor reads and writes: the text, a version (a hash of the text) for
 * optimistic concurrency, and saves that keep the file's comments and key order.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, isSeq, parseDocument, type Document, type Node } from "yaml";
import { ProjectLlmError, writeFileDurably } from "../common/index.js";
import { pipelineNamePattern, type Pipeline } from "./schema.js";
import { maxConfigBytes } from "./yaml-file.js";

export interface PipelineSource {
  name: string;
  file: string;
  /** Null when the file does not exist. */
  text: string | null;
  /** A hash of the text; null when the file does not exist. */
  version: string | null;
}

/** `config/pipeline.yaml` for `base`, `config/pipelines/NAME.yaml` for any other name (checked first). */
export function pipelineFile(configDir: string, name: string): { file: string; root: "base_pipeline" | "pipeline" } {
  if (name === "base") return { file: path.join(configDir, "pipeline.yaml"), root: "base_pipeline" };
  if (!pipelineNamePattern.test(name)) {
    throw new ProjectLlmError("usage", `"${name.slice(0, 80)}" is not a pipeline name: use 1 to 64 letters, digits, "_" or "-", starting with a letter or digit`);
  }
  return { file: path.join(configDir, "pipelines", `${name}.yaml`), root: "pipeline" };
}

export function textVersion(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

export async function readPipelineSource(configDir: string, name: string): Promise<PipelineSource> {
  const { file } = pipelineFile(configDir, name);
  try {
    const text = await readFile(file, "utf8");
    return { name, file, text, version: textVersion(text) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { name, file, text: null, version: null };
    throw error;
  }
}

/** Saves are serialised per file inside this process, so that the version check and the write are one step. */
const locks = new Map<string, Promise<unknown>>();
export async function withFileLock<T>(file: string, work: () => Promise<T>): Promise<T> {
  const previous = locks.get(file) ?? Promise.resolve();
  const next = previous.then(work, work);
  locks.set(file, next.catch(() => undefined));
  try {
    return await next;
  } finally {
    if (locks.get(file) === next) locks.delete(file);
  }
}

export interface SaveOptions {
  /**
   * The version the editor started from: the save is refused with `conflict` when the file changed since
   * (another tab, another user, an edit on disk). `null` means "a new file": refused when one exists.
   */
  baseVersion: string | null;
}

/**
 * Writes a pipeline, durably. An existing file is updated in place: its comments, key order and styles
 * are kept for every key that still exists (see `reconcile`).
 */
export async function savePipelineSource(configDir: string, name: string, pipeline: Pipeline, options: SaveOptions): Promise<PipelineSource> {
  const { file, root } = pipelineFile(configDir, name);
  return withFileLock(file, async () => {
    const current = await readPipelineSource(configDir, name);
    if (current.version !== options.baseVersion) {
      throw new ProjectLlmError(
        "conflict",
        current.version === null
          ? `${file} was deleted since it was opened; save again to write it anew`
          : options.baseVersion === null
            ? `a pipeline named "${name}" already exists (${file}); choose another name or open it`
            : `${file} changed since it was opened (in another tab, by another user or on disk); reload it to see the change, then apply your edits again`,
        { details: { file, currentVersion: current.version } },
      );
    }
    const document = current.text === null ? parseDocument("{}") : parseDocument(current.text);
    if (document.errors.length > 0) {
      throw new ProjectLlmError("config-parse", `${file} is not valid YAML (${document.errors[0]!.message.split("\n")[0]}); fix it by hand before saving over it`);
    }
    if (current.text === null || !isMap(document.contents)) document.contents = document.createNode({}) as typeof document.contents;
    const top = document.contents as unknown as Node;
    reconcile(document, top, { ...(document.toJS() as Record<string, unknown> | null), [root]: pipeline });
    const text = document.toString({ lineWidth: 0 });
    if (Buffer.byteLength(text) > maxConfigBytes) throw new ProjectLlmError("config-too-large", `the pipeline would take more than ${maxConfigBytes} bytes`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileDurably(file, text);
    return { name, file, text, version: textVersion(text) };
  });
}

/** Deletes `pipelines/NAME.yaml` (never the base pipeline), refused when it changed since `baseVersion`. */
export async function deletePipelineSource(configDir: string, name: string, baseVersion: string): Promise<void> {
  if (name === "base") throw new ProjectLlmError("usage", "the base pipeline (config/pipeline.yaml) cannot be deleted; edit it instead");
  const { file } = pipelineFile(configDir, name);
  await withFileLock(file, async () => {
    const current = await readPipelineSource(configDir, name);
    if (current.version === null) throw new ProjectLlmError("pipeline-not-found", `no pipeline "${name}" (${file} does not exist)`);
    if (current.version !== baseVersion) throw new ProjectLlmError("conflict", `${file} changed since it was opened; reload it before deleting it`);
    await rm(file);
  });
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Updates the YAML node `node` in place so that it holds `value`, keeping comments, key order and scalar
 * styles wherever a key survives. The `yaml` library keeps comments when a parsed document is edited, but
 * has no "set the whole value and keep what can be kept"; this walks the two trees to do that. Items of a
 * sequence of mappings with an `id` (stages) are matched by id, so a stage keeps its comments when others
 * are added, removed or reordered. Returns the node to put in the parent (a new one when the kind changed).
 */
export function reconcile(document: Document, node: unknown, value: unknown): Node {
  if (isPlainObject(value)) {
    if (!isMap(node)) return document.createNode(value) as Node;
    for (const pair of [...node.items]) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof key !== "string" || value[key] === undefined) node.delete(pair.key);
    }
    for (const [key, child] of Object.entries(value)) {
      if (child === undefined) continue;
      const existing = node.get(key, true);
      node.set(key, existing === undefined ? document.createNode(child) : reconcile(document, existing, child));
    }
    return node;
  }
  if (Array.isArray(value)) {
    if (!isSeq(node)) return document.createNode(value) as Node;
    const byId = new Map<string, unknown>();
    for (const item of node.items) {
      const id = isMap(item) ? item.get("id") : undefined;
      if (typeof id === "string") byId.set(id, item);
    }
    const matchById = byId.size > 0 && value.every((item) => isPlainObject(item) && typeof item.id === "string");
    const previous = [...node.items];
    // The parser gives a block sequence's first comment to the sequence; it belongs to the first item.
    const first = previous[0];
    if (matchById && node.commentBefore && isMap(first) && !first.commentBefore) {
      first.commentBefore = node.commentBefore;
      node.commentBefore = undefined;
    }
    node.items = value.map((item, index) => {
      const prior = matchById ? byId.get((item as { id: string }).id) : previous[index];
      return prior === undefined ? (document.createNode(item) as Node) : reconcile(document, prior, item);
    });
    return node;
  }
  if (isScalar(node)) {
    if (node.value !== value) node.value = value;
    return node;
  }
  return document.createNode(value) as Node;
}
