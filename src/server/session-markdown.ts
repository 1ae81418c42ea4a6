/** A session's Markdown document in its reader's language: the store writes it, with the words of the pages' messages. */
import { createFormatter, createTranslator } from "next-intl";
import { createFormat } from "../i18n/format";
import type { Locale } from "../i18n/locales";
import { messages, type Messages } from "../i18n/messages";
import { sessionToMarkdown, type MarkdownLabels, type SessionRecord } from "../store/index.js";

/** The words and figures of the Markdown document in `locale` (the `history.export` messages; error codes as the pages say them). */
export function markdownLabels(locale: Locale): MarkdownLabels {
  const text = createTranslator({ locale, messages: messages[locale], namespace: "history.export" });
  const codes = createTranslator({ locale, messages: messages[locale], namespace: "errors.codes" });
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const format = createFormat(createFormatter({ locale, timeZone }), createTranslator({ locale, messages: messages[locale], namespace: "common" }));
  return {
    text: (key, values) => text(key, values),
    number: (value) => format.number(value),
    ms: (ms) => format.ms(ms),
    dateTime: (value) => format.dateTime(value),
    errorCode(code) {
      if (!Object.hasOwn(messages[locale].errors.codes, code)) return undefined;
      const key = code as keyof Messages["errors"]["codes"];
      // A message that names values (a file, a model) needs them, and a stored error has only its code.
      const raw: unknown = codes.raw(key);
      return typeof raw === "string" && !raw.includes("{") ? codes(key) : undefined;
    },
  };
}

/** The session as one Markdown document in `locale`. */
export function sessionMarkdown(session: SessionRecord, locale: Locale): string {
  return sessionToMarkdown(session, markdownLabels(locale));
}
