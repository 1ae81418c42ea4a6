"use client";
/** The editor's forms about a whole pipeline: its title and description, a name for a new one, a file that does not parse. */
import { useTranslations } from "next-intl";
import { useState } from "react";
import type { Pipeline } from "@/config/schema";
import { buttonClass, Field, inputClass, primaryButtonClass } from "./fields";
import { IssueText } from "./issues";
import { dataTags } from "./labels";
import { pipelineNamePattern, type EditorIssue } from "./pipeline-graph";

/** The inspector when nothing is selected: the pipeline's title and description. */
export function PipelineFields({ pipeline, onChange }: { pipeline: Pipeline; onChange: (pipeline: Pipeline, key: string) => void }) {
  const t = useTranslations("editor.pipeline");
  const set = (field: "name" | "description", value: string) => {
    const next = { ...pipeline, [field]: value };
    if (value === "") delete next[field];
    onChange(next, `pipeline:${field}`);
  };
  return (
    <div className="space-y-3">
      <h2 className="text-sm font-semibold">{t("title")}</h2>
      <Field label={t("name")} yamlKey="name">
        <input type="text" className={inputClass} value={pipeline.name ?? ""} onChange={(event) => set("name", event.target.value)} data-testid="pipeline-title" />
      </Field>
      <Field label={t("description")} yamlKey="description">
        <textarea rows={3} className={inputClass} value={pipeline.description ?? ""} onChange={(event) => set("description", event.target.value)} />
      </Field>
      <p className="text-xs text-neutral-500 dark:text-neutral-400">{t("stages", { count: pipeline.stages.length })}</p>
    </div>
  );
}

/** Asks for the name of a new pipeline (or of a copy): refused while it is malformed or taken. */
export function NameForm({ kind, taken, onSubmit, onCancel }: { kind: "new" | "save-as"; taken: readonly string[]; onSubmit: (name: string) => void; onCancel: () => void }) {
  const t = useTranslations("editor.nameForm");
  const [name, setName] = useState("");
  const title = kind === "new" ? t("newTitle") : t("saveAsTitle");
  const problem = name === "" ? null : !pipelineNamePattern.test(name) ? t("badName") : taken.includes(name) ? t.rich("taken", { ...dataTags, name }) : null;
  return (
    <form
      aria-label={title}
      className="flex flex-wrap items-end gap-2 rounded-lg border border-blue-300 bg-blue-50 px-3 py-2 dark:border-blue-800 dark:bg-blue-950"
      onSubmit={(event) => {
        event.preventDefault();
        if (name !== "" && !problem) onSubmit(name);
      }}
      onKeyDown={(event) => event.key === "Escape" && onCancel()}
    >
      <label className="block min-w-0 space-y-1">
        <span className="text-xs font-medium">{t("name", { title })}</span>
        <input
          autoFocus
          type="text"
          translate="no"
          className={`${inputClass} w-64 max-w-full font-mono`}
          value={name}
          onChange={(event) => setName(event.target.value)}
          data-testid="pipeline-name-input"
          aria-invalid={problem ? true : undefined}
        />
      </label>
      <button type="submit" className={primaryButtonClass} disabled={name === "" || problem !== null}>
        {kind === "new" ? t("create") : t("saveAs")}
      </button>
      <button type="button" className={buttonClass} onClick={onCancel}>
        {t("cancel")}
      </button>
      {problem ? <span className="pb-1 text-sm text-red-700 dark:text-red-300">{problem}</span> : null}
    </form>
  );
}

/** A pipeline file that does not parse: its issues and its text, not editable until fixed by hand. */
export function BrokenFileView({ file, text, issues, onReload }: { file: string; text: string | null; issues: readonly EditorIssue[]; onReload: () => void }) {
  const t = useTranslations("editor.broken");
  return (
    <div className="space-y-2 rounded-lg border border-red-300 p-3 dark:border-red-800">
      <p className="text-sm">{t.rich("text", { ...dataTags, file })}</p>
      <ul className="list-disc pl-5 text-sm text-red-700 dark:text-red-300">
        {issues.map((issue, index) => (
          <li key={index}>
            <IssueText issue={issue} />
          </li>
        ))}
      </ul>
      {text !== null ? (
        <pre translate="no" className="max-h-80 overflow-auto rounded bg-neutral-100 p-2 text-xs dark:bg-neutral-900">
          {text}
        </pre>
      ) : null}
      <button type="button" className={buttonClass} onClick={onReload}>
        {t("reload")}
      </button>
    </div>
  );
}
