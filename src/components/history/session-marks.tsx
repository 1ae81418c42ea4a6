"use client";
import { useTranslations } from "next-intl";
import type { ReactNode } from "react";
import type { SessionSummary } from "@/store/session";

const tones = {
  neutral: "bg-neutral-100 text-neutral-700 dark:bg-neutral-800 dark:text-neutral-300",
  edited: "bg-violet-100 text-violet-900 dark:bg-violet-900/40 dark:text-violet-200",
  unsaved: "bg-amber-100 text-amber-900 dark:bg-amber-900/40 dark:text-amber-200",
  api: "bg-sky-100 text-sky-900 dark:bg-sky-900/40 dark:text-sky-200",
};

/** A small label beside a session: what sets it apart from the others. */
export function Tag({ tone, title, children }: { tone: keyof typeof tones; title?: string; children: ReactNode }) {
  return (
    <span className={`inline-block whitespace-nowrap rounded px-1.5 py-px text-xs ${tones[tone]}`} title={title}>
      {children}
    </span>
  );
}


/**
 * The marks of a session: `branch`, a branch (and one made with an edited input); `pipeline`, a call of
 * the API, or else a pipeline sent with the run and never saved (an API call's one-stage pipeline is the
 * model it named, not a pipeline of the user's). Nothing when none applies.
 */
export function SessionMarks({ summary, kind, className = "" }: { summary: Pick<SessionSummary, "parentRunId" | "inputEdited" | "inlinePipeline" | "api">; kind: "branch" | "pipeline"; className?: string }) {
  const t = useTranslations("history.marks");
  const marks =
    kind === "branch"
      ? [summary.parentRunId ? <Tag key="branch" tone="neutral">{t("branch")}</Tag> : null, summary.inputEdited ? <Tag key="edited" tone="edited">{t("editedInput")}</Tag> : null]
      : [
          summary.api ? (
            <Tag key="api" tone="api" title={t("apiCallTitle")}>
              {t("apiCall")}
            </Tag>
          ) : summary.inlinePipeline ? (
            <Tag key="unsaved" tone="unsaved">
              {t("unsavedPipeline")}
            </Tag>
          ) : null,
        ];
  if (!marks.some(Boolean)) return null;
  return <span className={`inline-flex flex-wrap gap-1 align-middle ${className}`}>{marks}</span>;
}
