"use client";
/** Small shared pieces: buttons, badges, figures, the copy button, error boxes. */
import { useTranslations } from "next-intl";
import { useState, type ButtonHTMLAttributes, type ReactNode } from "react";

export function Button({ variant = "default", className = "", ...props }: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: "default" | "primary" | "danger" | "ghost" }) {
  const styles = {
    default: "border border-neutral-300 bg-white hover:bg-neutral-100 dark:border-neutral-700 dark:bg-neutral-900 dark:hover:bg-neutral-800",
    primary: "bg-blue-600 text-white hover:bg-blue-700 disabled:bg-blue-600/50",
    danger: "border border-red-300 text-red-700 hover:bg-red-50 dark:border-red-800 dark:text-red-300 dark:hover:bg-red-950",
    ghost: "hover:bg-neutral-100 dark:hover:bg-neutral-800",
  }[variant];
  return (
    <button
      type="button"
      className={`inline-flex items-center gap-1 rounded px-3 py-1.5 text-sm font-medium focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-blue-500 disabled:cursor-not-allowed disabled:opacity-60 ${styles} ${className}`}
      {...props}
    />
  );
}

const stateStyles: Record<string, string> = {
  waiting: "bg-neutral-100 text-neutral-700 dark:bg-neutral-800 dark:text-neutral-300",
  loading: "bg-amber-100 text-amber-900 dark:bg-amber-900/40 dark:text-amber-200",
  generating: "bg-blue-100 text-blue-900 dark:bg-blue-900/40 dark:text-blue-200",
  running: "bg-blue-100 text-blue-900 dark:bg-blue-900/40 dark:text-blue-200",
  connecting: "bg-neutral-100 text-neutral-700 dark:bg-neutral-800 dark:text-neutral-300",
  done: "bg-green-100 text-green-900 dark:bg-green-900/40 dark:text-green-200",
  completed: "bg-green-100 text-green-900 dark:bg-green-900/40 dark:text-green-200",
  reused: "bg-teal-100 text-teal-900 dark:bg-teal-900/40 dark:text-teal-200",
  cached: "bg-violet-100 text-violet-900 dark:bg-violet-900/40 dark:text-violet-200",
  failed: "bg-red-100 text-red-900 dark:bg-red-900/40 dark:text-red-200",
  cancelled: "bg-neutral-200 text-neutral-800 dark:bg-neutral-700 dark:text-neutral-200",
  interrupted: "bg-orange-100 text-orange-900 dark:bg-orange-900/40 dark:text-orange-200",
  present: "bg-green-100 text-green-900 dark:bg-green-900/40 dark:text-green-200",
  missing: "bg-red-100 text-red-900 dark:bg-red-900/40 dark:text-red-200",
};

const stateNames = new Set(["waiting", "loading", "generating", "running", "connecting", "done", "completed", "reused", "cached", "failed", "cancelled", "interrupted", "present", "missing", "replaying", "queued"] as const);
type StateName = typeof stateNames extends Set<infer T> ? T : never;

/** A state as a coloured label; without children it shows the state's name in the page's language. */
export function Badge({ state, children }: { state: string; children?: ReactNode }) {
  const t = useTranslations("common.states");
  return (
    <span className={`inline-block rounded px-1.5 py-0.5 text-xs font-medium ${stateStyles[state] ?? stateStyles.waiting}`}>
      {children ?? (stateNames.has(state as StateName) ? t(state as StateName) : state)}
    </span>
  );
}

export function ErrorBox({ title, message }: { title: string; message: ReactNode }) {
  return (
    <div role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
      <p className="font-medium">{title}</p>
      <p className="mt-1 whitespace-pre-wrap">{message}</p>
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label?: string }) {
  const t = useTranslations("common.copy");
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const show = (next: "copied" | "failed") => {
    setState(next);
    setTimeout(() => setState("idle"), 1500);
  };
  return (
    <Button
      aria-label={label ?? t("copy")}
      onClick={() => {
        // The clipboard needs a secure context (localhost is one) and the page's focus.
        if (!navigator.clipboard) return show("failed");
        navigator.clipboard.writeText(text).then(
          () => show("copied"),
          () => show("failed"),
        );
      }}
    >
      {state === "copied" ? t("copied") : state === "failed" ? t("failed") : (label ?? t("copy"))}
    </Button>
  );
}

export { useFormat, type Format } from "./use-format";


export function Figure({ label, value }: { label: string; value: ReactNode }) {
  return (
    <div className="flex flex-col">
      <dt className="text-[11px] uppercase tracking-wide text-neutral-500">{label}</dt>
      <dd className="font-mono text-sm tabular-nums">{value}</dd>
    </div>
  );
}
