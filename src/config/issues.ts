/**
 * Config problems: each names the file, line and column, the path of the key, what is wrong, what was
 * expected, and the close name when it looks like a typo.
 */
import { ProjectLlmError, type ErrorCode } from "../common/index.js";

/** Issues of a remote model's entry (`backend: openai`); the value checked is never echoed (it may be a secret). */
export const remoteIssueCodes = [
  /** `key`: a secret (`api_key`, `token`, ...) written in models.yaml. */
  "secret-in-config",
  /** `key`: `api_key_env` that is not an environment variable's name (a key pasted in its place?). */
  "invalid-env-name",
  /** `reason`: address, scheme, credentials, query or endpoint. */
  "invalid-base-url",
  /** `key`: a load parameter in a remote model's overrides. */
  "remote-load-param",
] as const;

/**
 * Every kind of config issue, each with the values (`params`) its message names. The pages say an issue
 * in their own language from its code and params (`errors.json`, `issues.<code>`); the CLI, the API and
 * the logs use its English `message`.
 */
export const configIssueCodes = [
  /** YAML that does not parse: `problem` is the YAML parser's own code (BAD_INDENT, DUPLICATE_KEY, ...). */
  "yaml-syntax",
  /** `key`: `__proto__`, `constructor` or `prototype`. */
  "yaml-forbidden-key",
  /** `limit`: the most alias uses a file may have. */
  "yaml-too-many-aliases",
  /** `key`, and `allowed`: the keys that may be there. */
  "unknown-key",
  /** `key`. */
  "required-key",
  /** `expected` (number, string, boolean, array, object, ...), `found` (text, number, boolean, list, mapping, null), `value`. */
  "wrong-type",
  /** `value`, and `allowed`: the values that may be there. */
  "wrong-value",
  /** `origin` (number, string, array), `limit`, `inclusive` (yes or no). */
  "too-small",
  /** `origin` (number, string, array), `limit`, `inclusive` (yes or no). */
  "too-big",
  /** `value`: not a stage id (a letter, then letters, digits, "_" or "-"). */
  "invalid-stage-id",
  /** `value`: not a model name. */
  "invalid-model-name",
  /** `method` (synthesis or template) and `needs` (model or template): a bare method name that needs more. */
  "aggregation-needs",
  /** `id`, and `stage`: the 1-based position of the stage that has it first. */
  "duplicate-stage-id",
  /** `id`, and `stages`: the stage ids there are. */
  "unknown-stage",
  /** `id`: a stage that names itself in `input_from`. */
  "input-from-itself",
  /** `id`: a stage named twice in one `input_from`. */
  "input-named-twice",
  /** `stages`: the stages of the cycle, as `a → b → a`. */
  "cycle",
  /** `count`: the pipeline's stages, and `limit`: the most a pipeline may have. */
  "too-many-stages",
  /** `model`, `file` (models.yaml's name), `models` (the names defined) and `count` (how many). */
  "unknown-model",
  /** `count`: how many models the vote has. */
  "vote-needs-two-models",
  /** `placeholder`, and `allowed`: the placeholders that template may use. */
  "unknown-placeholder",
  /** A warning: `text` (like `{input}`), in single braces, is sent as it is; `placeholder` is what was meant (`{{input}}`). */
  "single-braces",
  /** `file` (as configured) and `folder` (the models folder). */
  "model-outside-folder",
  /** `path`: the model file that is not there. */
  "model-file-missing",
  /** `path`: a folder or a device, not a file. */
  "model-not-regular-file",
  /** `path`: no GGUF magic bytes. */
  "model-not-gguf",
  /** `path` and `version`: a GGUF version other than 1 to 3. */
  "model-gguf-version",
  /** `count`, `models` (`name (file)`, ...) and `folder`: the base pipeline's missing required models. */
  "base-models-missing",
  /** A warning: `declared`, `file` and `actual` quantization. */
  "quantization-mismatch",
  ...remoteIssueCodes,
] as const;
export type ConfigIssueCode = (typeof configIssueCodes)[number];

export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem has no place in the file (a whole missing file). */
  line: number;
  column: number;
  /** Like `base_pipeline.stages[2].model`. */
  path: string;
  message: string;
  expected?: string;
  suggestion?: string;
  /** The stage the problem belongs to, when it belongs to one. */
  stageId?: string;
  /**
   * What kind of problem it is (`unknown-model`, `single-braces`, ...), and the values its message names:
   * the pages say it in their own language from these, and fall back to `message`.
   */
  code?: ConfigIssueCode;
  params?: Record<string, string | number>;
}

/** `file:line:column: path: message (expected …) — did you mean "x"?` */
export function formatConfigIssue(issue: Pick<ConfigIssue, "file" | "line" | "column" | "path" | "message" | "expected" | "suggestion">): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  const expected = issue.expected ? ` (expected ${issue.expected})` : "";
  const suggestion = issue.suggestion ? ` — did you mean "${issue.suggestion}"?` : "";
  return `${where}: ${issue.path ? `${issue.path}: ` : ""}${issue.message}${expected}${suggestion}`;
}

/** An error carrying one or more config issues; its message is one line per issue. */
export class ConfigError extends ProjectLlmError {
  readonly issues: ConfigIssue[];
  constructor(code: ErrorCode, issues: ConfigIssue[]) {
    super(code, issues.map(formatConfigIssue).join("\n"), { details: { issues } });
    this.issues = issues;
  }
}

/** `a.b[2].c` from `["a", "b", 2, "c"]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else text += text ? `.${String(segment)}` : String(segment);
  }
  return text;
}

/** Edit distance with transpositions (optimal string alignment), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/** The closest candidate within a small distance (a third of the word, at least 1, at most 3), if any. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance && distance <= limit) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
