"use client";
/** What the editor tells the user under its toolbar, and what it asks before unsaved edits are lost. */
import { useTranslations } from "next-intl";
import { useDescribeError } from "@/components/use-describe-error";
import { ConfirmDialog } from "./dialog";
import { IssueLines, issuesOf } from "./issues";
import { dataTags } from "./labels";
import type { EditorIssue } from "./pipeline-graph";

/** What the line under the toolbar says, kept as data so that it follows the page's language. */
export type Notice =
  | { kind: "saved"; file: string }
  | { kind: "not-saved"; error?: unknown; issues?: EditorIssue[] }
  | { kind: "run-refused"; error: unknown }
  | { kind: "input-first" }
  | { kind: "draft-back" };

/** A question before unsaved edits are lost. */
export type Confirmation = { kind: "new"; name: string } | { kind: "reload" } | { kind: "open"; name: string } | { kind: "leave"; href: string };

/** Config issues (of the server, or of the schema in the browser) as errors. */
export const asErrors = (issues: readonly Omit<EditorIssue, "severity">[]): EditorIssue[] => issues.map((issue) => ({ ...issue, severity: "error" }));

/** The question before unsaved edits are lost, in words that say which action loses them. */
export function Confirm({ question, onConfirm, onCancel }: { question: Confirmation; onConfirm: () => void; onCancel: () => void }) {
  const t = useTranslations("editor.confirm");
  const [message, confirmLabel] =
    question.kind === "new"
      ? [t("newPipeline"), t("newPipelineConfirm")]
      : question.kind === "reload"
        ? [t("reload"), t("reloadConfirm")]
        : question.kind === "open"
          ? [t.rich("open", { ...dataTags, name: question.name }), t("openConfirm")]
          : [t("leave"), t("leaveConfirm")];
  return <ConfirmDialog message={message} confirmLabel={confirmLabel} onConfirm={onConfirm} onCancel={onCancel} />;
}

export function NoticeView({ notice }: { notice: Notice }) {
  const t = useTranslations("editor.notices");
  const toolbar = useTranslations("editor.toolbar");
  const describe = useDescribeError();
  const error = notice.kind === "not-saved" || notice.kind === "run-refused";
  let content;
  if (notice.kind === "saved") content = t.rich("saved", { ...dataTags, file: notice.file });
  else if (notice.kind === "input-first") content = toolbar("inputFirst");
  else if (notice.kind === "draft-back") content = t("draftBack");
  else {
    const issues = (notice.kind === "not-saved" ? notice.issues : undefined) ?? asErrors(issuesOf(notice.error));
    content = (
      <>
        {t(notice.kind === "not-saved" ? "notSaved" : "runRefused")} {issues.length > 0 ? <IssueLines issues={issues} /> : describe.error(notice.error)}
      </>
    );
  }
  return (
    <div
      role={error ? "alert" : "status"}
      data-testid="notice"
      className={`rounded px-3 py-1.5 text-sm ${error ? "bg-red-50 text-red-900 dark:bg-red-950 dark:text-red-100" : "bg-emerald-50 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-100"}`}
    >
      {content}
    </div>
  );
}
