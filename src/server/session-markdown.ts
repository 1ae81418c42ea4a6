/**
 * A session's Markdown document in its reader's language: the store writes it, with the words the session's
 * page uses (the same messages, and the same functions over them for errors, with the values the session
 * stored).
 */
import { createFormatter, createTranslator } from "next-intl";
import { describeStageError, errorSegments, markedSegments, type ErrorsTranslator, type MarkupTranslator } from "../i18n/describe-errors";
import { createFormat } from "../i18n/format";
import type { Locale } from "../i18n/locales";
import { messages } from "../i18n/messages";
import { sessionToMarkdown, type MarkdownLabels, type SessionRecord } from "../store/index.js";

/** The words and figures of the Markdown document in `locale` (the `history.export` messages, and the run view's for states and errors). */
export function markdownLabels(locale: Locale): MarkdownLabels {
  const own = messages[locale];
  const text = createTranslator({ locale, messages: own, namespace: "history.export" });
  const states = createTranslator({ locale, messages: own, namespace: "common.states" });
  const stage = createTranslator({ locale, messages: own, namespace: "run.stage" });
  const result = createTranslator({ locale, messages: own, namespace: "run.result" });
  const headlines = createTranslator({ locale, messages: own, namespace: "run.errors" }) as unknown as MarkupTranslator;
  const failures = errorSegments(createTranslator({ locale, messages: own, namespace: "run.failure" }) as unknown as ErrorsTranslator);
  const codes = errorSegments(createTranslator({ locale, messages: own, namespace: "errors" }) as unknown as ErrorsTranslator);
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const format = createFormat(createFormatter({ locale, timeZone }), createTranslator({ locale, messages: own, namespace: "common" }));
  const data = (value: string) => ({ text: value, data: true });
  return {
    text: (key, values) => text(key, values),
    number: (value) => format.number(value),
    ms: (ms) => format.ms(ms),
    dateTime: (value) => format.dateTime(value),
    stageState: (status) => (status === "skipped" ? stage("notRun") : states(status === "completed" ? "done" : status)),
    stageError(error) {
      const said = describeStageError(headlines, failures, error);
      if (!said) return [];
      return said.notRun ? said.headline : [...said.headline, { text: " ", data: false }, ...(said.details ?? [data(error.message)])];
    },
    runError(error) {
      const { stageId } = error;
      // The stage's own error says what went wrong; the run's names the stage, as the page does.
      if (stageId) return markedSegments((mark) => result.markup("failedAt", { stage: () => mark(stageId) }));
      const general = codes.coded({ code: error.code, params: error.params });
      return failures.coded(error) ?? [...(general ? [...general, { text: " ", data: false }] : []), data(error.message)];
    },
  };
}

/** The session as one Markdown document in `locale`. */
export function sessionMarkdown(session: SessionRecord, locale: Locale): string {
  return sessionToMarkdown(session, markdownLabels(locale));
}
