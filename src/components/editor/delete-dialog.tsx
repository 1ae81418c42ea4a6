"use client";
/**
 * Deleting stages that other stages read: the readers would lose an input, so the user chooses what becomes
 * of them (connected to what the deleted stages read, or deleted too), seeing what each choice does.
 */
import { useTranslations } from "next-intl";
import type { Pipeline } from "@/config/schema";
import { Dialog } from "./dialog";
import { buttonClass } from "./fields";
import { dataTags, useEditorText } from "./labels";
import { downstreamOf, inputIds, readersOf, removeStages, removeStagesReconnecting } from "./pipeline-graph";

export interface DeleteDialogProps {
  pipeline: Pipeline;
  /** The stages to delete; at least one of them has a reader outside them. */
  stageIds: readonly string[];
  /** The pipeline the user chose, and the stages it no longer has. */
  onDelete: (next: Pipeline, removed: string[]) => void;
  onCancel: () => void;
}

export function DeleteDialog({ pipeline, stageIds, onDelete, onCancel }: DeleteDialogProps) {
  const t = useTranslations("editor.delete");
  const text = useEditorText();
  const readers = readersOf(pipeline, stageIds);
  const reconnected = removeStagesReconnecting(pipeline, stageIds);
  const cascade = downstreamOf(pipeline, stageIds);
  const readerIds = readers.map((reader) => reader.id);
  const counts = { deleted: stageIds.length, readers: readers.length };
  return (
    <Dialog title={t.rich("title", { ...dataTags, count: stageIds.length, stage: stageIds[0] ?? "" })} onCancel={onCancel} testId="delete-dialog">
      <p>{t.rich("readers", { ...counts, stages: () => text.list(readerIds) })}</p>
      <div className="mt-3 space-y-3">
        <div className="rounded border border-neutral-200 p-2 dark:border-neutral-700">
          <button type="button" className={buttonClass} onClick={() => onDelete(reconnected, [...stageIds])}>
            {t.rich("reconnect", { ...dataTags, ...counts, stage: stageIds[0] ?? "" })}
          </button>
          <ul data-testid="delete-reconnect-result" className="mt-1.5 list-disc space-y-0.5 pl-5 text-xs text-neutral-600 dark:text-neutral-400">
            {readerIds.map((id) => {
              const sources = inputIds(reconnected.stages.find((stage) => stage.id === id)!);
              return (
                <li key={id}>
                  {sources.length === 0
                    ? t.rich("reconnectInput", { ...dataTags, stage: id })
                    : t.rich("reconnectReads", { ...dataTags, stage: id, stages: () => text.list(sources) })}
                </li>
              );
            })}
          </ul>
        </div>
        <div className="rounded border border-neutral-200 p-2 dark:border-neutral-700">
          <button type="button" className={`${buttonClass} text-red-700 dark:text-red-300`} onClick={() => onDelete(removeStages(pipeline, cascade), cascade)}>
            {t("cascade", counts)}
          </button>
          <p data-testid="delete-cascade-result" className="mt-1.5 text-xs text-neutral-600 dark:text-neutral-400">
            {t.rich("cascadeResult", { count: cascade.length, stages: () => text.list(cascade) })}
          </p>
        </div>
      </div>
      <div className="mt-4 flex flex-wrap items-center justify-between gap-2">
        <p className="text-xs text-neutral-500 dark:text-neutral-400">{t.rich("undo", dataTags)}</p>
        <button type="button" className={buttonClass} onClick={onCancel} data-autofocus>
          {t("cancel")}
        </button>
      </div>
    </Dialog>
  );
}
