"use client";
/** The canvas's node types: a stage, and the fixed node of the user's input. */
import { Handle, Position, type Node, type NodeProps, type NodeTypes } from "@xyflow/react";
import { useTranslations } from "next-intl";
import type { Stage } from "@/config/schema";
import { useIssueMessage } from "./issues";
import { Data, dataTags } from "./labels";
import { ModelBadge, type ModelPresence } from "./model-badge";
import type { EditorIssue } from "./pipeline-graph";

export type StageNodeData = {
  stage: Stage;
  presence: ModelPresence;
  errors: EditorIssue[];
  warnings: EditorIssue[];
};
export type StageFlowNode = Node<StageNodeData, "stage">;
export type InputFlowNode = Node<Record<string, never>, "userInput">;
export type EditorFlowNode = StageFlowNode | InputFlowNode;

const handleClass = "!h-3.5 !w-3.5 !border-2 !border-white !bg-blue-500 dark:!border-neutral-900";

/** A problem in a few words: its message (without the list of what was expected) and, for an unknown name, the closest known one. */
function Problem({ issue }: { issue: EditorIssue }) {
  const t = useTranslations("editor.issues");
  const message = useIssueMessage();
  return (
    <>
      {message({ ...issue, expected: undefined })}
      {issue.suggestion ? <> — {t.rich("didYouMean", { ...dataTags, suggestion: issue.suggestion })}</> : null}
    </>
  );
}

function StageNode({ data, selected }: NodeProps<StageFlowNode>) {
  const t = useTranslations("editor.node");
  const methods = useTranslations("editor.methods");
  const { stage, presence, errors, warnings } = data;
  const models = stage.type === "single" ? [stage.model] : stage.models;
  const border = errors.length > 0 ? "border-red-500 dark:border-red-500" : warnings.length > 0 ? "border-amber-500" : "border-neutral-300 dark:border-neutral-700";
  const aggregation = stage.type === "multi" ? stage.aggregation : null;
  return (
    <div
      data-testid={`stage-node-${stage.id}`}
      className={`w-56 rounded-lg border-2 bg-white px-3 py-2 text-left text-xs shadow-sm dark:bg-neutral-900 ${border} ${selected ? "ring-2 ring-blue-500 ring-offset-1 dark:ring-offset-neutral-950" : ""}`}
    >
      <Handle type="target" position={Position.Left} className={handleClass} data-testid={`target-${stage.id}`} aria-label={t("handleIn")} />
      <div className="flex items-baseline justify-between gap-2">
        <Data className="truncate font-mono text-sm font-semibold text-neutral-900 dark:text-neutral-50">{stage.id}</Data>
        <span className={`shrink-0 rounded px-1.5 py-0.5 text-[10px] font-medium uppercase tracking-wide ${stage.type === "multi" ? "bg-violet-100 text-violet-800 dark:bg-violet-950 dark:text-violet-200" : "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-200"}`}>
          {t(stage.type)}
        </span>
      </div>
      {stage.name && stage.name !== stage.id ? <Data className="block truncate text-neutral-600 dark:text-neutral-400">{stage.name}</Data> : null}
      <ul className="mt-1.5 space-y-1">
        {models.map((model, index) => (
          <li key={`${model}-${index}`} className="flex items-center justify-between gap-2">
            {model ? <Data className="truncate font-mono text-neutral-800 dark:text-neutral-200">{model}</Data> : <span className="truncate text-neutral-500">{t("noModel")}</span>}
            <ModelBadge model={model} presence={presence} />
          </li>
        ))}
      </ul>
      {aggregation ? (
        <div className="mt-1.5 border-t border-neutral-200 pt-1 text-neutral-600 dark:border-neutral-700 dark:text-neutral-400">
          {t("aggregation")}{" "}
          <span className="font-medium text-neutral-800 dark:text-neutral-200">
            {aggregation.method === "synthesis" ? t.rich("synthesisBy", { ...dataTags, model: aggregation.model }) : methods(aggregation.method)}
          </span>
        </div>
      ) : null}
      {errors.length > 0 ? (
        <div data-testid={`stage-errors-${stage.id}`} className="mt-1.5 rounded bg-red-50 px-1.5 py-1 text-red-800 dark:bg-red-950 dark:text-red-200">
          {errors.length === 1 ? null : <>{t("errors", { count: errors.length })} </>}
          <Problem issue={errors[0]!} />
        </div>
      ) : warnings.length > 0 ? (
        <div className="mt-1.5 rounded bg-amber-50 px-1.5 py-1 text-amber-900 dark:bg-amber-950 dark:text-amber-200">{warnings.length === 1 ? <Problem issue={warnings[0]!} /> : t("warnings", { count: warnings.length })}</div>
      ) : null}
      <Handle type="source" position={Position.Right} className={handleClass} data-testid={`source-${stage.id}`} aria-label={t("handleOut")} />
    </div>
  );
}

function InputNode({ selected }: NodeProps<InputFlowNode>) {
  const t = useTranslations("editor.node");
  return (
    <div
      data-testid="input-node"
      className={`rounded-lg border-2 border-dashed border-emerald-600 bg-emerald-50 px-4 py-3 text-sm font-medium text-emerald-900 dark:border-emerald-400 dark:bg-emerald-950 dark:text-emerald-100 ${selected ? "ring-2 ring-blue-500" : ""}`}
    >
      {t("input")}
      <Handle type="source" position={Position.Right} className={handleClass} data-testid="source-input" aria-label={t("handleOut")} />
    </div>
  );
}

/** Declared once at module scope, as React Flow asks. */
export const nodeTypes: NodeTypes = { stage: StageNode, userInput: InputNode };
