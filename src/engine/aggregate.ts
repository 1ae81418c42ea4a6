/**
 * Aggregations of a multi stage's answers that need no model: concat, vote, template.
 * (Synthesis calls a model, so the scheduler runs it.)
 */
import { ProjectLlmError } from "../common/index.js";
import type { Aggregation } from "../config/schema.js";
import type { AggregationResult } from "./events.js";
import { answerValues, labelledAnswers, renderTemplate } from "./templates.js";

export interface Answer {
  model: string;
  answer: string;
}

/**
 * `concat`: the answers in model order joined by `separator`, each under a `[model: NAME]` line unless
 * `labels` is false.
 */
export function concatAnswers(answers: readonly Answer[], options: { separator: string; labels: boolean }): string {
  if (options.labels) return labelledAnswers(answers, options.separator);
  return answers.map(({ answer }) => answer).join(options.separator);
}

/**
 * How answers are compared in a vote: trimmed, lower case, runs of white space made one space, then
 * surrounding quotes and trailing punctuation (`. ! ? , ; : …`) removed until none is left.
 * "Yes.", " yes", `"Yes".` and "YES!" are the same vote.
 */
export function normaliseAnswer(answer: string): string {
  let text = answer.trim().toLowerCase().replace(/\s+/g, " ");
  for (;;) {
    const next = text
      .replace(/^["'`“”‘’«»]+|["'`“”‘’«»]+$/gu, "")
      .replace(/[.!?,;:…]+$/u, "")
      .trim();
    if (next === text) return text;
    text = next;
  }
}

/** The result of a vote: the winning answer's text and the tallies. */
export interface VoteOutcome {
  /** The original (not normalised) answer of the first model, in the stage's order, that gave the winner. */
  winner: string;
  result: Extract<AggregationResult, { method: "vote" }>;
}

/**
 * `vote`: the answer most models gave, compared after `normaliseAnswer`.
 * - Tallies are listed in first-seen order (the order of `answers`, which is the stage's `models` order),
 *   each with its normalised answer, its count and the models that gave it.
 * - Tie-break: among the answers sharing the top count, the one given first in that order wins, and
 *   `tie` is true.
 * - The winner's text is the original answer, as written, of the first model that gave it.
 */
export function voteAnswers(answers: readonly Answer[]): VoteOutcome {
  if (answers.length === 0) throw new ProjectLlmError("aggregation-failed", "a vote needs at least one answer", { details: { params: { reason: "no-answers" } } });
  const tallies = new Map<string, { answer: string; votes: number; models: string[]; original: string }>();
  for (const { model, answer } of answers) {
    const key = normaliseAnswer(answer);
    const tally = tallies.get(key);
    if (tally) {
      tally.votes++;
      tally.models.push(model);
    } else {
      tallies.set(key, { answer: key, votes: 1, models: [model], original: answer });
    }
  }
  const ordered = [...tallies.values()];
  const top = Math.max(...ordered.map((tally) => tally.votes));
  // Map keeps insertion order, so the first with the top count is the first given in model order.
  const winner = ordered.find((tally) => tally.votes === top)!;
  return {
    winner: winner.original,
    result: {
      method: "vote",
      tallies: ordered.map(({ answer, votes, models }) => ({ answer, votes, models })),
      winner: winner.answer,
      tie: ordered.filter((tally) => tally.votes === top).length > 1,
    },
  };
}

/**
 * Runs an aggregation that needs no model: concat, vote or template. `where` names the stage in errors
 * (an unknown placeholder in the template is a `config-invalid` error).
 */
export function aggregateWithoutModel(
  aggregation: Exclude<Aggregation, { method: "synthesis" }>,
  input: string,
  answers: readonly Answer[],
  where: string,
): { answer: string; result: AggregationResult } {
  switch (aggregation.method) {
    case "concat":
      return { answer: concatAnswers(answers, aggregation), result: { method: "concat" } };
    case "vote": {
      const { winner, result } = voteAnswers(answers);
      return { answer: winner, result };
    }
    case "template":
      return { answer: renderTemplate(aggregation.template, answerValues(input, answers), `${where} aggregation template`), result: { method: "template" } };
  }
}
