import { describe, expect, it } from "vitest";
import type { StageRecord } from "../engine/index.js";
import { makeFullSession, makeStageRecord } from "../store/session-store.conformance.js";
import { sessionMarkdown } from "./session-markdown.js";

const metrics = { tokensIn: 21, tokensOut: 1500, timeToFirstTokenMs: 3, tokensPerSecond: 1950.4, durationMs: 1250 };

/** A draft, then three models voting on it (a tie), then a run that failed after them. */
function votedAndFailed() {
  const answer = (model: string, text: string) => ({ model, prompt: "p", answer: text, params: {}, metrics, stopReason: "eos" as const, chat: false });
  const voices: StageRecord = {
    stageId: "voices",
    status: "completed",
    reused: false,
    output: "a fox",
    answer: "a fox",
    metrics,
    models: [answer("storyteller", "a fox"), answer("dreamer", "a cat"), answer("critic", "a fox")],
    aggregation: { method: "vote", tallies: [{ answer: "a fox", votes: 2, models: ["storyteller", "critic"] }, { answer: "a cat", votes: 1, models: ["dreamer"] }], winner: "a fox", tie: false },
  };
  return makeFullSession({
    status: "failed",
    durationMs: 1250,
    parentRunId: "20260101-000000-abcdef",
    rerunFromStage: "voices",
    inputEdited: true,
    pipeline: {
      stages: [
        { id: "draft", type: "single", model: "tiny" },
        { id: "voices", type: "multi", models: ["storyteller", "dreamer", "critic"], input_from: "draft", aggregation: { method: "vote" } },
      ],
    },
    stages: { draft: { ...makeStageRecord("draft", "there was a fox"), reused: true, metrics }, voices },
    finalAnswer: undefined,
    error: { code: "generation-failed", message: "the model stopped" },
  });
}

/**
 * The "fails" pipeline of the browser tests, as the engine stores it: a draft, a stage whose prompt is longer than
 * its model's context (its error with the values its message names), and a stage that did not run because of it.
 */
function failedOnContext() {
  const params = { tokens: 600, context: 256, setting: "context_size", model: "cramped" };
  const message = "cramped: the prompt has 600 tokens, more than the context of 256: shorten the input or raise context_size";
  const cramped: StageRecord = { stageId: "cramped", status: "failed", reused: false, input: "p", models: [], error: { code: "context-overflow", message, params } };
  const after: StageRecord = {
    stageId: "after",
    status: "skipped",
    reused: false,
    models: [],
    error: { code: "upstream-failed", message: "stage after did not run: stage cramped failed", causeStageId: "cramped", params: { stage: "after", cause: "cramped", input: "cramped" } },
  };
  return makeFullSession({
    status: "failed",
    pipelineName: "fails",
    pipeline: {
      stages: [
        { id: "draft", type: "single", model: "storyteller" },
        { id: "cramped", type: "single", model: "cramped", input_from: "draft" },
        { id: "after", type: "single", model: "storyteller", input_from: "cramped" },
      ],
    },
    stages: { draft: makeStageRecord("draft", "there was a fox"), cramped, after },
    finalAnswer: undefined,
    error: { code: "context-overflow", message: `stage cramped failed: ${message}`, stageId: "cramped", params: { ...params, stage: "cramped" } },
  });
}

/** The document less its code (fenced blocks and inline code: model text, ids, names, codes as they are). */
function prose(markdown: string): string {
  return markdown.replace(/^(`{3,})text\n[\s\S]*?\n\1$/gm, "").replace(/(`+).*?\1/g, "");
}

describe("sessionMarkdown", () => {
  it("writes a session in Russian: headings, facts, states, plurals and figures, with no English outside code", () => {
    const session = votedAndFailed();
    const markdown = sessionMarkdown(session, "ru");
    expect(markdown.startsWith(`# Сессия \`${session.id}\`\n\n- Пайплайн: \`base\`\n- Запуск завершился ошибкой\n- Начало: `)).toBe(true);
    expect(markdown).toContain("- Длительность: 1,25 с\n- Ветка сессии `20260101-000000-abcdef`, перезапуск с этапа `voices` с изменённым входом\n\n## Вход");
    expect(markdown).toContain("## 1. `draft`\n\nодна модель · ответ взят из родительской сессии\n\n21 токен на входе, 1\u00a0500 на выходе, 1\u00a0950 токенов/с, первый токен через 3 мс, всего 1,25 с");
    expect(markdown).toContain("## 2. `voices`\n\n3 модели, голосование · готово");
    expect(markdown).toContain("### Голосование\n\n- 2 голоса (`storyteller`, `critic`): `a fox`\n- 1 голос (`dreamer`): `a cat`");
    expect(markdown).toContain("### Передано дальше");
    expect(markdown).toContain("## Ошибка\n\nГенерация не удалась. `the model stopped`");
    expect(markdown.endsWith("## Итоговый ответ\n\nНет: запуск завершился ошибкой.\n")).toBe(true);
    expect(prose(markdown).match(/[A-Za-z]{2,}/g) ?? []).toEqual([]);
  });

  it("writes the same session in English", () => {
    const markdown = sessionMarkdown(votedAndFailed(), "en");
    expect(markdown).toContain("- Pipeline: `base`\n- Status: failed\n- Started: ");
    expect(markdown).toContain("one model · kept from the parent session\n\n21 tokens in, 1,500 out, 1,950 tok/s, first token 3 ms, 1.25 s");
    expect(markdown).toContain("3 models, vote · done");
    expect(markdown).toContain("- 2 votes (`storyteller`, `critic`): `a fox`\n- 1 vote (`dreamer`): `a cat`");
    expect(markdown.endsWith("## Final answer\n\nNone: the run failed.\n")).toBe(true);
    expect(prose(markdown).match(/[А-Яа-яЁё]+/g) ?? []).toEqual([]);
  });

  it("says a stage's failure as the session page does, with the values it stored, and a stage that did not run as “not run”", () => {
    const markdown = sessionMarkdown(failedOnContext(), "ru");
    expect(markdown).toContain(
      "## 2. `cramped`\n\nодна модель · ошибка\n\nВход длиннее контекста модели. Промпт для модели `cramped` — 600 токенов, больше её контекста (256): сократите входной текст или увеличьте у модели параметр `context_size`.\n",
    );
    expect(markdown).toContain("## 3. `after`\n\nодна модель · не запущен\n\nНе запущен: этап `cramped` завершился ошибкой.\n");
    expect(markdown).toContain("## Ошибка\n\nЗапуск завершился ошибкой на этапе `cramped`.\n");
    // The server's English words are not in the document, not even as code.
    expect(markdown).not.toMatch(/the prompt has|did not run|stage cramped failed/);
    expect(markdown.replace(/^(`{3,})text\n[\s\S]*?\n\1$/gm, "").replace(/`(cramped|draft|after|tiny|context_size|fails|\d{8}-\d{6}-[0-9a-f]{6})`/g, "").match(/[A-Za-z]{2,}/g) ?? []).toEqual([]);

    const english = sessionMarkdown(failedOnContext(), "en");
    expect(english).toContain(
      "one model · failed\n\nThe input is longer than its model's context. The prompt for `cramped` has 600 tokens, more than its context of 256: shorten the input, or raise the model's `context_size`.\n",
    );
    expect(english).toContain("one model · not run\n\nNot run: stage `cramped` failed.\n");
    expect(english).toContain("## Error\n\nThe run failed at stage `cramped`.\n");
  });
});
