"use client";
/**
 * Errors and config issues in the page's language. The server sends each error with its code (`appCode`
 * over tRPC, `code` over the plain API) and the values its message names (`params`), and each config
 * issue with its own `code` and `params`: a message of the `errors` namespace is used when there is one
 * for that code (or, when the values hold a `reason`, for that code and reason: `codes.CODE.REASON`) and
 * every value it names came with it; otherwise the server's own (English) message.
 *
 * The values are data (file names, keys, model and stage names, placeholders): `errorContent` and
 * `issueContent` put each in an element marked `translate="no"`, as the pages do with all data.
 */
import { TRPCClientError } from "@trpc/client";
import { IntlMessageFormat } from "intl-messageformat";
import { useTranslations } from "next-intl";
import { createElement, Fragment, useMemo, type ReactNode } from "react";
import { ApiError, type ApiIssue } from "../client/start-run";

type Params = Record<string, string | number>;

/** The part of next-intl's translator for the `errors` namespace that this needs. */
export interface ErrorsTranslator {
  (key: string, values?: Params): string;
  has(key: string): boolean;
  raw(key: string): unknown;
}

/** A piece of a described error: the page's words, or a value that is data. */
interface Segment {
  text: string;
  data: boolean;
}

/** An error sent as data rather than thrown (a download's failure): its code, English message and values. */
export interface CodedError {
  code: string;
  message: string;
  params?: Params | null;
}

const isCodedError = (value: unknown): value is CodedError =>
  typeof value === "object" && value !== null && !(value instanceof Error) && typeof (value as CodedError).code === "string" && typeof (value as CodedError).message === "string";

export interface DescribeError {
  /** A whole error (thrown, or sent as data): config issues one per line, else the error's message. */
  error(error: unknown): string;
  /** One config issue: "pipeline.yaml:6:9: stages[0].model: message (expected …) — did you mean "x"?" */
  issue(issue: ApiIssue): string;
  /** `error`, with its data in `translate="no"` elements. */
  errorContent(error: unknown): ReactNode;
  /** `issue`, with its data in `translate="no"` elements. */
  issueContent(issue: ApiIssue): ReactNode;
  /** `errorContent` when a message of the namespace says it; undefined when only the server's own words would. */
  ownContent(error: unknown): ReactNode | undefined;
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

/** The translator's words for `errors` keys, with the values marked as data. Exported for its tests. */
export function describeErrors(t: ErrorsTranslator): DescribeError {
  const argumentsByKey = new Map<string, ReturnType<typeof messageArguments>>();
  /** The message at `key` with `params` as segments, or undefined when there is none or a value is missing. */
  const translated = (key: string, params: Params | undefined): Segment[] | undefined => {
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
    const data: string[] = [];
    const marked: Params = { ...values };
    for (const name of found.shown) {
      const value = values[name];
      if (typeof value === "string" && !found.choosing.has(name)) marked[name] = `\uE000${data.push(value) - 1}\uE001`;
    }
    const segments: Segment[] = [];
    let last = 0;
    const text = t(key, marked);
    for (const match of text.matchAll(sentinel)) {
      if (match.index > last) segments.push({ text: text.slice(last, match.index), data: false });
      segments.push({ text: data[Number(match[1])]!, data: true });
      last = match.index + match[0].length;
    }
    if (last < text.length) segments.push({ text: text.slice(last), data: false });
    return segments;
  };
  const words = (text: string): Segment => ({ text, data: false });

  const issueSegments = (item: ApiIssue): Segment[] => {
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

  /** The namespace's words for an error, or undefined when it has none for it. */
  const ownSegments = (value: unknown): Segment[] | undefined => {
    let code: string | null | undefined;
    let params: Params | null | undefined;
    let issues: ApiIssue[] | null | undefined;
    if (value instanceof TRPCClientError) {
      const data = value.data as { appCode?: string | null; params?: Params | null; issues?: ApiIssue[] | null } | undefined;
      ({ appCode: code, params, issues } = data ?? {});
      if (!code && value.message.includes("fetch")) code = "unreachable";
    } else if (value instanceof ApiError) {
      ({ code, params, issues } = value);
    } else if (isCodedError(value)) {
      ({ code, params } = value);
    }
    if (issues && issues.length > 0) return issues.flatMap((item, index) => [...(index > 0 ? [words("\n")] : []), ...issueSegments(item)]);
    if (!code) return undefined;
    const reason = params?.reason;
    return (typeof reason === "string" ? translated(`codes.${code}.${reason}`, params!) : undefined) ?? translated(`codes.${code}`, params ?? undefined);
  };
  const errorSegments = (value: unknown): Segment[] =>
    ownSegments(value) ?? [words(value instanceof Error || isCodedError(value) ? value.message : String(value))];

  const asText = (segments: Segment[]) => segments.map((segment) => segment.text).join("");
  const asContent = (segments: Segment[]): ReactNode =>
    createElement(Fragment, null, ...segments.map((segment, index) => (segment.data ? createElement("span", { key: index, translate: "no" }, segment.text) : segment.text)));
  return {
    error: (value) => asText(errorSegments(value)),
    issue: (item) => asText(issueSegments(item)),
    errorContent: (value) => asContent(errorSegments(value)),
    issueContent: (item) => asContent(issueSegments(item)),
    ownContent: (value) => {
      const segments = ownSegments(value);
      return segments && asContent(segments);
    },
  };
}

export function useDescribeError(): DescribeError {
  const t = useTranslations("errors");
  return useMemo(() => describeErrors(t as unknown as ErrorsTranslator), [t]);
}
