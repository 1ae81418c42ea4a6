"use client";
/**
 * Errors and config issues in the page's language. The server sends each error with its code (`appCode`
 * over tRPC, `code` over the plain API) and the values its message names (`params`), and each config
 * issue with its own `code` and `params`: a message of the `errors` namespace is used when there is one
 * for that code and the values it needs came with it; otherwise the server's own (English) message.
 */
import { TRPCClientError } from "@trpc/client";
import { useTranslations } from "next-intl";
import { useMemo } from "react";
import { ApiError, type ApiIssue } from "@/client/start-run";

type Params = Record<string, string | number>;

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
}

export function useDescribeError(): DescribeError {
  const t = useTranslations("errors");
  return useMemo(() => {
    /** The translation of `key` with `params`, or undefined when there is none (or it needs other values). */
    const translated = (key: string, params: Params | undefined): string | undefined => {
      const path = key as Parameters<typeof t>[0];
      if (!t.has(path)) return undefined;
      try {
        return t(path, (params ?? {}) as never);
      } catch {
        return undefined;
      }
    };
    const issue = (item: ApiIssue): string => {
      const file = item.file ? item.file.split(/[\\/]/).pop() : undefined;
      const place = item.line ? t("place.at", { file: file ?? "", line: item.line, column: item.column ?? 1 }) : file;
      const where = place ? `${place}: ` : "";
      const own = item.code ? translated(`issues.${item.code}`, item.params) : undefined;
      const message = own ?? item.message;
      // A translated message says what was expected itself (its params carry it).
      const expected = item.expected && own === undefined ? ` (${t("place.expected", { expected: item.expected })})` : "";
      const suggestion = item.suggestion ? ` — ${t("place.suggestion", { suggestion: item.suggestion })}` : "";
      return `${where}${item.path ? `${item.path}: ` : ""}${message}${expected}${suggestion}`;
    };
    const error = (value: unknown): string => {
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
      if (issues && issues.length > 0) return issues.map(issue).join("\n");
      const message = value instanceof Error || isCodedError(value) ? value.message : String(value);
      return (code ? translated(`codes.${code}`, params ?? undefined) : undefined) ?? message;
    };
    return { error, issue };
  }, [t]);
}
