/**
 * Prompt templates. Placeholders are `{{name}}` with optional spaces inside the braces:
 * - in a stage prompt: `{{input}}` (the stage's input) and `{{stage.ID}}` (the output of upstream stage ID,
 *   which must be in the stage's `input_from`);
 * - in an aggregation template or a synthesis prompt: also `{{answers}}` (every answer, labelled),
 *   `{{answer.N}}` and `{{model.N}}` (1-based, in the stage's model order) and `{{answer.MODEL}}`.
 *
 * Merging a list `input_from` (when the prompt does not place each stage itself): the outputs are joined
 * in the order of the list, each under a label line, with a blank line between them:
 *
 *     [stage: draft]
 *     <output of draft>
 *
 *     [stage: panel]
 *     <output of panel>
 *
 * A single `input_from` (or the user's input) is passed as it is, without a label.
 */
import { ProjectLlmError } from "../common/index.js";

const placeholderPattern = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** The placeholder names a template uses, in order of appearance, without duplicates. */
export function templatePlaceholders(template: string): string[] {
  return [...new Set([...template.matchAll(placeholderPattern)].map((match) => match[1]!))];
}

/** Replaces every placeholder with its value; an unknown placeholder is an error naming it. */
export function renderTemplate(template: string, values: Record<string, string>, where: string): string {
  const unknown = templatePlaceholders(template).filter((name) => !(name in values));
  if (unknown.length > 0) {
    throw new ProjectLlmError(
      "config-invalid",
      `${where}: unknown placeholder${unknown.length > 1 ? "s" : ""} ${unknown.map((name) => `{{${name}}}`).join(", ")}; available: ${Object.keys(values)
        .map((name) => `{{${name}}}`)
        .join(", ")}`,
    );
  }
  return template.replace(placeholderPattern, (_, name: string) => values[name]!);
}

/** Names a stage prompt may use: `input` and `stage.ID` for each upstream id. */
export function stagePromptNames(upstreamIds: readonly string[]): string[] {
  return ["input", ...upstreamIds.map((id) => `stage.${id}`)];
}

/** The labelled merge of several upstream outputs (see the module comment for the format). */
export function mergeInputs(outputs: ReadonlyArray<{ stageId: string; output: string }>): string {
  if (outputs.length === 1) return outputs[0]!.output;
  return outputs.map(({ stageId, output }) => `[stage: ${stageId}]\n${output}`).join("\n\n");
}

/** Values of the aggregation placeholders for a list of answers. */
export function answerValues(input: string, answers: ReadonlyArray<{ model: string; answer: string }>): Record<string, string> {
  const values: Record<string, string> = { input, answers: labelledAnswers(answers) };
  answers.forEach(({ model, answer }, index) => {
    values[`answer.${index + 1}`] = answer;
    values[`model.${index + 1}`] = model;
    // The first answer of a model that runs twice keeps the name.
    values[`answer.${model}`] ??= answer;
  });
  return values;
}

/** Answers labelled with their model, a blank line between them. */
export function labelledAnswers(answers: ReadonlyArray<{ model: string; answer: string }>, separator = "\n\n"): string {
  return answers.map(({ model, answer }) => `[model: ${model}]\n${answer}`).join(separator);
}

/** The synthesis prompt used when a synthesis names no prompt of its own. */
export const defaultSynthesisPrompt = `Several assistants answered the same request.

Request:
{{input}}

Their answers:
{{answers}}

Write one answer that keeps what is right and best in them:
`;
