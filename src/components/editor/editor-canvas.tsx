"use client";
/**
 * The editor's canvas: the stages as React Flow nodes, their inputs as edges, the palette, moves, edges
 * drawn (a cycle refused), selection that follows the keyboard, and what a screen reader says for each
 * node and edge in the page's language.
 */
import { Background, Controls, MarkerType, Panel, ReactFlow, useReactFlow, type AriaLabelConfig, type Connection, type Edge, type EdgeChange, type NodeChange } from "@xyflow/react";
import { useTranslations } from "next-intl";
import { useCallback, useEffect, useId, useMemo, useRef, useState, type Dispatch, type SetStateAction } from "react";
import type { Pipeline, Stage } from "@/config/schema";
import { buttonClass } from "./fields";
import { dataTags, useEditorText } from "./labels";
import type { ModelPresence } from "./model-badge";
import { connectStages, drawnStages, freePosition, inputNodeId, inputNodePosition, newMultiStage, newSingleStage, pipelineEdges, type EditorIssue, type Point, type Refusal } from "./pipeline-graph";
import { nodeTypes, type EditorFlowNode } from "./stage-node";

/** A keyboard focus ring on React Flow's node wrapper, whose own style sets `outline: none`. */
const nodeFocusClass = "rounded-lg focus-visible:outline-3! focus-visible:outline-offset-4! focus-visible:outline-blue-500! focus-visible:outline-solid!";
/**
 * Edge colours that stand out from the canvas in both themes (3:1 or more, WCAG's contrast for graphics;
 * React Flow's own grey is about 2:1 on white and 1.7:1 on its dark canvas), the user's input in the input
 * node's green. Set as variables on the canvas, so that the arrowheads (drawn elsewhere in the SVG) follow.
 */
const canvasColours =
  "[--editor-edge:var(--color-neutral-500)] dark:[--editor-edge:var(--color-neutral-400)] [--editor-input-edge:var(--color-emerald-600)] dark:[--editor-input-edge:var(--color-emerald-400)] [--xy-edge-stroke-selected:var(--color-blue-600)] dark:[--xy-edge-stroke-selected:var(--color-blue-400)]";
/** A stage's edge: thicker when focused, through the variables React Flow's edge styles read. */
const edgeClass = "[--xy-edge-stroke:var(--editor-edge)] [--xy-edge-stroke-width:2px] focus-visible:[--xy-edge-stroke-width:4px] focus-visible:[--xy-edge-stroke-selected:var(--color-blue-500)]";
const inputEdgeClass = "[--xy-edge-stroke:var(--editor-input-edge)] [--xy-edge-stroke-width:2px]";

/** The first view shows the whole pipeline, on a phone too: zoomed out as far as that takes, since a stage out of sight is missed. */
const fitViewOptions = { padding: 0.2, maxZoom: 1.2, minZoom: 0.2 };

export interface EditorCanvasProps {
  pipeline: Pipeline;
  /** Where the automatic layout put the stages that have no position of their own (see `automaticPositions`). */
  automatic: ReadonlyMap<string, Point>;
  issues: readonly EditorIssue[];
  presence: ModelPresence;
  /** The models a new stage gets: present ones first. */
  defaultModels: readonly string[];
  selectedNodes: readonly string[];
  selectedEdges: readonly string[];
  setSelectedNodes: Dispatch<SetStateAction<string[]>>;
  setSelectedEdges: Dispatch<SetStateAction<string[]>>;
  /** A change of the pipeline; `key` groups changes in a row into one undo step (each step of a drag). */
  onEdit: (update: (pipeline: Pipeline) => Pipeline, key?: string) => void;
  onDelete: (stageIds: string[], edges: Array<{ source: string; target: string }>) => void;
  /** Enter on the selected node or edge: the inspector takes the focus. */
  onEnter: () => void;
  /** Counts up when the view should fit the pipeline again (a pipeline loaded, a layout). */
  fitRequest: number;
}

export function EditorCanvas({ pipeline, automatic, issues, presence, defaultModels, selectedNodes, selectedEdges, setSelectedNodes, setSelectedEdges, onEdit, onDelete, onEnter, fitRequest }: EditorCanvasProps) {
  const t = useTranslations("editor");
  const text = useEditorText();
  const { fitView, screenToFlowPosition } = useReactFlow();
  const [sizes, setSizes] = useState<Record<string, { width: number; height: number }>>({});
  const [alert, setAlert] = useState<Refusal | null>(null);
  const canvasRef = useRef<HTMLDivElement>(null);
  const labelPrefix = useId();

  useEffect(() => {
    if (fitRequest === 0) return;
    const timer = setTimeout(() => void fitView(fitViewOptions), 60);
    return () => clearTimeout(timer);
  }, [fitRequest, fitView]);

  const problemsOf = useCallback(
    (stageId: string) => ({
      errors: issues.filter((issue) => issue.stageId === stageId && issue.severity === "error"),
      warnings: issues.filter((issue) => issue.stageId === stageId && issue.severity === "warning"),
    }),
    [issues],
  );

  const drawn = useMemo(() => drawnStages(pipeline.stages, automatic), [pipeline, automatic]);
  const nodes: EditorFlowNode[] = useMemo(() => {
    const withSize = <N extends EditorFlowNode>(node: N): N => (sizes[node.id] ? { ...node, measured: sizes[node.id] } : node);
    const input = withSize<EditorFlowNode>({
      id: inputNodeId,
      type: "userInput",
      position: inputNodePosition(drawn),
      data: {},
      draggable: false,
      deletable: false,
      selectable: false,
      // Nothing to do with it by keyboard; each stage's name says whether it reads the user's input.
      focusable: false,
      ariaLabel: t("aria.input"),
      domAttributes: { "aria-roledescription": t("aria.nodeRole") },
    });
    return [
      input,
      ...pipeline.stages.map((stage, index) =>
        withSize<EditorFlowNode>({
          id: stage.id,
          type: "stage",
          position: drawn[index]!.position,
          selected: selectedNodes.includes(stage.id),
          className: nodeFocusClass,
          // Named by the labels below (ids marked as data), not by an aria-label in one language.
          domAttributes: { "aria-labelledby": `${labelPrefix}-node-${stage.id}`, "aria-describedby": `${labelPrefix}-node-help`, "aria-roledescription": t("aria.nodeRole") },
          data: { stage, presence, ...problemsOf(stage.id) },
        }),
      ),
    ];
  }, [pipeline, drawn, sizes, selectedNodes, presence, problemsOf, labelPrefix, t]);

  const flowEdges = useMemo(() => pipelineEdges(pipeline), [pipeline]);
  const edges: Edge[] = useMemo(
    () =>
      flowEdges.map((edge) => ({
        id: edge.id,
        source: edge.source,
        target: edge.target,
        deletable: !edge.fromInput,
        selectable: !edge.fromInput,
        focusable: !edge.fromInput,
        className: edge.fromInput ? inputEdgeClass : edgeClass,
        selected: selectedEdges.includes(edge.id),
        markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18, color: edge.fromInput ? "var(--editor-input-edge)" : "var(--editor-edge)" },
        style: edge.fromInput ? { strokeDasharray: "6 4" } : undefined,
        // React Flow writes no aria-label for null (its default one is English).
        ariaLabel: null as unknown as string,
        domAttributes: {
          "aria-labelledby": `${labelPrefix}-edge-${edge.id}`,
          "aria-roledescription": t("aria.edgeRole"),
          ...(edge.fromInput ? {} : { "aria-describedby": `${labelPrefix}-edge-help` }),
        },
      })),
    [flowEdges, selectedEdges, labelPrefix, t],
  );

  const ariaLabelConfig: Partial<AriaLabelConfig> = useMemo(
    () => ({
      // The nodes' and edges' descriptions are this page's own (aria-describedby above), with key names marked as such.
      "node.a11yDescription.default": "",
      "node.a11yDescription.keyboardDisabled": "",
      "edge.a11yDescription.default": "",
      "node.a11yDescription.ariaLiveMessage": ({ direction, x, y }: { direction: string; x: number; y: number }) =>
        t("aria.moved", { direction: t(`aria.directions.${direction as "up" | "down" | "left" | "right"}`), x, y }),
      "controls.ariaLabel": t("aria.controls"),
      "controls.zoomIn.ariaLabel": t("aria.zoomIn"),
      "controls.zoomOut.ariaLabel": t("aria.zoomOut"),
      "controls.fitView.ariaLabel": t("aria.fitView"),
      "controls.interactive.ariaLabel": t("aria.interactive"),
      "minimap.ariaLabel": t("aria.minimap"),
      "handle.ariaLabel": t("aria.handle"),
    }),
    [t],
  );

  const onNodesChange = useCallback(
    (changes: NodeChange<EditorFlowNode>[]) => {
      const measured: Record<string, { width: number; height: number }> = {};
      const moved = new Map<string, { x: number; y: number }>();
      let selection: Map<string, boolean> | null = null;
      for (const change of changes) {
        if (change.type === "dimensions" && change.dimensions) measured[change.id] = change.dimensions;
        if (change.type === "position" && change.position && change.id !== inputNodeId) moved.set(change.id, change.position);
        if (change.type === "select") (selection ??= new Map()).set(change.id, change.selected);
      }
      if (Object.keys(measured).length > 0) setSizes((current) => ({ ...current, ...measured }));
      if (moved.size > 0) {
        onEdit(
          (current) => ({
            ...current,
            stages: current.stages.map((stage) => {
              const position = moved.get(stage.id);
              return position ? { ...stage, position: { x: Math.round(position.x), y: Math.round(position.y) } } : stage;
            }),
          }),
          `move:${[...moved.keys()].sort().join(",")}`,
        );
      }
      if (selection) {
        const changed = selection;
        setSelectedNodes((current) => [...current.filter((id) => changed.get(id) !== false), ...[...changed].filter(([id, on]) => on && !current.includes(id)).map(([id]) => id)]);
      }
    },
    [onEdit, setSelectedNodes],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      const selection = new Map<string, boolean>();
      for (const change of changes) if (change.type === "select") selection.set(change.id, change.selected);
      if (selection.size > 0) setSelectedEdges((current) => [...current.filter((id) => selection.get(id) !== false), ...[...selection].filter(([id, on]) => on && !current.includes(id)).map(([id]) => id)]);
    },
    [setSelectedEdges],
  );

  const onConnect = useCallback(
    (connection: Connection) => {
      const result = connectStages(pipeline, connection.source, connection.target);
      if (!result.ok) {
        setAlert(result.refusal);
        return;
      }
      setAlert(null);
      onEdit(() => result.pipeline);
    },
    [pipeline, onEdit],
  );

  const addStage = (type: Stage["type"]) => {
    const rect = canvasRef.current?.getBoundingClientRect();
    const center = rect ? screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 3 }) : { x: 300, y: 0 };
    const position = freePosition(drawn, { x: center.x - 112, y: center.y - 50 });
    const stage = type === "single" ? newSingleStage(pipeline, defaultModels[0] ?? "", position) : newMultiStage(pipeline, defaultModels, position);
    onEdit((current) => ({ ...current, stages: [...current.stages, stage] }));
    setSelectedNodes([stage.id]);
    setSelectedEdges([]);
  };

  // Selection follows keyboard focus on the canvas, so that Delete and the inspector act on what has the focus.
  const onCanvasFocus = (event: React.FocusEvent<HTMLDivElement>) => {
    const target = event.target;
    if (!(target instanceof Element) || !target.matches(":focus-visible")) return;
    const id = target.getAttribute("data-id");
    if (id === null) return;
    if (target.classList.contains("react-flow__node") && id !== inputNodeId) {
      setSelectedNodes([id]);
      setSelectedEdges([]);
    } else if (target.classList.contains("react-flow__edge") && target.classList.contains("selectable")) {
      setSelectedEdges([id]);
      setSelectedNodes([]);
    }
  };
  // Enter on the selected node or edge moves the focus to the inspector (React Flow's Enter only selects).
  const onCanvasKeyDown = (event: React.KeyboardEvent<HTMLDivElement>) => {
    const target = event.target;
    if (event.key !== "Enter" || !(target instanceof Element)) return;
    const id = target.getAttribute("data-id");
    const selection = target.classList.contains("react-flow__node") ? selectedNodes : target.classList.contains("react-flow__edge") ? selectedEdges : [];
    if (id === null || selection.length !== 1 || selection[0] !== id) return;
    event.preventDefault();
    onEnter();
  };

  return (
    <div
      ref={canvasRef}
      data-testid="canvas"
      onFocus={onCanvasFocus}
      onKeyDown={onCanvasKeyDown}
      className={`relative h-[calc(100vh-16rem)] min-h-[420px] overflow-hidden rounded-lg border border-neutral-200 dark:border-neutral-800 ${canvasColours}`}
    >
      {/* Before the canvas in the page, so that Tab reaches it before the nodes and edges. */}
      <div className="absolute left-2 top-2 z-10 flex flex-col gap-1.5 rounded-lg border border-neutral-200 bg-white/90 p-2 shadow-sm sm:left-4 sm:top-4 dark:border-neutral-800 dark:bg-neutral-900/90" role="group" aria-label={t("palette.label")}>
        <span className="text-[10px] font-semibold uppercase tracking-wide text-neutral-500 dark:text-neutral-400">{t("palette.title")}</span>
        <button type="button" className={buttonClass} onClick={() => addStage("single")} data-testid="add-single">
          {t("palette.single")}
        </button>
        <button type="button" className={buttonClass} onClick={() => addStage("multi")} data-testid="add-multi">
          {t("palette.multi")}
        </button>
      </div>
      {alert ? (
        <div
          role="alert"
          data-testid="canvas-alert"
          className="absolute left-1/2 top-2 z-10 flex max-w-[90%] -translate-x-1/2 items-center gap-3 rounded border border-red-400 bg-red-50 px-3 py-2 text-sm text-red-900 shadow dark:border-red-700 dark:bg-red-950 dark:text-red-100"
        >
          <span>{text.refusal(alert)}</span>
          <button type="button" className="text-xs underline" onClick={() => setAlert(null)} aria-label={t("canvas.dismissLabel")}>
            {t("canvas.dismiss")}
          </button>
        </div>
      ) : null}
      <ReactFlow<EditorFlowNode, Edge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onDelete={({ nodes: removedNodes, edges: removedEdges }) => onDelete(removedNodes.map((node) => node.id), removedEdges)}
        deleteKeyCode={["Delete", "Backspace"]}
        ariaLabelConfig={ariaLabelConfig}
        colorMode="system"
        fitView
        fitViewOptions={fitViewOptions}
        minZoom={0.2}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls className="[&_button:focus-visible]:outline-2 [&_button:focus-visible]:-outline-offset-2 [&_button:focus-visible]:outline-blue-500" />
        {pipeline.stages.length === 0 ? (
          <Panel position="top-center">
            <p className="mt-10 rounded bg-white/90 px-3 py-2 text-sm text-neutral-600 dark:bg-neutral-900/90 dark:text-neutral-300">{t("canvas.empty")}</p>
          </Panel>
        ) : null}
      </ReactFlow>
      {/* What a screen reader says for each node and edge (their aria-labelledby and aria-describedby). */}
      <div hidden>
        {pipeline.stages.map((stage) => {
          const problems = problemsOf(stage.id);
          return (
            <span key={stage.id} id={`${labelPrefix}-node-${stage.id}`}>
              {text.stageName(stage, { errors: problems.errors.length, warnings: problems.warnings.length })}
            </span>
          );
        })}
        {flowEdges.map((edge) => (
          <span key={edge.id} id={`${labelPrefix}-edge-${edge.id}`}>
            {text.edgeName(edge)}
          </span>
        ))}
        <span id={`${labelPrefix}-node-help`}>{t.rich("aria.nodeDescription", dataTags)}</span>
        <span id={`${labelPrefix}-edge-help`}>{t.rich("aria.edgeDescription", dataTags)}</span>
      </div>
    </div>
  );
}
