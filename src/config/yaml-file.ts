/**
 * YAML parsing with limits: a size cap, an alias cap (no alias bombs), unique keys, and keys that could
 * pollute prototypes refused. The parsed document is kept so that any key path maps to line:column.
 */
import { readFile, stat } from "node:fs/promises";
import { Document, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Node } from "yaml";
import { ProjectLlmError, fileMemo } from "../common/index.js";
import { ConfigError, formatPath, type ConfigIssue } from "./issues.js";

export const maxConfigBytes = 1024 * 1024;
export const maxAliasCount = 100;
const forbiddenKeys = new Set(["__proto__", "constructor", "prototype"]);

export interface YamlFile {
  file: string;
  text: string;
  document: Document;
  value: unknown;
  /** Line and column (1-based) of the node at `path`, or of its nearest existing parent. */
  locate(path: ReadonlyArray<PropertyKey>, options?: { key?: boolean }): { line: number; column: number };
  /**
   * Line and column (1-based) of the `occurrence`-th (0-based) appearance of `text` inside the scalar at
   * `path`, whatever its style (plain, quoted, block); the scalar's own place when its source does not
   * show `text` as it is (an escape sequence).
   */
  locateInScalar(path: ReadonlyArray<PropertyKey>, text: string, occurrence?: number): { line: number; column: number };
  issue(path: ReadonlyArray<PropertyKey>, message: string, extra?: Partial<ConfigIssue> & { key?: boolean }): ConfigIssue;
}

/** A config file, parsed once for as long as it is unchanged on disk (runs read their configs each time). */
export const readYamlFile = fileMemo(readYamlFileFresh);

async function readYamlFileFresh(file: string): Promise<YamlFile> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ProjectLlmError("config-not-found", `${file}: no such file`, { details: { params: { file } } });
    throw error;
  }
  if (size > maxConfigBytes) {
    throw new ProjectLlmError("config-too-large", `${file}: ${size} bytes is more than the ${maxConfigBytes} bytes a config file may have`);
  }
  return parseYaml(await readFile(file, "utf8"), file);
}

export function parseYaml(text: string, file: string): YamlFile {
  if (Buffer.byteLength(text) > maxConfigBytes) {
    throw new ProjectLlmError("config-too-large", `${file}: more than the ${maxConfigBytes} bytes a config file may have`);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const problems: ConfigIssue[] = document.errors.map((error) => ({
    file,
    ...position(error.pos[0]),
    path: "",
    message: error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""),
    code: "yaml-syntax",
    params: { problem: error.code },
  }));
  visit(document, {
    Pair(_, pair) {
      if (isScalar(pair.key) && forbiddenKeys.has(String(pair.key.value))) {
        const key = String(pair.key.value);
        problems.push({ file, ...position(pair.key.range?.[0] ?? 0), path: "", message: `the key "${key}" is not allowed`, code: "yaml-forbidden-key", params: { key } });
      }
    },
  });
  if (problems.length > 0) throw new ConfigError("config-parse", problems);

  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount });
  } catch (error) {
    throw new ConfigError("config-parse", [
      { file, line: 1, column: 1, path: "", message: `${(error as Error).message} (at most ${maxAliasCount} alias uses)`, code: "yaml-too-many-aliases", params: { limit: maxAliasCount } },
    ]);
  }

  const find = (path: ReadonlyArray<PropertyKey>, key: boolean) => {
    let node: unknown = document.contents;
    let found: Node | undefined = document.contents ?? undefined;
    for (let index = 0; index < path.length; index++) {
      const segment = path[index];
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) break;
        const last = index === path.length - 1;
        found = (last && key ? pair.key : (pair.value ?? pair.key)) as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        const item = node.items[segment];
        if (!item) break;
        found = item as Node;
        node = item;
      } else break;
    }
    return found;
  };
  const locate = (path: ReadonlyArray<PropertyKey>, options: { key?: boolean } = {}) => {
    const node = find(path, options.key ?? false);
    return node?.range ? position(node.range[0]) : { line: 1, column: 1 };
  };
  const locateInScalar = (path: ReadonlyArray<PropertyKey>, needle: string, occurrence = 0) => {
    const node = find(path, false);
    if (isScalar(node) && node.range) {
      const source = text.slice(node.range[0], node.range[1]);
      let index = -1;
      for (let seen = 0; seen <= occurrence; seen++) {
        index = source.indexOf(needle, index + 1);
        if (index < 0) break;
      }
      if (index >= 0) return position(node.range[0] + index);
    }
    return locate(path);
  };
  return {
    file,
    text,
    document,
    value,
    locate,
    locateInScalar,
    issue: (path, message, extra = {}) => {
      const { key, ...rest } = extra;
      return { file, ...locate(path, { key }), path: formatPath(path), message, ...rest };
    },
  };
}

/**
 * A config sent as a value (a pipeline in a web request) checked like a file: the same size cap and
 * forbidden keys; its issues have a key path and no line (`line` 0), and name the source `label`.
 */
export function valueAsFile(value: unknown, label: string): YamlFile {
  const text = JSON.stringify(value ?? null) ?? "null";
  if (Buffer.byteLength(text) > maxConfigBytes) throw new ProjectLlmError("config-too-large", `${label}: more than the ${maxConfigBytes} bytes a config may have`);
  const problems: ConfigIssue[] = [];
  const walk = (node: unknown, path: PropertyKey[]) => {
    if (Array.isArray(node)) node.forEach((item, index) => walk(item, [...path, index]));
    else if (node && typeof node === "object") {
      for (const [key, child] of Object.entries(node)) {
        if (forbiddenKeys.has(key)) {
          problems.push({ file: label, line: 0, column: 0, path: formatPath(path), message: `the key "${key}" is not allowed`, code: "yaml-forbidden-key", params: { key } });
        }
        else walk(child, [...path, key]);
      }
    }
  };
  walk(value, []);
  if (problems.length > 0) throw new ConfigError("config-parse", problems);
  return {
    file: label,
    text,
    document: new Document(value),
    value,
    locate: () => ({ line: 0, column: 0 }),
    locateInScalar: () => ({ line: 0, column: 0 }),
    issue: (path, message, extra = {}) => {
      const { key: _key, ...rest } = extra;
      return { file: label, line: 0, column: 0, path: formatPath(path), message, ...rest };
    },
  };
}
