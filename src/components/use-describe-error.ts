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
import { useTranslations } from "next-intl";
import { createElement, Fragment, useMemo, type ReactNode } from "react";
import { ApiError, type ApiIssue } from "../client/start-run";
import { errorSegments, type ErrorData, type ErrorsTranslator, type MessageValues, type Segment } from "../i18n/describe-errors";

export type { ErrorsTranslator } from "../i18n/describe-errors";

/** An error sent as data rather than thrown (a download's failure): its code, English message and values. */
export interface CodedError {
  code: string;
  message: string;
  params?: MessageValues | null;
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

/** The code, values and issues of a thrown error or of one sent as data. */
function errorData(value: unknown): ErrorData {
  if (value instanceof TRPCClientError) {
    const data = value.data as { appCode?: string | null; params?: MessageValues | null; issues?: ApiIssue[] | null } | undefined;
    return { code: data?.appCode ?? (value.message.includes("fetch") ? "unreachable" : undefined), params: data?.params, issues: data?.issues };
  }
  if (value instanceof ApiError) return value;
  if (isCodedError(value)) return value;
  return {};
}

/** Segments as page content: the data in elements marked `translate="no"`. */
export function segmentsContent(segments: readonly Segment[], data: (text: string, key: number) => ReactNode = (text, key) => createElement("span", { key, translate: "no" }, text)): ReactNode {
  return createElement(Fragment, null, ...segments.map((segment, index) => (segment.data ? data(segment.text, index) : segment.text)));
}

/** The translator's words for `errors` keys, with the values marked as data. Exported for its tests. */
export function describeErrors(t: ErrorsTranslator): DescribeError {
  const segments = errorSegments(t);
  const errorText = (value: unknown): Segment[] =>
    segments.coded(errorData(value)) ?? [{ text: value instanceof Error || isCodedError(value) ? value.message : String(value), data: false }];
  const asText = (pieces: Segment[]) => pieces.map((piece) => piece.text).join("");
  return {
    error: (value) => asText(errorText(value)),
    issue: (item) => asText(segments.issue(item)),
    errorContent: (value) => segmentsContent(errorText(value)),
    issueContent: (item) => segmentsContent(segments.issue(item)),
    ownContent: (value) => {
      const own = segments.coded(errorData(value));
      return own && segmentsContent(own);
    },
  };
}

export function useDescribeError(): DescribeError {
  const t = useTranslations("errors");
  return useMemo(() => describeErrors(t as unknown as ErrorsTranslator), [t]);
}
