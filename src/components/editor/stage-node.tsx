"use client";
/** The canvas's node types: a stage, and the fixed node of the user's input. */
import { Handle, Position, type Node, type NodeProps, type NodeTypes } from "@xyflow/react";
import type { Stage } from "@/config/schema";
import { ModelBadge, type ModelPresence } from "./model-badge";

export type StageNodeData = {
  stage: Stage;
  presence: ModelPresence;
  errors: string[];
  warnings: string[];
};
export type StageFlowNode = Node<StageNodeData, "stage">;
export type InputFlowNode = Node<Record<string, never>, "userInput">;
export type EditorFlowNode = StageFlowNode | InputFlowNode;

const handleClass = "!h-3.5 !w-3.5 !border-2 !border-white !bg-blue-500 dark:!border-neutral-900";

function aggregationLabel(stage: Stage): string | null {
  if (stage.type !== "multi") return null;
  const aggregation = stage.aggregation;
  if (aggregation.method === "synthesis") return `synthesis by ${aggregation.model}`;
  return aggregation.method;
}

function StageNode({ data, selected }: NodeProps<StageFlowNode>) {
  const { stage, presence, errors, warnings } = data;
  const models = stage.type === "single" ? [stage.model] : stage.models;
  const border = errors.length > 0 ? "border-red-500 dark:border-red-500" : warnings.length > 0 ? "border-amber-500" : "border-neutral-300 dark:border-neutral-700";
  return (
    <div
      data-testid={`stage-node-${stage.id}`}
      title={[...errors, ...warnings].join("\n") || undefined}
      className={`w-56 rounded-lg border-2 bg-white px-3 py-2 text-left text-xs shadow-sm dark:bg-neutral-900 ${border} ${selected ? "ring-2 ring-blue-500 ring-offset-1 dark:ring-offset-neutral-950" : ""}`}
    >
      <Handle type="target" position={Position.Left} className={handleClass} data-testid={`target-${stage.id}`} aria-label={`Input of ${stage.id}`} />
      <div className="flex items-baseline justify-between gap-2">
        <span className="truncate font-mono text-sm font-semibold text-neutral-900 dark:text-neutral-50">{stage.id}</span>
        <span className={`rounded px-1.5 py-0.5 text-[10px] font-medium uppercase tracking-wide ${stage.type === "multi" ? "bg-violet-100 text-violet-800 dark:bg-violet-950 dark:text-violet-200" : "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-200"}`}>
          {stage.type}
        </span>
      </div>
      {stage.name && stage.name !== stage.id ? <div className="truncate text-neutral-600 dark:text-neutral-400">{stage.name}</div> : null}
      <ul className="mt-1.5 space-y-1">
        {models.map((model, index) => (
          <li key={`${model}-${index}`} className="flex items-center justify-between gap-2">
            <span className="truncate font-mono text-neutral-800 dark:text-neutral-200">{model || "(no model)"}</span>
            <ModelBadge model={model} presence={presence} />
          </li>
        ))}
      </ul>
      {stage.type === "multi" ? (
        <div className="mt-1.5 border-t border-neutral-200 pt-1 text-neutral-600 dark:border-neutral-700 dark:text-neutral-400">
          aggregation: <span className="font-medium text-neutral-800 dark:text-neutral-200">{aggregationLabel(stage)}</span>
        </div>
      ) : null}
      {errors.length > 0 ? (
        <div data-testid={`stage-errors-${stage.id}`} className="mt-1.5 rounded bg-red-50 px-1.5 py-1 text-red-800 dark:bg-red-950 dark:text-red-200">
          {errors.length === 1 ? errors[0] : `${errors.length} errors: ${errors[0]}`}
        </div>
      ) : warnings.length > 0 ? (
        <div className="mt-1.5 rounded bg-amber-50 px-1.5 py-1 text-amber-900 dark:bg-amber-950 dark:text-amber-200">{warnings.length === 1 ? warnings[0] : `${warnings.length} warnings`}</div>
      ) : null}
      <Handle type="source" position={Position.Right} className={handleClass} data-testid={`source-${stage.id}`} aria-label={`Output of ${stage.id}`} />
    </div>
  );
}

function InputNode({ selected }: NodeProps<InputFlowNode>) {
  return (
    <div
      data-testid="input-node"
      className={`rounded-lg border-2 border-dashed border-emerald-500 bg-emerald-50 px-4 py-3 text-sm font-medium text-emerald-900 dark:bg-emerald-950 dark:text-emerald-100 ${selected ? "ring-2 ring-blue-500" : ""}`}
    >
      User input
      <Handle type="source" position={Position.Right} className={handleClass} data-testid="source-input" aria-label="The user's input" />
    </div>
  );
}

/** Declared once at module scope, as React Flow asks. */
export const nodeTypes: NodeTypes = { stage: StageNode, userInput: InputNode };
