/**
 * A conversation as plain text, for a model without a chat template: each turn on its own paragraph,
 * `User: ...` and `Assistant: ...`, ending with `Assistant:` for the model to go on when it is to answer.
 */
import type { HistoryTurn } from "../config/schema.js";

export const speakers = { user: "User", assistant: "Assistant" } as const;

export function transcript(turns: ReadonlyArray<{ speaker: string; text: string }>, answerNext: boolean): string {
  return [...turns.map(({ speaker, text }) => `${speaker}: ${text}`), ...(answerNext ? [`${speakers.assistant}:`] : [])].join("\n\n");
}

/** Turns of a conversation as a transcript (see `transcript`). */
export function turnsTranscript(turns: readonly HistoryTurn[], answerNext = false): string {
  return transcript(turns.map((turn) => ({ speaker: speakers[turn.role], text: turn.content })), answerNext);
}

/** A stage's prompt after its `history`, as a plain completion model reads them. */
export function historyTranscript(history: readonly HistoryTurn[], prompt: string): string {
  return turnsTranscript([...history, { role: "user", content: prompt }], true);
}

/**
 * The earlier turns of each stage of `pipeline` that has them, in stage order: what a session's page and
 * export show before its input. Read from a stored session's pipeline, so each turn is checked.
 */
export function pipelineHistories(pipeline: unknown): Array<{ stageId: string; turns: HistoryTurn[] }> {
  const stages = (pipeline as { stages?: unknown } | null | undefined)?.stages;
  if (!Array.isArray(stages)) return [];
  return stages.flatMap((stage: { id?: unknown; history?: unknown } | null) => {
    const turns = Array.isArray(stage?.history) ? stage.history.filter((turn: Partial<HistoryTurn> | null): turn is HistoryTurn => (turn?.role === "user" || turn?.role === "assistant") && typeof turn.content === "string") : [];
    return typeof stage?.id === "string" && turns.length > 0 ? [{ stageId: stage.id, turns }] : [];
  });
}
