/**
 * Prompt templates. Placeholders are `{{name}}` with optional spaces inside the braces (`{{ input }}`):
 * - in a stage prompt: `{{input}}` (the stage's input) and `{{stage.ID}}` (the output of upstream stage ID,
 *   which must be in the stage's `input_from`);
 * - in an aggregation template or a synthesis prompt: `{{input}}`, `{{answers}}` (every answer, labelled
 *   as in `labelledAnswers`), `{{answer.N}}` and `{{model.N}}` (1-based, in the stage's model order) and
 *   `{{answer.MODEL}}` (the answer of the model named MODEL; its first answer when it runs twice).
 *
 * A stage without a prompt sends its input as it is. Text in braces that is not a placeholder name
 * (`{{ a b }}`, `{{}}`) is left alone, so prompts may show template syntax of their own.
 *
 * Merging a list `input_from` into a stage's input: the outputs are joined in the order of the list, each
 * under a label line `[stage: ID]`, with one blank line between them:
 *
 *     [stage: draft]
 *     <output of draft>
 *
 *     [stage: panel]
 *     <output of panel>
 *
 * A single `input_from` (or the user's input) is passed as it is, without a label. A prompt that uses
 * `{{stage.ID}}` places each upstream output itself; `{{input}}` is still the merged text.
 */
import { ProjectLlmError } from "../common/index.js";
import type { Stage } from "../config/schema.js";

const placeholderPattern = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** The placeholder names a template uses, in order of appearance, without duplicates. */
export function templatePlaceholders(template: string): string[] {
  return [...new Set([...template.matchAll(placeholderPattern)].map((match) => match[1]!))];
}

/** The placeholders of `template` that are not among `allowed`, in order of appearance. */
export function unknownPlaceholders(template: string, allowed: Iterable<string>): string[] {
  const names = new Set(allowed);
  return templatePlaceholders(template).filter((name) => !names.has(name));
}

function unknownPlaceholderMessage(where: string, unknown: readonly string[], allowed: readonly string[]): string {
  const list = (names: readonly string[]) => names.map((name) => `{{${name}}}`).join(", ");
  return `${where}: unknown placeholder${unknown.length > 1 ? "s" : ""} ${list(unknown)}; available: ${list(allowed)}`;
}

/**
 * Replaces every placeholder with its value, in one pass (a value that contains `{{...}}` is not expanded
 * again). An unknown placeholder is a `config-invalid` error that names it and lists the known ones;
 * `where` says which template it is ("stage draft prompt").
 */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>, where: string): string {
  const known = Object.keys(values);
  const unknown = unknownPlaceholders(template, known);
  if (unknown.length > 0) {
    throw new ProjectLlmError("config-invalid", unknownPlaceholderMessage(where, unknown, known), { details: { placeholders: unknown } });
  }
  // Own keys only: `{{constructor}}` must not find Object.prototype.
  return template.replace(placeholderPattern, (_, name: string) => (Object.hasOwn(values, name) ? values[name]! : `{{${name}}}`));
}

/** Names a stage prompt may use: `input` and `stage.ID` for each upstream id. */
export function stagePromptNames(upstreamIds: readonly string[]): string[] {
  return ["input", ...upstreamIds.map((id) => `stage.${id}`)];
}

/**
 * Names an aggregation template or a synthesis prompt may use for a stage running `models` (in order):
 * `input`, `answers`, then `answer.N` and `model.N` for N = 1..models.length, then `answer.MODEL`.
 */
export function aggregationTemplateNames(models: readonly string[]): string[] {
  return [
    "input",
    "answers",
    ...models.flatMap((_, index) => [`answer.${index + 1}`, `model.${index + 1}`]),
    ...new Set(models.map((model) => `answer.${model}`)),
  ];
}

/** An unknown placeholder in one of a stage's templates. */
export interface TemplateIssue {
  stageId: string;
  /** The key of the template in the stage: `prompt`, `aggregation.template` or `aggregation.prompt`. */
  field: "prompt" | "aggregation.template" | "aggregation.prompt";
  placeholder: string;
  /** The placeholders that field allows. */
  allowed: string[];
  message: string;
}

/**
 * Checks every template of a stage (its prompt, and a template aggregation's template or a synthesis's
 * prompt) against the placeholders that stage can fill. Reusable by config validation: it needs only the
 * stage. Empty when all is well.
 */
export function checkStageTemplates(stage: Stage): TemplateIssue[] {
  const upstream = stage.input_from === undefined ? [] : typeof stage.input_from === "string" ? [stage.input_from] : stage.input_from;
  const fields: Array<{ field: TemplateIssue["field"]; template: string | undefined; allowed: string[] }> = [
    { field: "prompt", template: stage.prompt, allowed: stagePromptNames(upstream) },
  ];
  if (stage.type === "multi") {
    const allowed = aggregationTemplateNames(stage.models);
    if (stage.aggregation.method === "template") fields.push({ field: "aggregation.template", template: stage.aggregation.template, allowed });
    if (stage.aggregation.method === "synthesis") fields.push({ field: "aggregation.prompt", template: stage.aggregation.prompt, allowed });
  }
  return fields.flatMap(({ field, template, allowed }) =>
    template === undefined
      ? []
      : unknownPlaceholders(template, allowed).map((placeholder) => ({
          stageId: stage.id,
          field,
          placeholder,
          allowed,
          message: unknownPlaceholderMessage(`stage ${stage.id} ${field}`, [placeholder], allowed),
        })),
  );
}

/**
 * A placeholder name written without its double braces on one side or both (`{input}`, `{{stage.draft}`,
 * `{answer.1}}`): it is sent to the model as it is, which is never what was meant.
 */
export interface BraceSlip {
  stageId: string;
  field: TemplateIssue["field"];
  /** The text as written, from its first brace to its last: `{input}`. */
  text: string;
  /** How many times the same text appears before it in the template, within other text too (to find it in the file). */
  occurrence: number;
  /** What was meant: `{{input}}`. */
  placeholder: string;
}

const bracedNamePattern = /(\{+)\s*([A-Za-z0-9_.-]+)\s*(\}+)/g;
/** Names of the placeholder families each kind of template knows; others in braces (`{name}`) are text. */
const promptNamePattern = /^(input|stage\.[A-Za-z0-9_.-]+)$/;
const aggregationNamePattern = /^(input|answers|answer\.[A-Za-z0-9_.-]+|model\.\d+)$/;

/**
 * The placeholder names in a stage's templates (its prompt, a template aggregation's template, a
 * synthesis's prompt) that lack a brace: `{input}` for `{{input}}`. Text in braces that is no placeholder
 * name (`{name}`, JSON like `{"input": 1}`) and the placeholders themselves (`{{input}}`, and `{{{input}}}`,
 * which is `{`, the placeholder, `}`) are left alone.
 */
export function findBraceSlips(stage: Stage): BraceSlip[] {
  const fields: Array<{ field: TemplateIssue["field"]; template: string | undefined; names: RegExp }> = [{ field: "prompt", template: stage.prompt, names: promptNamePattern }];
  if (stage.type === "multi") {
    if (stage.aggregation.method === "template") fields.push({ field: "aggregation.template", template: stage.aggregation.template, names: aggregationNamePattern });
    if (stage.aggregation.method === "synthesis") fields.push({ field: "aggregation.prompt", template: stage.aggregation.prompt, names: aggregationNamePattern });
  }
  const slips: BraceSlip[] = [];
  for (const { field, template, names } of fields) {
    if (template === undefined) continue;
    for (const match of template.matchAll(bracedNamePattern)) {
      const [text, open, name, close] = match as unknown as [string, string, string, string];
      if ((open.length >= 2 && close.length >= 2) || !names.test(name)) continue;
      let occurrence = 0;
      for (let at = template.indexOf(text); at >= 0 && at < match.index; at = template.indexOf(text, at + 1)) occurrence++;
      slips.push({ stageId: stage.id, field, text, occurrence, placeholder: `{{${name}}}` });
    }
  }
  return slips;
}

/** The labelled merge of several upstream outputs (see the module comment for the format). */
export function mergeInputs(outputs: ReadonlyArray<{ stageId: string; output: string }>): string {
  if (outputs.length === 1) return outputs[0]!.output;
  return outputs.map(({ stageId, output }) => `[stage: ${stageId}]\n${output}`).join("\n\n");
}

/** Values of the aggregation placeholders for a list of answers (see `aggregationTemplateNames`). */
export function answerValues(input: string, answers: ReadonlyArray<{ model: string; answer: string }>): Record<string, string> {
  const values: Record<string, string> = { input, answers: labelledAnswers(answers) };
  answers.forEach(({ model, answer }, index) => {
    values[`answer.${index + 1}`] = answer;
    values[`model.${index + 1}`] = model;
  });
  for (const { model, answer } of answers) values[`answer.${model}`] ??= answer;
  return values;
}

/**
 * Answers labelled with their model, `separator` (default a blank line) between them:
 * `[model: NAME]\n<answer>`.
 */
export function labelledAnswers(answers: ReadonlyArray<{ model: string; answer: string }>, separator = "\n\n"): string {
  return answers.map(({ model, answer }) => `[model: ${model}]\n${answer}`).join(separator);
}

/**
 * The synthesis prompt used when a synthesis names no prompt of its own (`{{input}}` is the stage's
 * input, `{{answers}}` the labelled answers):
 *
 *     Several assistants answered the same request.
 *
 *     Request:
 *     {{input}}
 *
 *     Their answers:
 *     {{answers}}
 *
 *     Write one answer that keeps what is right and best in them:
 */
export const defaultSynthesisPrompt = `Several assistants answered the same request.

Request:
{{input}}

Their answers:
{{answers}}

Write one answer that keeps what is right and best in them:
`;
