/** Whether each configured model's file is there: `undefined` while the list loads. */
export type ModelPresence = ReadonlyMap<string, boolean> | undefined;

/** "present", "missing" (configured, file absent) or "unknown" (not in models.yaml). */
export function ModelBadge({ model, presence }: { model: string; presence: ModelPresence }) {
  if (!presence) return null;
  const present = presence.get(model);
  const [label, className] =
    present === true
      ? ["present", "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200"]
      : present === false
        ? ["missing", "bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-200"]
        : ["unknown", "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-200"];
  return (
    <span data-testid="model-badge" className={`shrink-0 rounded px-1.5 py-0.5 text-[10px] font-medium ${className}`} title={present === undefined ? `${model} is not in models.yaml` : `${model}: file ${label}`}>
      {label}
    </span>
  );
}
