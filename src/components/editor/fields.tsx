"use client";
/** Small form fields of the inspector: labelled, keyboard-friendly, dark-mode aware. */
import { useTranslations } from "next-intl";
import { useState, type ReactNode } from "react";

export const inputClass =
  "w-full rounded border border-neutral-300 bg-white px-2 py-1 text-sm text-neutral-900 focus-visible:outline-2 focus-visible:outline-blue-500 dark:border-neutral-700 dark:bg-neutral-900 dark:text-neutral-100";
export const buttonClass =
  "rounded border border-neutral-300 bg-white px-2.5 py-1 text-sm text-neutral-800 hover:bg-neutral-100 focus-visible:outline-2 focus-visible:outline-blue-500 disabled:cursor-not-allowed disabled:opacity-50 dark:border-neutral-700 dark:bg-neutral-900 dark:text-neutral-200 dark:hover:bg-neutral-800";
/** A heading that takes focus from a script (tabIndex -1), with the same ring as the controls. */
export const headingClass = "rounded text-sm font-semibold focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-blue-500";
export const checkboxClass = "focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-blue-500";
export const primaryButtonClass =
  "rounded bg-blue-600 px-3 py-1 text-sm font-medium text-white hover:bg-blue-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-blue-500 disabled:cursor-not-allowed disabled:opacity-50";

/** Whether a label already says its key ("output mode" says `output_mode`). */
function says(label: string, key: string): boolean {
  const words = (text: string) => text.toLowerCase().replace(/_/g, " ");
  return words(label).includes(words(key));
}

/**
 * A labelled field. `yamlKey` is the key the field writes in the pipeline's file: shown beside a label that
 * does not say it already (a label in another language), for whoever also edits the YAML.
 */
export function Field({ label, yamlKey, hint, children }: { label: string; yamlKey?: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <label className="block space-y-1">
      <span className="text-xs font-medium text-neutral-700 dark:text-neutral-300">
        {label}
        {yamlKey && !says(label, yamlKey) ? (
          <span translate="no" className="ml-1.5 font-mono text-[10px] font-normal text-neutral-500 dark:text-neutral-400">
            {yamlKey}
          </span>
        ) : null}
      </span>
      {children}
      {hint ? <span className="block text-xs text-neutral-500 dark:text-neutral-400">{hint}</span> : null}
    </label>
  );
}

/**
 * A text field whose text is kept while it is being typed: `parse` may refuse a draft (undefined), and the
 * value only follows when it parses. A change of `value` from outside (undo, another field) resets the draft.
 */
function useDraft<T>(value: T, format: (value: T) => string, parse: (text: string) => { value: T } | undefined) {
  const [draft, setDraft] = useState(() => format(value));
  const [seen, setSeen] = useState(value);
  if (!Object.is(seen, value)) {
    setSeen(value);
    const parsed = parse(draft);
    if (!parsed || format(parsed.value) !== format(value)) setDraft(format(value));
  }
  return [draft, setDraft] as const;
}

export function TextField({
  label,
  yamlKey,
  value,
  onChange,
  multiline,
  rows = 3,
  placeholder,
  hint,
  testId,
}: {
  label: string;
  yamlKey?: string;
  value: string | undefined;
  /** Undefined when the field is emptied. */
  onChange: (value: string | undefined) => void;
  multiline?: boolean;
  rows?: number;
  placeholder?: string;
  hint?: ReactNode;
  testId?: string;
}) {
  const common = {
    value: value ?? "",
    placeholder,
    "data-testid": testId,
    className: `${inputClass} ${multiline ? "font-mono" : ""}`,
    onChange: (event: { target: { value: string } }) => onChange(event.target.value === "" ? undefined : event.target.value),
  };
  return (
    <Field label={label} yamlKey={yamlKey} hint={hint}>
      {multiline ? <textarea rows={rows} {...common} /> : <input type="text" {...common} />}
    </Field>
  );
}

export function NumberField({
  label,
  yamlKey,
  value,
  onChange,
  integer,
  min,
  max,
  step,
}: {
  label: string;
  yamlKey?: string;
  value: number | undefined;
  onChange: (value: number | undefined) => void;
  integer?: boolean;
  min?: number;
  max?: number;
  step?: number;
}) {
  const t = useTranslations("editor.inspector");
  const [draft, setDraft] = useDraft<number | undefined>(
    value,
    (number) => (number === undefined ? "" : String(number)),
    (text) => {
      if (text.trim() === "") return { value: undefined };
      const number = Number(text);
      return Number.isFinite(number) ? { value: number } : undefined;
    },
  );
  const invalid = draft.trim() !== "" && (!Number.isFinite(Number(draft)) || (integer && !Number.isInteger(Number(draft))));
  return (
    <Field label={label} yamlKey={yamlKey}>
      <input
        type="number"
        inputMode={integer ? "numeric" : "decimal"}
        value={draft}
        min={min}
        max={max}
        step={step ?? (integer ? 1 : "any")}
        placeholder={t("default")}
        aria-invalid={invalid || undefined}
        className={`${inputClass} ${invalid ? "border-red-500" : ""}`}
        onChange={(event) => {
          setDraft(event.target.value);
          const text = event.target.value.trim();
          if (text === "") onChange(undefined);
          else if (Number.isFinite(Number(text))) onChange(Number(text));
        }}
      />
    </Field>
  );
}

/** `\n` and `\t` typed as escapes, so a stop string can hold a line break in a one-line field. */
export function unescapeText(text: string): string {
  return text.replace(/\\(n|t|\\)/g, (_, code: string) => (code === "n" ? "\n" : code === "t" ? "\t" : "\\"));
}
export function escapeText(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t");
}

/** A list of strings, one per line, with `\n` escapes. */
export function StringListField({ label, yamlKey, value, onChange, hint }: { label: string; yamlKey?: string; value: string[] | undefined; onChange: (value: string[] | undefined) => void; hint?: ReactNode }) {
  const format = (list: string[] | undefined) => (list ?? []).map(escapeText).join("\n");
  const parse = (text: string) => {
    const list = text.split("\n").filter((line) => line !== "").map(unescapeText);
    return { value: list.length === 0 ? undefined : list };
  };
  const [draft, setDraft] = useDraft(value, format, parse);
  return (
    <Field label={label} yamlKey={yamlKey} hint={hint}>
      <textarea
        rows={2}
        value={draft}
        className={`${inputClass} font-mono`}
        onChange={(event) => {
          setDraft(event.target.value);
          onChange(parse(event.target.value).value);
        }}
      />
    </Field>
  );
}

export function SelectField<T extends string>({
  label,
  yamlKey,
  value,
  options,
  onChange,
  testId,
}: {
  label: string;
  yamlKey?: string;
  value: T;
  options: ReadonlyArray<{ value: T; label: string }>;
  onChange: (value: T) => void;
  testId?: string;
}) {
  return (
    <Field label={label} yamlKey={yamlKey}>
      <select value={value} data-testid={testId} className={inputClass} onChange={(event) => onChange(event.target.value as T)}>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </Field>
  );
}
