"use client";
import { useTranslations } from "next-intl";

/** Whether each configured model's file is there: `undefined` while the list loads. */
export type ModelPresence = ReadonlyMap<string, boolean> | undefined;

/** "present", "missing" (configured, file absent) or "unknown" (not in models.yaml). */
export function modelState(model: string, presence: NonNullable<ModelPresence>): "present" | "missing" | "unknown" {
  const present = presence.get(model);
  return present === true ? "present" : present === false ? "missing" : "unknown";
}

const stateClasses = {
  present: "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200",
  missing: "bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-200",
  unknown: "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-200",
} as const;

/** Whether a model's file is there, as a coloured label beside its name. */
export function ModelBadge({ model, presence }: { model: string; presence: ModelPresence }) {
  const t = useTranslations("editor.badge");
  if (!presence) return null;
  const state = modelState(model, presence);
  return (
    <span data-testid="model-badge" className={`shrink-0 rounded px-1.5 py-0.5 text-[10px] font-medium ${stateClasses[state]}`} title={t(`${state}Title`)}>
      {t(state)}
    </span>
  );
}
