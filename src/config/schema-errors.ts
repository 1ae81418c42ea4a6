/**
 * Turns zod issues into config issues with line and column, what was expected, and the close key name
 * for a typo.
 */
import type { z } from "zod";
import { closest, type ConfigIssue } from "./issues.js";
import type { YamlFile } from "./yaml-file.js";

interface ZodDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
  discriminator?: string;
}

const def = (schema: z.ZodType) => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

/** Unwraps defaults, optionals and pipes. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const d = def(current);
    if (d.innerType) current = d.innerType;
    else if (d.type === "pipe" && d.in) current = d.in;
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

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the text "${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  return `${typeof value} ${String(value)}`;
}

function valueAt(value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let node = value;
  for (const segment of path) node = node && typeof node === "object" ? (node as Record<string, unknown>)[String(segment)] : undefined;
  return node;
}

export function zodIssuesToConfigIssues(error: z.ZodError, schema: z.ZodType, yaml: YamlFile): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
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
            }),
          );
        }
        return;
      }
      case "invalid_type":
        issues.push(
          yaml.issue(path, found === undefined ? `"${String(path.at(-1))}" is required` : `found ${describe(found)}`, { expected: issue.expected }),
        );
        return;
      case "invalid_value": {
        const values = issue.values.map((value) => JSON.stringify(value));
        issues.push(
          yaml.issue(path, found === undefined ? `"${String(path.at(-1))}" is required` : `found ${describe(found)}`, {
            expected: values.length === 1 ? values[0] : `one of ${values.join(", ")}`,
            suggestion: typeof found === "string" ? closest(found, issue.values.map(String)) : undefined,
          }),
        );
        return;
      }
      case "invalid_union": {
        if ("discriminator" in issue && issue.discriminator) {
          const key = issue.discriminator;
          const options = ((issue as { options?: unknown[] }).options ?? []).map(String);
          // zod puts the discriminator at the end of the path already.
          const keyPath = path.at(-1) === key ? path : [...path, key];
          const current = valueAt(yaml.value, keyPath);
          issues.push(
            yaml.issue(keyPath, current === undefined ? `"${key}" is required` : `found ${describe(current)}`, {
              expected: `one of ${options.map((option) => JSON.stringify(option)).join(", ")}`,
              suggestion: typeof current === "string" ? closest(current, options) : undefined,
            }),
          );
          return;
        }
        // A plain union (like `input_from`: an id or a list): report the first branch's problems.
        const branch = issue.errors[0];
        if (branch && branch.length > 0) for (const inner of branch) add(inner, [...path, ...inner.path]);
        else issues.push(yaml.issue(path, `found ${describe(found)}`, { expected: "a valid value" }));
        return;
      }
      default:
        issues.push(yaml.issue(path, issue.message));
    }
  };
  for (const issue of error.issues) add(issue, [...issue.path]);
  return issues;
}
