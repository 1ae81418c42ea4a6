"use client";
/**
 * Problems of the pipeline being edited, in the page's language: the list under the canvas, and the pieces
 * the nodes and the inspector show (a message, a "did you mean" with its one-click fix).
 */
import { TRPCClientError } from "@trpc/client";
import { useTranslations } from "next-intl";
import type { ReactNode } from "react";
import { ApiError, type ApiIssue } from "@/client/start-run";
import { useDescribeError } from "@/components/use-describe-error";
import { buttonClass } from "./fields";
import { Data, dataTags } from "./labels";
import { modelFix, type EditorIssue } from "./pipeline-graph";

/** The config issues an error carries (a run or a save refused for an invalid pipeline); empty when none. */
export function issuesOf(error: unknown): ApiIssue[] {
  if (error instanceof TRPCClientError) return ((error.data as { issues?: ApiIssue[] | null } | undefined)?.issues ?? []).slice();
  if (error instanceof ApiError) return error.issues.slice();
  return [];
}

/** The words of an issue, with its values marked as data, without its place (shown apart) and its suggestion (see `Suggestion`). */
export function useIssueMessage(): (issue: EditorIssue) => ReactNode {
  const t = useTranslations("editor.issues.schema");
  const describe = useDescribeError();
  return (issue) => {
    const schema = issue.schema;
    if (!schema) return describe.issueContent({ ...issue, file: undefined, line: undefined, path: undefined, suggestion: undefined });
    const limit = schema.limit ?? 0;
    switch (schema.kind) {
      case "no-stages":
        return t("noStages");
      case "empty":
        return t("empty");
      case "format":
        return t("format");
      case "invalid":
        return t("invalid");
      case "too-small":
        if (schema.origin === "string") return t("textTooShort", { limit });
        if (schema.origin === "array") return t("listTooShort", { limit });
        return schema.inclusive ? t("atLeast", { limit }) : t("moreThan", { limit });
      case "too-big":
        if (schema.origin === "string") return t("textTooLong", { limit });
        if (schema.origin === "array") return t("listTooLong", { limit });
        return schema.inclusive ? t("atMost", { limit }) : t("lessThan", { limit });
    }
  };
}

/** "did you mean X?" for an issue with a suggestion, and a button that applies it when it is a model to use. */
export function Suggestion({ issue, onFix }: { issue: EditorIssue; onFix?: (issue: EditorIssue) => void }) {
  const t = useTranslations("editor.issues");
  if (!issue.suggestion) return null;
  return (
    <>
      {" — "}
      {t.rich("didYouMean", { ...dataTags, suggestion: issue.suggestion })}
      {onFix && modelFix(issue) ? (
        <>
          {" "}
          <button type="button" className={`${buttonClass} nodrag ml-1 px-1.5 py-0 text-xs`} onClick={() => onFix(issue)}>
            {t.rich("use", { ...dataTags, suggestion: issue.suggestion })}
          </button>
        </>
      ) : null}
    </>
  );
}

/** One issue on a line: its message, the key path it is about (unless `withPath` is false), its suggestion. */
export function IssueText({ issue, onFix, withPath = true }: { issue: EditorIssue; onFix?: (issue: EditorIssue) => void; withPath?: boolean }) {
  const message = useIssueMessage();
  return (
    <>
      {withPath && issue.path ? (
        <>
          <Data className="font-mono text-xs opacity-80">{issue.path}</Data>:{" "}
        </>
      ) : null}
      {message(issue)}
      <Suggestion issue={issue} onFix={onFix} />
    </>
  );
}

/** Issues as a list, for a notice (a save or a run refused). */
export function IssueLines({ issues }: { issues: readonly EditorIssue[] }) {
  return (
    <ul className="mt-1 list-disc space-y-0.5 pl-5">
      {issues.map((issue, index) => (
        <li key={index}>
          <IssueText issue={issue} />
        </li>
      ))}
    </ul>
  );
}

/**
 * The validation of the pipeline on the canvas: every issue, tied to its stage (a click selects it), with
 * the fix of an unknown model. `checked` is false until the first answer: nothing is said to be fine before.
 */
export function IssueList({
  issues,
  pending,
  checked,
  onSelect,
  onFix,
}: {
  issues: readonly EditorIssue[];
  pending: boolean;
  checked: boolean;
  onSelect: (stageId: string) => void;
  onFix: (issue: EditorIssue) => void;
}) {
  const t = useTranslations("editor.issues");
  let body: ReactNode;
  if (issues.length > 0) {
    body = (
      <ul className="space-y-1">
        {issues.map((issue, index) => {
          const stage = () => (
            <button type="button" className="font-mono underline" translate="no" onClick={() => onSelect(issue.stageId!)}>
              {issue.stageId}
            </button>
          );
          return (
            <li key={index} className={issue.severity === "error" ? "text-red-700 dark:text-red-300" : "text-amber-800 dark:text-amber-300"}>
              <span className="font-medium">{issue.stageId ? t.rich(issue.severity === "error" ? "errorIn" : "warningIn", { stage }) : t(issue.severity)}</span>:{" "}
              <IssueText issue={issue} onFix={onFix} withPath={false} />
            </li>
          );
        })}
      </ul>
    );
  } else {
    body = checked ? <p className="text-emerald-700 dark:text-emerald-300">{t("none")}</p> : <p className="text-neutral-500 dark:text-neutral-400">{t("firstCheck")}</p>;
  }
  return (
    <section aria-label={t("title")} data-testid="issues" className="rounded-lg border border-neutral-200 px-3 py-2 text-sm dark:border-neutral-800">
      <h2 className="mb-1 text-xs font-semibold uppercase tracking-wide text-neutral-500 dark:text-neutral-400">
        {t("title")} {pending && checked ? <span className="font-normal normal-case">{t("checking")}</span> : null}
      </h2>
      {body}
    </section>
  );
}
