/**
 * Errors and config issues in a language, as pieces of text: the language's words, and the values they
 * name (file names, keys, model and stage names, placeholders), which are data. Plain functions over
 * next-intl's translator of a namespace of error messages, shared by the pages (`useDescribeError`, which
 * puts the data in elements marked `translate="no"`) and the documents the server writes in its reader's
 * language (a session's Markdown, which writes the data as inline code).
 *
 * A message of the namespace is used when there is one for the error's code (or, when its values hold a
 * `reason`, for that code and reason: `codes.CODE.REASON`) and every value it names came with it;
 * otherwise there are no words for it, and the caller uses the server's own (English) message.
 */
import { IntlMessageFormat } from "intl-messageformat";

/** The values an error's message names. */
export type MessageValues = Record<string, string | number>;

/** The part of next-intl's translator for a namespace of error messages that this needs. */
export interface ErrorsTranslator {
  (key: string, values?: MessageValues): string;
  has(key: string): boolean;
  raw(key: string): unknown;
}

/** The part of next-intl's translator for the `run.errors` messages that this needs: a message with its tags as text. */
export interface MarkupTranslator {
  (key: string): string;
  markup(key: string, values: Record<string, (chunks: string) => string>): string;
}

/** A piece of a described error: the language's words, or a value that is data. */
export interface Segment {
  text: string;
  data: boolean;
}

/** A config issue as the server sends it: its place, its English message, and its code and values. */
export interface IssueData {
  file?: string;
  line?: number;
  column?: number;
  path?: string;
  message: string;
  expected?: string;
  suggestion?: string;
  code?: string;
  params?: MessageValues;
}

/** What saying an error needs: its code, the values its message names, and a config error's issues. */
export interface ErrorData {
  code?: string | null;
  params?: MessageValues | null;
  issues?: readonly IssueData[] | null;
}

export interface ErrorSegments {
  /** One config issue: "pipeline.yaml:6:9: stages[0].model: message (expected …) — did you mean "x"?" */
  issue(issue: IssueData): Segment[];
  /** The namespace's words for an error (a config error's issues one per line); undefined when it has none. */
  coded(error: ErrorData): Segment[] | undefined;
}

/** The arguments of an ICU message: those shown as they are, and those that choose a form (select, plural). */
function messageArguments(text: string): { shown: Set<string>; choosing: Set<string> } {
  const shown = new Set<string>();
  const choosing = new Set<string>();
  const walk = (elements: unknown[]) => {
    for (const element of elements as Array<{ type: number; value?: unknown; options?: Record<string, { value: unknown[] }>; children?: unknown[] }>) {
      // intl-messageformat's element types: 1 argument, 2 number, 3 date, 4 time, 5 select, 6 plural, 8 tag.
      if (element.type === 1 && typeof element.value === "string") shown.add(element.value);
      else if (element.type !== 0 && element.type !== 7 && element.type !== 8 && typeof element.value === "string") choosing.add(element.value);
      for (const option of Object.values(element.options ?? {})) walk(option.value);
      if (element.children) walk(element.children);
    }
  };
  walk(new IntlMessageFormat(text, "en").getAst() as unknown[]);
  return { shown, choosing };
}

// Private-use characters around a value's index: never in a message, so the formatted text splits on them.
const sentinel = /\uE000(\d+)\uE001/g;

/**
 * A message whose values are data, in pieces: `format` writes the message with `mark(value)` in place of
 * each such value, and gets the pieces back with those values marked as data.
 */
export function markedSegments(format: (mark: (value: string) => string) => string): Segment[] {
  const data: string[] = [];
  const text = format((value) => `\uE000${data.push(value) - 1}\uE001`);
  const segments: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(sentinel)) {
    if (match.index > last) segments.push({ text: text.slice(last, match.index), data: false });
    segments.push({ text: data[Number(match[1])]!, data: true });
    last = match.index + match[0].length;
  }
  if (last < text.length) segments.push({ text: text.slice(last), data: false });
  return segments;
}

const words = (text: string): Segment => ({ text, data: false });

/** The translator's words for errors and config issues, with their values marked as data. */
export function errorSegments(t: ErrorsTranslator): ErrorSegments {
  const argumentsByKey = new Map<string, ReturnType<typeof messageArguments>>();
  /** The message at `key` with `params` as segments, or undefined when there is none or a value is missing. */
  const translated = (key: string, params: MessageValues | null | undefined): Segment[] | undefined => {
    if (!t.has(key)) return undefined;
    let found = argumentsByKey.get(key);
    if (!found) {
      const raw = t.raw(key);
      if (typeof raw !== "string") return undefined;
      found = messageArguments(raw);
      argumentsByKey.set(key, found);
    }
    const values = params ?? {};
    if ([...found.shown, ...found.choosing].some((name) => !Object.hasOwn(values, name))) return undefined;
    const { shown, choosing } = found;
    return markedSegments((mark) => {
      const marked: MessageValues = { ...values };
      for (const name of shown) {
        const value = values[name];
        if (typeof value === "string" && !choosing.has(name)) marked[name] = mark(value);
      }
      return t(key, marked);
    });
  };

  const issue = (item: IssueData): Segment[] => {
    const file = item.file ? item.file.split(/[\\/]/).pop() : undefined;
    const segments: Segment[] = [];
    if (item.line) segments.push(...(translated("place.at", { file: file ?? "", line: item.line, column: item.column ?? 1 }) ?? []), words(": "));
    else if (file) segments.push({ text: file, data: true }, words(": "));
    if (item.path) segments.push({ text: item.path, data: true }, words(": "));
    const own = item.code ? translated(`issues.${item.code}`, item.params) : undefined;
    segments.push(...(own ?? [words(item.message)]));
    // A translated message says what was expected itself (its params carry it).
    if (item.expected && own === undefined) segments.push(words(" ("), ...(translated("place.expected", { expected: item.expected }) ?? []), words(")"));
    if (item.suggestion) segments.push(words(" — "), ...(translated("place.suggestion", { suggestion: item.suggestion }) ?? []));
    return segments;
  };

  return {
    issue,
    coded({ code, params, issues }) {
      if (issues && issues.length > 0) return issues.flatMap((item, index) => [...(index > 0 ? [words("\n")] : []), ...issue(item)]);
      if (!code) return undefined;
      const reason = params?.reason;
      // A code with reasons of its own has a message per reason, and `other` for the rest.
      return (typeof reason === "string" ? translated(`codes.${code}.${reason}`, params) : undefined) ?? translated(`codes.${code}`, params) ?? translated(`codes.${code}.other`, params);
    },
  };
}

/** The `run.errors` message that heads a failed stage, by its error's code. */
const stageHeadlines = {
  "context-overflow": "contextOverflow",
  "out-of-memory": "outOfMemory",
  "model-missing": "modelMissing",
  "model-load-failed": "modelLoadFailed",
  "worker-crashed": "workerCrashed",
  "aggregation-failed": "aggregationFailed",
  "generation-failed": "generationFailed",
  "remote-failed": "remoteFailed",
} as const;

/** A stage's error as a stored session and a run's events carry it. */
export interface StageErrorData {
  code: string;
  message: string;
  causeStageId?: string;
  params?: MessageValues;
}

/** Why a stage has no answer, as the pages say it. */
export interface StageErrorText {
  /** The stage did not run because an earlier one failed: no failure of its own. */
  notRun: boolean;
  /** What happened, in a sentence; the stages it names are data. */
  headline: Segment[];
  /** A failure's details with their values as data; undefined when only the server's own (English) message says them. */
  details?: Segment[];
}

/**
 * Why a stage has no answer: a stage that never ran names the stage whose failure stopped it (and the
 * stage between, when it reads another that did not run); a failure says what went wrong in a sentence of
 * `run.errors`, then its details in the words of `run.failure`. A cancel is no error (the stage's state
 * says it): undefined.
 */
export function describeStageError(headlines: MarkupTranslator, failures: ErrorSegments, error: StageErrorData): StageErrorText | undefined {
  if (error.code === "cancelled") return undefined;
  if (error.code === "upstream-failed") {
    const cause = error.causeStageId;
    const input = error.params?.input;
    const headline = !cause
      ? [words(headlines("upstreamUnknown"))]
      : typeof input === "string" && input !== cause
        ? markedSegments((mark) => headlines.markup("upstreamVia", { stage: () => mark(cause), input: () => mark(input) }))
        : markedSegments((mark) => headlines.markup("upstream", { stage: () => mark(cause) }));
    return { notRun: true, headline };
  }
  const key = Object.hasOwn(stageHeadlines, error.code) ? stageHeadlines[error.code as keyof typeof stageHeadlines] : "other";
  return { notRun: false, headline: [words(headlines(key))], details: failures.coded(error) };
}
