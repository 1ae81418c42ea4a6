/**
 * Turns zod issues into config issues with line and column, what was expected, and the close key name
 * for a typo.
 */
import type { z } from "zod";
import { closest, remoteIssueCodes, type ConfigIssue } from "./issues.js";
import { modelNamePattern, stageIdPattern } from "./schema.js";
import type { YamlFile } from "./yaml-file.js";

interface ZodDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  discriminator?: string;
}

const def = (schema: z.ZodType) => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

/** Unwraps defaults, optionals and pipes (a preprocessed schema, like the aggregation's, to its result). */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const d = def(current);
    if (d.innerType) current = d.innerType;
    else if (d.type === "pipe" && d.in) current = def(d.in).type === "transform" && d.out ? d.out : d.in;
    else return current;
  }
}

/** The object schema that applies at `path` in `value` (following discriminated unions by the value). */
export function schemaAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>, value: unknown): z.ZodType | undefined {
  let current: z.ZodType | undefined = unwrap(schema);
  let node = value;
  const pick = () => {
    const d = def(current!);
    if (d.type === "union" && d.options) {
      const discriminator = d.discriminator;
      const match = d.options.find((option) => {
        const shape = def(unwrap(option)).shape;
        if (!discriminator || !shape || !node || typeof node !== "object") return false;
        return shape[discriminator]?.safeParse((node as Record<string, unknown>)[discriminator]).success;
      });
      current = match ? unwrap(match) : undefined;
    }
  };
  pick();
  for (const segment of path) {
    if (!current) return undefined;
    const d = def(current);
    if (d.type === "object" && d.shape) current = d.shape[String(segment)];
    else if (d.type === "array" && d.element) current = d.element;
    else if (d.type === "record" && d.valueType) current = d.valueType;
    else return undefined;
    if (!current) return undefined;
    current = unwrap(current);
    node = node && typeof node === "object" ? (node as Record<string, unknown>)[String(segment)] : undefined;
    pick();
  }
  return current;
}

/** What a YAML value is, in the words of `wrong-type` (`found`). */
function kindOf(value: unknown): "nothing" | "null" | "list" | "mapping" | "text" | "number" | "boolean" {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  if (typeof value === "object") return "mapping";
  if (typeof value === "string") return "text";
  return typeof value === "number" || typeof value === "bigint" ? "number" : "boolean";
}

/** A scalar as a message shows it (cut at 40 characters); empty for a list or a mapping. */
function shown(value: unknown): string {
  if (typeof value === "string") return value.length > 40 ? `${value.slice(0, 40)}…` : value;
  if (value === null || typeof value === "object" || value === undefined) return "";
  return String(value);
}

function describe(value: unknown): string {
  const kind = kindOf(value);
  if (kind === "text") return `the text "${shown(value)}"`;
  if (kind === "list") return "a list";
  if (kind === "mapping") return "a mapping";
  if (kind === "number" || kind === "boolean") return `${kind} ${shown(value)}`;
  return kind;
}

function valueAt(value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let node = value;
  for (const segment of path) node = node && typeof node === "object" ? (node as Record<string, unknown>)[String(segment)] : undefined;
  return node;
}

/** Format messages of the id and name patterns, said in the pages' languages by their own code. */
const patternCodes = new Map<string, "invalid-stage-id" | "invalid-model-name">([
  [stageIdPattern.source, "invalid-stage-id"],
  [modelNamePattern.source, "invalid-model-name"],
]);

/** The allowed values a plain union's branches name (`"auto"`, `number`), when each branch says one thing. */
function unionAllowed(branches: ReadonlyArray<ReadonlyArray<z.core.$ZodIssue>>): string[] | undefined {
  const allowed: string[] = [];
  for (const branch of branches) {
    const [only, ...more] = branch;
    if (!only || more.length > 0 || only.path.length > 0) return undefined;
    if (only.code === "invalid_value") allowed.push(...only.values.map((value) => JSON.stringify(value)));
    else if (only.code === "invalid_type") allowed.push(only.expected);
    else return undefined;
  }
  return allowed;
}

/** The code of a name that does not match its pattern (a stage id, a model name), with the value. */
function formatCode(issue: z.core.$ZodIssueInvalidStringFormat, value: unknown): Pick<ConfigIssue, "code" | "params"> {
  const code = issue.pattern === undefined ? undefined : patternCodes.get(issue.pattern.replace(/^\/(.*)\/[a-z]*$/, "$1"));
  return code ? { code, params: { value: shown(value) } } : {};
}

export function zodIssuesToConfigIssues(error: z.ZodError, schema: z.ZodType, yaml: YamlFile): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const required = (path: ReadonlyArray<PropertyKey>, key: string, expected?: string) =>
    yaml.issue(path, `"${key}" is required`, { expected, code: "required-key", params: { key } });
  const wrongValue = (path: ReadonlyArray<PropertyKey>, found: unknown, allowed: string[], suggestFrom: string[] = []) =>
    yaml.issue(path, `found ${describe(found)}`, {
      expected: allowed.length === 1 ? allowed[0] : `one of ${allowed.join(", ")}`,
      suggestion: typeof found === "string" ? closest(found, suggestFrom) : undefined,
      code: "wrong-value",
      params: { found: kindOf(found), value: shown(found), allowed: allowed.join(", ") },
    });
  const add = (issue: z.core.$ZodIssue, path: PropertyKey[]) => {
    const found = valueAt(yaml.value, path);
    switch (issue.code) {
      case "unrecognized_keys": {
        const shape = (() => {
          const at = schemaAt(schema, path, yaml.value);
          return at ? def(at).shape : undefined;
        })();
        const allowed = Object.keys(shape ?? {});
        for (const key of issue.keys) {
          issues.push(
            yaml.issue([...path, key], `unknown key "${key}"`, {
              key: true,
              expected: allowed.length > 0 ? `one of ${allowed.join(", ")}` : undefined,
              suggestion: closest(key, allowed),
              ...(allowed.length > 0 ? { code: "unknown-key" as const, params: { key, allowed: allowed.join(", ") } } : {}),
            }),
          );
        }
        return;
      }
      case "invalid_type":
        if (found === undefined) issues.push(required(path, String(path.at(-1)), issue.expected));
        else {
          issues.push(
            yaml.issue(path, `found ${describe(found)}`, { expected: issue.expected, code: "wrong-type", params: { expected: issue.expected, found: kindOf(found), value: shown(found) } }),
          );
        }
        return;
      case "invalid_value": {
        const allowed = issue.values.map((value) => JSON.stringify(value));
        if (found === undefined) issues.push(required(path, String(path.at(-1)), allowed.length === 1 ? allowed[0] : `one of ${allowed.join(", ")}`));
        else issues.push(wrongValue(path, found, allowed, issue.values.map(String)));
        return;
      }
      case "invalid_union": {
        if ("discriminator" in issue && issue.discriminator) {
          const key = issue.discriminator;
          // A discriminator with a default (a model's `backend`) lists `undefined` among its options: not a value to write.
          const options = ((issue as { options?: unknown[] }).options ?? []).filter((option) => option !== undefined && option !== null).map(String);
          // zod puts the discriminator at the end of the path already.
          let keyPath = path.at(-1) === key ? path : [...path, key];
          let current = valueAt(yaml.value, keyPath);
          // A bare method name (`aggregation: votee`) stands for the whole mapping: the name is the value.
          const parent = valueAt(yaml.value, keyPath.slice(0, -1));
          if (typeof parent === "string") {
            keyPath = keyPath.slice(0, -1);
            current = parent;
          }
          const allowed = options.map((option) => JSON.stringify(option));
          issues.push(current === undefined ? required(keyPath, key, `one of ${allowed.join(", ")}`) : wrongValue(keyPath, current, allowed, options));
          return;
        }
        // A plain union of values (`gpu: auto | false | cuda …`): one issue listing every branch's value.
        const allowed = unionAllowed(issue.errors);
        if (allowed && found !== undefined) {
          issues.push(wrongValue(path, found, allowed, allowed.map((value) => value.replace(/^"(.*)"$/, "$1"))));
          return;
        }
        // Otherwise (like `input_from`: an id or a list): report the first branch's problems.
        const branch = issue.errors[0];
        if (branch && branch.length > 0) for (const inner of branch) add(inner, [...path, ...inner.path]);
        else issues.push(yaml.issue(path, `found ${describe(found)}`, { expected: "a valid value" }));
        return;
      }
      case "too_small":
      case "too_big": {
        const limit = Number(issue.code === "too_small" ? issue.minimum : issue.maximum);
        const origin = issue.origin === "int" ? "number" : issue.origin;
        issues.push(
          yaml.issue(path, issue.message, {
            code: issue.code === "too_small" ? "too-small" : "too-big",
            params: { origin, limit, inclusive: issue.inclusive === false ? "no" : "yes" },
          }),
        );
        return;
      }
      case "invalid_format":
        issues.push(yaml.issue(path, issue.message, formatCode(issue, found)));
        return;
      case "invalid_key": {
        // A bad name as a key (a model named "my model"): the problem is the key, at the key's place.
        const key = String(path.at(-1));
        for (const inner of issue.issues) {
          issues.push(yaml.issue(path, `"${key}": ${inner.message}`, { key: true, ...(inner.code === "invalid_format" ? formatCode(inner, key) : {}) }));
        }
        return;
      }
      case "custom": {
        const params = issue.params as { code?: string; method?: string; needs?: string; count?: number; limit?: number } | undefined;
        if (params?.code === "too-many-stages") {
          issues.push(yaml.issue(path, issue.message, { code: "too-many-stages", params: { count: params.count ?? 0, limit: params.limit ?? 0 } }));
          return;
        }
        if (params?.code === "aggregation-needs") {
          issues.push(yaml.issue(path, issue.message, { code: "aggregation-needs", params: { method: params.method ?? "", needs: params.needs ?? "" } }));
          return;
        }
        // The remote backend's own checks carry their code and values whole (never the value checked: it may be a secret).
        const own = issue.params as { code?: string; params?: Record<string, string> } | undefined;
        if (own?.code && (remoteIssueCodes as readonly string[]).includes(own.code)) {
          issues.push(yaml.issue(path, issue.message, { code: own.code as (typeof remoteIssueCodes)[number], params: own.params ?? {} }));
          return;
        }
        issues.push(yaml.issue(path, issue.message));
        return;
      }
      default:
        issues.push(yaml.issue(path, issue.message));
    }
  };
  for (const issue of error.issues) add(issue, [...issue.path]);
  return issues;
}
