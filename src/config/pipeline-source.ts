/**
 * Pipelines as files the editor reads and writes: the text, a version (a hash of the text) for
 * optimistic concurrency, and saves that keep the file's comments, key order and wording: a save writes
 * what changed, not the defaults the schema fills in.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { isCollection, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node } from "yaml";
import { ProjectLlmError, writeFileDurably } from "../common/index.js";
import { pipelineNamePattern, pipelineSchema, type Pipeline } from "./schema.js";
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
 * are kept for every key that still exists (see `reconcile`), and it gains no default it did not spell
 * out (see `fileForm`).
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
    if (current.text !== null) keepFlowSpacing(document, current.text);
    if (current.text === null || !isMap(document.contents)) document.contents = document.createNode({}) as typeof document.contents;
    const top = document.contents as unknown as Node;
    const existing = (document.toJS() as Record<string, unknown> | null) ?? {};
    reconcile(document, top, { ...existing, [root]: fileForm(pipeline, existing[root]) });
    const text = document.toString({ lineWidth: 0, flowCollectionPadding: false });
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

/**
 * Keeps the spacing inside each flow collection of a file as it was written (`[a, b]` or `[ a, b ]`,
 * `{a: 1}` or `{ a: 1 }`): the yaml library has one setting for a whole document, which would rewrite
 * every list and mapping the save did not touch.
 */
function keepFlowSpacing(document: Document, text: string): void {
  visit(document, (_, node) => {
    if (!isCollection(node) || !node.flow || !node.range || node.items.length === 0) return;
    const padding = /[ \t]/.test(text[node.range[0] + 1] ?? "") ? " " : "";
    const stringify = node.toString.bind(node);
    node.toString = (context, ...rest) => stringify(context && { ...context, flowCollectionPadding: padding }, ...rest);
  });
}

/** A node for a value the file did not have: a list of plain values on one line (`[a, b]`), as they are written by hand. */
function newNode(document: Document, value: unknown): Node {
  const node = document.createNode(value) as Node;
  visit(node, { Seq: (_, seq) => void (seq.flow = seq.items.every((item) => isScalar(item))) });
  return node;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The order in which keys are written where a file does not set one (a new stage, a key a stage gains). */
const keyOrders = {
  pipeline: ["name", "description", "stages"],
  stage: ["id", "name", "type", "model", "models", "input_from", "prompt", "system", "history", "aggregation", "params", "output_mode", "position"],
  aggregation: ["method", "model", "prompt", "template", "separator", "labels", "params"],
} as const;

function ordered(value: Record<string, unknown>, order: readonly string[]): Record<string, unknown> {
  const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => rank(a) - rank(b)));
}

/** What parses a pipeline: the pipeline schema, or a stand-in of it in tests. */
export interface PipelineParser {
  safeParse(value: unknown): { success: boolean; data?: unknown };
}

/**
 * The pipeline as its file should say it: `pipeline` less every key that is absent from the file (`file`,
 * the file's current value under its root key) and that the schema fills in with the same value anyway
 * (`params: {}`, `output_mode: answer_only`, concat's `separator`...), with the file's own wording of a
 * value kept wherever it means the same (a shorthand such as `aggregation: vote`), and keys in a natural
 * order. "Means the same" is decided by the schema itself: a candidate is kept when it parses to exactly
 * what `pipeline` parses to, so no list of defaults is kept here to drift from the schema's.
 */
export function fileForm(pipeline: Pipeline, file: unknown, parser: PipelineParser = pipelineSchema): Record<string, unknown> {
  const meaning = parser.safeParse(pipeline);
  if (!meaning.success) return pipeline;
  const expected = JSON.stringify(meaning.data);
  const written = structuredClone(meaning.data) as Record<string, unknown>;
  const means = () => {
    const result = parser.safeParse(written);
    return result.success && JSON.stringify(result.data) === expected;
  };
  // Marks keys to leave out as undefined while it walks (the schema reads undefined as absent), so that
  // the keys that stay keep their order.
  const walk = (holder: Record<string, unknown> | unknown[], key: string | number, fileValue: unknown) => {
    const value = (holder as Record<string | number, unknown>)[key];
    const set = (next: unknown) => ((holder as Record<string | number, unknown>)[key] = next);
    if (isPlainObject(value)) {
      if (fileValue !== undefined && !isPlainObject(fileValue)) {
        set(fileValue);
        if (means()) return;
        set(value);
      }
      const fileObject = isPlainObject(fileValue) ? fileValue : undefined;
      for (const child of Object.keys(value)) {
        if (fileObject === undefined || !Object.hasOwn(fileObject, child)) {
          const kept = value[child];
          value[child] = undefined;
          if (means()) continue;
          value[child] = kept;
        }
        walk(value, child, fileObject?.[child]);
      }
    } else if (Array.isArray(value)) {
      const fileItems = Array.isArray(fileValue) ? fileValue : [];
      const fileById = new Map(fileItems.filter(isPlainObject).filter((item) => typeof item.id === "string").map((item) => [item.id as string, item]));
      value.forEach((item, index) => walk(value, index, isPlainObject(item) && typeof item.id === "string" ? fileById.get(item.id) : fileItems[index]));
    }
  };
  walk({ pipeline: written }, "pipeline", isPlainObject(file) ? file : undefined);
  const defined = (value: Record<string, unknown>) => Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined));
  const stages = Array.isArray(written.stages)
    ? written.stages.map((stage: unknown) => {
        if (!isPlainObject(stage)) return stage;
        const aggregation = isPlainObject(stage.aggregation) ? ordered(defined(stage.aggregation), keyOrders.aggregation) : stage.aggregation;
        return ordered(defined({ ...stage, aggregation }), keyOrders.stage);
      })
    : written.stages;
  return ordered(defined({ ...written, stages }), keyOrders.pipeline);
}

/**
 * Updates the YAML node `node` in place so that it holds `value`, keeping comments, key order and scalar
 * styles wherever a key survives. The `yaml` library keeps comments when a parsed document is edited, but
 * has no "set the whole value and keep what can be kept"; this walks the two trees to do that. Items of a
 * sequence of mappings with an `id` (stages) are matched by id, so a stage keeps its comments when others
 * are added, removed or reordered. A key a mapping gains goes after the keys that come before it in
 * `value`. Returns the node to put in the parent (a new one when the kind changed).
 */
export function reconcile(document: Document, node: unknown, value: unknown): Node {
  if (isPlainObject(value)) {
    if (!isMap(node)) return newNode(document, value);
    const keyOf = (pair: { key: unknown }) => (isScalar(pair.key) ? pair.key.value : pair.key);
    for (const pair of [...node.items]) {
      const key = keyOf(pair);
      if (typeof key !== "string" || value[key] === undefined) node.delete(pair.key);
    }
    const keys = Object.keys(value);
    keys.forEach((key, index) => {
      const child = value[key];
      if (child === undefined) return;
      const existing = node.get(key, true);
      if (existing !== undefined) {
        node.set(key, reconcile(document, existing, child));
        return;
      }
      const before = new Set(keys.slice(0, index));
      const at = node.items.findLastIndex((pair) => before.has(keyOf(pair) as string)) + 1;
      node.items.splice(at, 0, document.createPair(key, newNode(document, child)));
    });
    return node;
  }
  if (Array.isArray(value)) {
    if (!isSeq(node)) return newNode(document, value);
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
      return prior === undefined ? newNode(document, item) : reconcile(document, prior, item);
    });
    return node;
  }
  if (isScalar(node)) {
    if (node.value !== value) node.value = value;
    return node;
  }
  return newNode(document, value);
}
