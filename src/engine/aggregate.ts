/**
 * Aggregations of a multi stage's answers that need no model: concat, vote, template.
 * (Synthesis calls a model, so the scheduler runs it.)
 */
import type { Aggregation } from "../config/schema.js";
import type { AggregationResult } from "./events.js";
import { answerValues, labelledAnswers, renderTemplate } from "./templates.js";

export interface Answer {
  model: string;
  answer: string;
}

/** `concat`: the answers in model order, each under `[model: NAME]` unless `labels` is false. */
export function concatAnswers(answers: readonly Answer[], options: { separator: string; labels: boolean }): string {
  if (options.labels) return labelledAnswers(answers, options.separator);
  return answers.map(({ answer }) => answer).join(options.separator);
}

/**
 * How answers are compared in a vote: trimmed, lower case, runs of white space made one space, surrounding
 * quotes and trailing punctuation removed. "Yes." and " yes" are the same vote.
 */
export function normaliseAnswer(answer: string): string {
  return answer
    .trim()
    .toLowerCase()
    .replace(/\s+/g, " ")
    .replace(/^["'`“”‘’]+|["'`“”‘’]+$/g, "")
    .replace(/[\s.!?,;:…]+$/u, "")
    .trim();
}

/**
 * `vote`: the answer most models gave (after `normaliseAnswer`). Tie-break: among answers with the top
 * count, the one given first in the stage's model order wins. The winner is the original text of the
 * first model that gave it. Tallies are listed in first-seen order.
 */
export function voteAnswers(answers: readonly Answer[]): { winner: string; result: Extract<AggregationResult, { method: "vote" }> } {
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
    winner: winner.original.trim(),
    result: {
      method: "vote",
      tallies: ordered.map(({ answer, votes, models }) => ({ answer, votes, models })),
      winner: winner.answer,
      tie: ordered.filter((tally) => tally.votes === top).length > 1,
    },
  };
}

/** Runs an aggregation that needs no model. */
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
