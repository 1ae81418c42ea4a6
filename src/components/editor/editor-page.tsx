"use client";
/**
 * The pipeline editor: a React Flow canvas of the stages, a palette, an inspector of the selected stage,
 * live validation, undo/redo, and saves that never overwrite a file changed since it was opened.
 */
import "@xyflow/react/dist/style.css";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import {
  Background,
  Controls,
  MarkerType,
  Panel,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { describeError, useTRPC, useTRPCClient } from "@/client/trpc";
import { followRunEarly } from "@/components/run/use-run-stream";
import { newRunId } from "@/store/run-id";
import type { Pipeline, Stage } from "@/config/schema";
import { buttonClass, headingClass, inputClass, primaryButtonClass } from "./fields";
import { createHistory, pushHistory, redoHistory, undoHistory, type History } from "./history";
import { Inspector } from "./inspector";
import {
  applyLayout,
  connectStages,
  disconnectStages,
  edgeLabel,
  freePosition,
  inputNodeId,
  inputNodePosition,
  newMultiStage,
  newSingleStage,
  pipelineEdges,
  pipelineNamePattern,
  removeStages,
  renameStage,
  sameValue,
  schemaIssues,
  stageLabel,
  withPositions,
  type EditorIssue,
} from "./pipeline-graph";
import { nodeTypes, type EditorFlowNode } from "./stage-node";

/** The pipeline being edited, where it comes from, and its undo history. */
interface EditorDocument {
  name: string;
  /** The version of the file it was opened or last saved at; null for a file not written yet. */
  version: string | null;
  /** What the file holds (as last loaded or saved); null for a file not written yet. */
  saved: Pipeline | null;
  history: History<Pipeline>;
}

/** A file that exists but does not parse: shown with its issues, not editable. */
interface BrokenFile {
  name: string;
  file: string;
  text: string | null;
  issues: EditorIssue[];
}

const validationDelayMs = 300;

function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return debounced;
}

/** A field with its own undo (text typed in it): Ctrl+Z there is the browser's, not the editor's. */
function isTextTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement) return true;
  return target instanceof HTMLInputElement && !["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"].includes(target.type);
}

/** A keyboard focus ring on React Flow's node wrapper, whose own style sets `outline: none`. */
const nodeFocusClass = "rounded-lg focus-visible:outline-3! focus-visible:outline-offset-4! focus-visible:outline-blue-500! focus-visible:outline-solid!";
/** A focused edge: thicker and blue, through the variables React Flow's edge styles read. */
const edgeClass = "[--xy-edge-stroke-width:2px] focus-visible:[--xy-edge-stroke-width:4px] focus-visible:[--xy-edge-stroke-selected:var(--color-blue-500)]";

/** What React Flow tells a screen reader about a node or an edge, for this editor's keys. */
const nodeDescription = "Focus selects the stage and shows it in the inspector; Enter moves to its fields there. Arrow keys move it (with Shift, faster). Delete removes it, Escape deselects.";
const ariaLabelConfig = {
  // React Flow reads one key or the other depending on its version and disableKeyboardA11y: the same text for both.
  "node.a11yDescription.default": nodeDescription,
  "node.a11yDescription.keyboardDisabled": nodeDescription,
  "edge.a11yDescription.default": "Focus selects the edge; Enter moves to the inspector. Delete removes it, Escape deselects.",
  "node.a11yDescription.ariaLiveMessage": ({ direction, x, y }: { direction: string; x: number; y: number }) => `Moved the stage ${direction}, to x ${x}, y ${y}.`,
};

function isConflict(error: unknown): boolean {
  return error instanceof TRPCClientError && (error.data as { code?: string } | undefined)?.code === "CONFLICT";
}

export function EditorPage() {
  return (
    <ReactFlowProvider>
      <Editor />
    </ReactFlowProvider>
  );
}

function Editor() {
  const searchParams = useSearchParams();
  const urlName = searchParams.get("pipeline") || "base";
  const router = useRouter();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const { fitView, screenToFlowPosition } = useReactFlow();
  // The input of "Run ▶": the last run's input to start with.
  const latest = useQuery(trpc.sessions.list.queryOptions({ limit: 1 }));
  const latestId = latest.data?.items[0]?.id;
  // The whole input (the list has a preview of it, cut at 200 characters).
  const latestSession = useQuery({ ...trpc.sessions.get.queryOptions({ id: latestId ?? "" }), enabled: latestId !== undefined, staleTime: Infinity });
  const [runInput, setRunInput] = useState<string | null>(null);
  const runText = runInput ?? latestSession.data?.input ?? "";

  const [editing, setEditing] = useState<EditorDocument | null>(null);
  const [broken, setBroken] = useState<BrokenFile | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [alert, setAlert] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [nameForm, setNameForm] = useState<"new" | "save-as" | null>(null);
  const [selectedNodes, setSelectedNodes] = useState<string[]>([]);
  const [selectedEdges, setSelectedEdges] = useState<string[]>([]);
  const [sizes, setSizes] = useState<Record<string, { width: number; height: number }>>({});
  const [fitRequest, setFitRequest] = useState(0);
  const canvasRef = useRef<HTMLDivElement>(null);
  const inspectorRef = useRef<HTMLElement>(null);
  /** The name of the pipeline in the editor, read by the loader without making it re-run. */
  const editingName = useRef<string | null>(null);
  editingName.current = editing?.name ?? null;

  const models = useQuery(trpc.models.list.queryOptions());
  const pipelines = useQuery(trpc.pipelines.list.queryOptions());
  const saveMutation = useMutation(trpc.pipelines.save.mutationOptions());

  const modelNames = useMemo(() => models.data?.models.map((model) => model.name) ?? [], [models.data]);
  const presence = useMemo(() => (models.data ? new Map(models.data.models.map((model) => [model.name, model.present])) : undefined), [models.data]);
  const defaultModels = useMemo(() => {
    const present = models.data?.models.filter((model) => model.present).map((model) => model.name) ?? [];
    return present.length > 0 ? present : modelNames;
  }, [models.data, modelNames]);

  const load = useCallback(
    async (name: string) => {
      setLoadError(null);
      try {
        const source = await queryClient.fetchQuery({ ...trpc.pipelines.get.queryOptions({ name }), staleTime: 0 });
        if (source.pipeline === null) {
          setBroken({ name, file: source.file, text: source.text, issues: source.issues.map((issue) => ({ severity: "error", message: issue.message, path: issue.path, stageId: issue.stageId })) });
          setEditing(null);
          return;
        }
        const pipeline = withPositions(source.pipeline);
        setBroken(null);
        setConflict(null);
        setSelectedNodes([]);
        setSelectedEdges([]);
        setEditing({ name, version: source.version, saved: pipeline, history: createHistory(pipeline) });
        setFitRequest((count) => count + 1);
      } catch (error) {
        setLoadError(describeError(error));
        setEditing(null);
        setBroken(null);
      }
    },
    [queryClient, trpc],
  );

  useEffect(() => {
    // A pipeline already in the editor under this name (a new pipeline, or one just saved under a new name) is not reloaded.
    if (editingName.current === urlName) return;
    void load(urlName);
  }, [urlName, load]);

  useEffect(() => {
    if (fitRequest === 0) return;
    const timer = setTimeout(() => void fitView({ padding: 0.2, maxZoom: 1.2 }), 60);
    return () => clearTimeout(timer);
  }, [fitRequest, fitView]);

  const pipeline = editing?.history.present ?? null;
  const dirty = editing !== null && (editing.saved === null || !sameValue(editing.history.present, editing.saved));

  const edit = useCallback((update: (pipeline: Pipeline) => Pipeline, key?: string) => {
    setEditing((current) => (current ? { ...current, history: pushHistory(current.history, update(current.history.present), key) } : current));
  }, []);
  const undo = useCallback(() => setEditing((current) => (current ? { ...current, history: undoHistory(current.history) } : current)), []);
  const redo = useCallback(() => setEditing((current) => (current ? { ...current, history: redoHistory(current.history) } : current)), []);

  // Live validation: the schema on the client first; the server checks models and templates of a pipeline that passes it.
  const debounced = useDebounced(pipeline, validationDelayMs);
  const localIssues = useMemo(() => (debounced ? schemaIssues(debounced) : []), [debounced]);
  const validation = useQuery({
    ...trpc.pipelines.validate.queryOptions({ name: editing?.name ?? urlName, pipeline: debounced! }),
    enabled: debounced !== null && localIssues.length === 0,
    staleTime: 0,
    placeholderData: (previous) => previous,
  });
  const issues: EditorIssue[] = useMemo(() => {
    if (localIssues.length > 0) return localIssues;
    if (!validation.data) return [];
    return [
      ...validation.data.errors.map((issue) => ({ severity: "error" as const, message: issue.message, path: issue.path, stageId: issue.stageId })),
      ...validation.data.warnings.map((issue) => ({ severity: "warning" as const, message: issue.message, path: issue.path, stageId: issue.stageId })),
    ];
  }, [localIssues, validation.data]);

  const nodes: EditorFlowNode[] = useMemo(() => {
    if (!pipeline) return [];
    const withSize = <N extends EditorFlowNode>(node: N): N => (sizes[node.id] ? { ...node, measured: sizes[node.id] } : node);
    const input = withSize<EditorFlowNode>({
      id: inputNodeId,
      type: "userInput",
      position: inputNodePosition(pipeline.stages),
      data: {},
      draggable: false,
      deletable: false,
      selectable: false,
      // Nothing to do with it by keyboard; each stage's name says whether it reads the user's input.
      focusable: false,
      ariaLabel: "The user's input",
    });
    return [
      input,
      ...pipeline.stages.map((stage) => {
        const errors = issues.filter((issue) => issue.stageId === stage.id && issue.severity === "error").map((issue) => issue.message);
        const warnings = issues.filter((issue) => issue.stageId === stage.id && issue.severity === "warning").map((issue) => issue.message);
        return withSize<EditorFlowNode>({
          id: stage.id,
          type: "stage",
          position: stage.position ?? { x: 0, y: 0 },
          selected: selectedNodes.includes(stage.id),
          className: nodeFocusClass,
          ariaLabel: stageLabel(stage, { errors: errors.length, warnings: warnings.length }),
          data: { stage, presence, errors, warnings },
        });
      }),
    ];
  }, [pipeline, sizes, selectedNodes, presence, issues]);

  const edges: Edge[] = useMemo(
    () =>
      pipeline
        ? pipelineEdges(pipeline).map((edge) => ({
            id: edge.id,
            source: edge.source,
            target: edge.target,
            deletable: !edge.fromInput,
            selectable: !edge.fromInput,
            focusable: !edge.fromInput,
            className: edge.fromInput ? undefined : edgeClass,
            selected: selectedEdges.includes(edge.id),
            markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 },
            style: edge.fromInput ? { strokeDasharray: "5 4" } : undefined,
            ariaLabel: edgeLabel(edge),
          }))
        : [],
    [pipeline, selectedEdges],
  );

  const onNodesChange = useCallback(
    (changes: NodeChange<EditorFlowNode>[]) => {
      const measured: Record<string, { width: number; height: number }> = {};
      const moved = new Map<string, { x: number; y: number }>();
      let dragging = false;
      let selection: Map<string, boolean> | null = null;
      for (const change of changes) {
        if (change.type === "dimensions" && change.dimensions) measured[change.id] = change.dimensions;
        if (change.type === "position" && change.position && change.id !== inputNodeId) {
          moved.set(change.id, change.position);
          dragging ||= change.dragging === true;
        }
        if (change.type === "select") (selection ??= new Map()).set(change.id, change.selected);
      }
      if (Object.keys(measured).length > 0) setSizes((current) => ({ ...current, ...measured }));
      if (moved.size > 0) {
        edit(
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
    [edit],
  );

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    const selection = new Map<string, boolean>();
    for (const change of changes) if (change.type === "select") selection.set(change.id, change.selected);
    if (selection.size > 0) setSelectedEdges((current) => [...current.filter((id) => selection.get(id) !== false), ...[...selection].filter(([id, on]) => on && !current.includes(id)).map(([id]) => id)]);
  }, []);

  const onConnect = useCallback(
    (connection: Connection) => {
      if (!pipeline) return;
      const result = connectStages(pipeline, connection.source, connection.target);
      if (!result.ok) {
        setAlert(result.message);
        return;
      }
      setAlert(null);
      edit(() => result.pipeline);
    },
    [pipeline, edit],
  );

  const deleteElements = useCallback(
    (stageIds: string[], edgeList: Array<{ source: string; target: string }>) => {
      const removed = new Set(stageIds.filter((id) => id !== inputNodeId));
      edit((current) => {
        let next = removeStages(current, removed);
        for (const edge of edgeList) if (!removed.has(edge.source) && !removed.has(edge.target)) next = disconnectStages(next, edge.source, edge.target);
        return next;
      });
      setSelectedNodes((current) => current.filter((id) => !removed.has(id)));
      setSelectedEdges([]);
    },
    [edit],
  );

  const addStage = (type: Stage["type"]) => {
    if (!pipeline) return;
    const rect = canvasRef.current?.getBoundingClientRect();
    const center = rect ? screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 3 }) : { x: 300, y: 0 };
    const position = freePosition(pipeline.stages, { x: center.x - 112, y: center.y - 50 });
    const stage = type === "single" ? newSingleStage(pipeline, defaultModels[0] ?? "", position) : newMultiStage(pipeline, defaultModels, position);
    edit((current) => ({ ...current, stages: [...current.stages, stage] }));
    setSelectedNodes([stage.id]);
    setSelectedEdges([]);
  };

  const autoLayout = () => {
    edit((current) => applyLayout(current));
    setFitRequest((count) => count + 1);
  };

  const save = useCallback(
    async (target?: string): Promise<boolean> => {
      if (!editing) return false;
      const current = editing.history.present;
      const problems = schemaIssues(current);
      if (problems.length > 0) {
        setNotice({ kind: "error", text: `Not saved: ${problems.map((issue) => `${issue.path ? `${issue.path}: ` : ""}${issue.message}`).join("; ")}` });
        return false;
      }
      const name = target ?? editing.name;
      try {
        const saved = await saveMutation.mutateAsync({ name, pipeline: current, baseVersion: target ? null : editing.version });
        setEditing((latest) => (latest ? { ...latest, name: saved.name, version: saved.version, saved: current } : latest));
        editingName.current = saved.name;
        setConflict(null);
        setNotice({ kind: "ok", text: `Saved to ${saved.file}` });
        void queryClient.invalidateQueries({ queryKey: trpc.pipelines.list.queryKey() });
        if (target && target !== urlName) router.replace(`/editor?pipeline=${encodeURIComponent(saved.name)}`);
        return true;
      } catch (error) {
        if (isConflict(error)) {
          setConflict(describeError(error));
          setNotice(null);
        } else setNotice({ kind: "error", text: `Not saved: ${describeError(error)}` });
        return false;
      }
    },
    [editing, saveMutation, queryClient, trpc, router, urlName],
  );

  /** One click: saves if needed, starts a run of this pipeline with the input beside the button, and follows it on the Run page. */
  const run = async () => {
    if (!editing) return;
    if (dirty && !(await save())) return;
    const name = editing.name;
    if (!runText.trim()) {
      router.push(`/?pipeline=${encodeURIComponent(name)}`);
      return;
    }
    const id = newRunId();
    followRunEarly(client, id);
    try {
      await client.runs.start.mutate({ pipeline: name, input: runText, id });
      router.push(`/?pipeline=${encodeURIComponent(name)}&run=${id}`);
    } catch (error) {
      setNotice({ kind: "error", text: `The run could not start: ${describeError(error)}` });
    }
  };

  const reloadFromDisk = () => {
    if (dirty && !window.confirm("Reload from disk and lose your unsaved changes?")) return;
    void load(editing?.name ?? urlName);
  };

  const openPipeline = (name: string) => {
    if (name === editing?.name) return;
    if (dirty && !window.confirm("You have unsaved changes. Open another pipeline and lose them?")) return;
    editingName.current = null;
    router.push(`/editor?pipeline=${encodeURIComponent(name)}`);
  };

  const createPipeline = (name: string) => {
    const empty: Pipeline = { stages: [] };
    setEditing({ name, version: null, saved: null, history: createHistory(empty) });
    setBroken(null);
    setConflict(null);
    setSelectedNodes([]);
    setSelectedEdges([]);
    editingName.current = name;
    router.push(`/editor?pipeline=${encodeURIComponent(name)}`);
  };

  // Keyboard: Ctrl+S saves everywhere; undo and redo leave text fields their own undo.
  const keys = useRef({ save, undo, redo });
  keys.current = { save, undo, redo };
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      const key = event.key.toLowerCase();
      if (key === "s") {
        event.preventDefault();
        void keys.current.save();
      } else if (!isTextTarget(event.target) && key === "z") {
        event.preventDefault();
        if (event.shiftKey) keys.current.redo();
        else keys.current.undo();
      } else if (!isTextTarget(event.target) && key === "y") {
        event.preventDefault();
        keys.current.redo();
      }
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);

  // Leaving with unsaved changes: the browser asks on unload; links inside the app ask here.
  useEffect(() => {
    if (!dirty) return;
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = "";
    };
    const onClick = (event: MouseEvent) => {
      const link = event.target instanceof Element ? event.target.closest("a[href]") : null;
      if (!link || event.defaultPrevented) return;
      if (!window.confirm("You have unsaved changes in the editor. Leave and lose them?")) {
        event.preventDefault();
        event.stopPropagation();
      }
    };
    window.addEventListener("beforeunload", onBeforeUnload);
    window.addEventListener("click", onClick, true);
    return () => {
      window.removeEventListener("beforeunload", onBeforeUnload);
      window.removeEventListener("click", onClick, true);
    };
  }, [dirty]);

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
    inspectorRef.current?.querySelector<HTMLElement>("[data-inspector-heading]")?.focus();
  };

  const selectedStage = pipeline && selectedNodes.length === 1 ? pipeline.stages.find((stage) => stage.id === selectedNodes[0]) : undefined;
  const selectedEdge = selectedEdges.length === 1 ? edges.find((edge) => edge.id === selectedEdges[0]) : undefined;
  const pipelineNames = useMemo(() => {
    const names = pipelines.data?.map((entry) => entry.name) ?? [];
    return names.includes(urlName) ? names : [urlName, ...names];
  }, [pipelines.data, urlName]);
  const errorCount = issues.filter((issue) => issue.severity === "error").length;

  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-center gap-2" role="toolbar" aria-label="Pipeline">
        <h1 className="mr-2 text-lg font-semibold">Editor</h1>
        <label className="flex items-center gap-1 text-sm">
          <span className="text-neutral-600 dark:text-neutral-400">Pipeline</span>
          <select aria-label="Pipeline" data-testid="pipeline-picker" className={`${inputClass} w-48`} value={editing?.name ?? urlName} onChange={(event) => openPipeline(event.target.value)}>
            {(editing && !pipelineNames.includes(editing.name) ? [editing.name, ...pipelineNames] : pipelineNames).map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        {dirty ? (
          <span data-testid="dirty-marker" className="rounded bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-900 dark:bg-amber-950 dark:text-amber-200" title="Unsaved changes">
            ● unsaved
          </span>
        ) : editing ? (
          <span className="text-xs text-neutral-500 dark:text-neutral-400">saved</span>
        ) : null}
        <div className="ml-auto flex flex-wrap items-center gap-2">
          <button type="button" className={buttonClass} onClick={() => setNameForm("new")}>
            New pipeline
          </button>
          <button type="button" className={buttonClass} onClick={undo} disabled={!editing || editing.history.past.length === 0} aria-label="Undo (Ctrl+Z)" title="Undo (Ctrl+Z)">
            Undo
          </button>
          <button type="button" className={buttonClass} onClick={redo} disabled={!editing || editing.history.future.length === 0} aria-label="Redo (Ctrl+Shift+Z)" title="Redo (Ctrl+Shift+Z or Ctrl+Y)">
            Redo
          </button>
          <button type="button" className={buttonClass} onClick={autoLayout} disabled={!pipeline || pipeline.stages.length === 0}>
            Auto layout
          </button>
          <button type="button" className={buttonClass} onClick={() => setNameForm("save-as")} disabled={!editing}>
            Save as…
          </button>
          <button type="button" className={primaryButtonClass} onClick={() => void save()} disabled={!editing || saveMutation.isPending} title="Save (Ctrl+S)">
            {saveMutation.isPending ? "Saving…" : "Save"}
          </button>
          <input
            aria-label="Input for a run"
            data-testid="run-input"
            className={inputClass.replace("w-full", "w-48")}
            placeholder="input for Run ▶"
            value={runText}
            onChange={(event) => setRunInput(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === "Enter") void run();
            }}
          />
          <button type="button" className={buttonClass} onClick={() => void run()} disabled={!editing || saveMutation.isPending} title="Save if needed, run this pipeline on the input beside, and follow it">
            Run ▶
          </button>
        </div>
      </div>

      {nameForm ? (
        <NameForm
          key={nameForm}
          title={nameForm === "new" ? "New pipeline" : "Save as a new pipeline"}
          submitLabel={nameForm === "new" ? "Create" : "Save as"}
          taken={pipelineNames}
          onCancel={() => setNameForm(null)}
          onSubmit={(name) => {
            if (nameForm === "new") {
              if (dirty && !window.confirm("You have unsaved changes. Start a new pipeline and lose them?")) return;
              createPipeline(name);
              setNameForm(null);
            } else {
              void save(name).then((ok) => ok && setNameForm(null));
            }
          }}
        />
      ) : null}

      {conflict ? (
        <div role="alert" data-testid="conflict" className="flex flex-wrap items-center gap-3 rounded border border-red-400 bg-red-50 px-3 py-2 text-sm text-red-900 dark:border-red-700 dark:bg-red-950 dark:text-red-100">
          <span className="flex-1">
            <strong>Not saved: the file changed on disk.</strong> {conflict.replace(/\.?\s*$/, ".")} Your edits are kept here.
          </span>
          <button type="button" className={buttonClass} onClick={reloadFromDisk}>
            Reload from disk
          </button>
          <button type="button" className={buttonClass} onClick={() => setNameForm("save-as")}>
            Save as…
          </button>
        </div>
      ) : null}
      {notice ? (
        <div role={notice.kind === "error" ? "alert" : "status"} data-testid="notice" className={`whitespace-pre-line rounded px-3 py-1.5 text-sm ${notice.kind === "error" ? "bg-red-50 text-red-900 dark:bg-red-950 dark:text-red-100" : "bg-emerald-50 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-100"}`}>
          {notice.text}
        </div>
      ) : null}
      {loadError ? (
        <div role="alert" className="rounded bg-red-50 px-3 py-2 text-sm text-red-900 dark:bg-red-950 dark:text-red-100">
          {loadError}
        </div>
      ) : null}
      {broken ? <BrokenFileView broken={broken} onReload={() => void load(broken.name)} /> : null}

      {pipeline ? (
        <div className="grid grid-cols-1 gap-3 lg:grid-cols-[minmax(0,1fr)_24rem]">
          <div className="flex min-w-0 flex-col gap-3">
            <div ref={canvasRef} data-testid="canvas" onFocus={onCanvasFocus} onKeyDown={onCanvasKeyDown} className="relative h-[calc(100vh-16rem)] min-h-[420px] overflow-hidden rounded-lg border border-neutral-200 dark:border-neutral-800">
              {/* Before the canvas in the page, so that Tab reaches it before the nodes and edges. */}
              <div className="absolute left-4 top-4 z-10 flex flex-col gap-1.5 rounded-lg border border-neutral-200 bg-white/90 p-2 shadow-sm dark:border-neutral-800 dark:bg-neutral-900/90" role="group" aria-label="Palette">
                <span className="text-[10px] font-semibold uppercase tracking-wide text-neutral-500 dark:text-neutral-400">Add a stage</span>
                <button type="button" className={buttonClass} onClick={() => addStage("single")} data-testid="add-single">
                  + Single stage
                </button>
                <button type="button" className={buttonClass} onClick={() => addStage("multi")} data-testid="add-multi">
                  + Multi stage
                </button>
              </div>
              {alert ? (
                <div role="alert" data-testid="canvas-alert" className="absolute left-1/2 top-2 z-10 flex max-w-[90%] -translate-x-1/2 items-center gap-3 rounded border border-red-400 bg-red-50 px-3 py-2 text-sm text-red-900 shadow dark:border-red-700 dark:bg-red-950 dark:text-red-100">
                  <span>{alert}</span>
                  <button type="button" className="text-xs underline" onClick={() => setAlert(null)} aria-label="Dismiss message">
                    Dismiss
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
                onDelete={({ nodes: removedNodes, edges: removedEdges }) => deleteElements(removedNodes.map((node) => node.id), removedEdges)}
                deleteKeyCode={["Delete", "Backspace"]}
                ariaLabelConfig={ariaLabelConfig}
                colorMode="system"
                fitView
                fitViewOptions={{ padding: 0.2, maxZoom: 1.2 }}
                minZoom={0.2}
                proOptions={{ hideAttribution: true }}
              >
                <Background />
                <Controls className="[&_button:focus-visible]:outline-2 [&_button:focus-visible]:-outline-offset-2 [&_button:focus-visible]:outline-blue-500" />
                {pipeline.stages.length === 0 ? (
                  <Panel position="top-center">
                    <p className="mt-10 rounded bg-white/90 px-3 py-2 text-sm text-neutral-600 dark:bg-neutral-900/90 dark:text-neutral-300">An empty pipeline: add a stage from the palette, then draw edges from a node&apos;s right handle to another&apos;s left handle.</p>
                  </Panel>
                ) : null}
              </ReactFlow>
            </div>
            <IssueList issues={issues} pending={validation.isFetching} onSelect={(stageId) => setSelectedNodes([stageId])} />
          </div>
          <aside ref={inspectorRef} aria-label="Inspector" className="max-h-[calc(100vh-8rem)] overflow-y-auto rounded-lg border border-neutral-200 p-3 dark:border-neutral-800">
            {selectedStage ? (
              <Inspector
                key={selectedStage.id}
                stage={selectedStage}
                pipeline={pipeline}
                modelNames={modelNames}
                presence={presence}
                issues={issues.filter((issue) => issue.stageId === selectedStage.id)}
                onChange={(stage, key) => edit((current) => ({ ...current, stages: current.stages.map((item) => (item.id === selectedStage.id ? stage : item)) }), key)}
                onRename={(to) => {
                  const result = renameStage(pipeline, selectedStage.id, to);
                  if (!result.ok) return result.message;
                  edit(() => result.pipeline);
                  setSelectedNodes([to]);
                  return null;
                }}
                onDelete={() => deleteElements([selectedStage.id], [])}
              />
            ) : selectedEdge ? (
              <div className="space-y-3">
                <h2 tabIndex={-1} data-inspector-heading className={headingClass}>
                  Edge {selectedEdge.source} → {selectedEdge.target}
                </h2>
                <p className="text-sm text-neutral-600 dark:text-neutral-400">
                  {selectedEdge.target} reads the output of {selectedEdge.source}.
                </p>
                <button type="button" className={`${buttonClass} text-red-700 dark:text-red-300`} onClick={() => deleteElements([], [selectedEdge])}>
                  Delete edge
                </button>
              </div>
            ) : (
              <PipelineFields pipeline={pipeline} onChange={(next, key) => edit(() => next, key)} />
            )}
            <p className="mt-4 border-t border-neutral-200 pt-2 text-xs text-neutral-500 dark:border-neutral-800 dark:text-neutral-400">
              {errorCount > 0 ? `${errorCount} error${errorCount > 1 ? "s" : ""}. ` : ""}Select a node to edit it: click it, or Tab to it (Enter then moves here). Arrow keys move the selected node; Delete or Backspace removes the selection; Ctrl+Z undoes, Ctrl+Shift+Z or Ctrl+Y redoes, Ctrl+S saves.
            </p>
          </aside>
        </div>
      ) : !broken && !loadError ? (
        <p className="text-sm text-neutral-500">Loading {urlName}…</p>
      ) : null}
    </div>
  );
}

function PipelineFields({ pipeline, onChange }: { pipeline: Pipeline; onChange: (pipeline: Pipeline, key: string) => void }) {
  const set = (field: "name" | "description", value: string) => {
    const next = { ...pipeline, [field]: value };
    if (value === "") delete next[field];
    onChange(next, `pipeline:${field}`);
  };
  return (
    <div className="space-y-3">
      <h2 className="text-sm font-semibold">Pipeline</h2>
      <label className="block space-y-1">
        <span className="text-xs font-medium text-neutral-700 dark:text-neutral-300">title</span>
        <input type="text" className={inputClass} value={pipeline.name ?? ""} onChange={(event) => set("name", event.target.value)} data-testid="pipeline-title" />
      </label>
      <label className="block space-y-1">
        <span className="text-xs font-medium text-neutral-700 dark:text-neutral-300">description</span>
        <textarea rows={3} className={inputClass} value={pipeline.description ?? ""} onChange={(event) => set("description", event.target.value)} />
      </label>
      <p className="text-xs text-neutral-500 dark:text-neutral-400">{pipeline.stages.length} stage{pipeline.stages.length === 1 ? "" : "s"}.</p>
    </div>
  );
}

function IssueList({ issues, pending, onSelect }: { issues: EditorIssue[]; pending: boolean; onSelect: (stageId: string) => void }) {
  return (
    <section aria-label="Validation" data-testid="issues" className="rounded-lg border border-neutral-200 px-3 py-2 text-sm dark:border-neutral-800">
      <h2 className="mb-1 text-xs font-semibold uppercase tracking-wide text-neutral-500 dark:text-neutral-400">
        Validation {pending ? <span className="font-normal normal-case">(checking…)</span> : null}
      </h2>
      {issues.length === 0 ? (
        <p className="text-emerald-700 dark:text-emerald-300">No problems found.</p>
      ) : (
        <ul className="space-y-1">
          {issues.map((issue, index) => (
            <li key={index} className={issue.severity === "error" ? "text-red-700 dark:text-red-300" : "text-amber-800 dark:text-amber-300"}>
              <span className="font-medium">{issue.severity === "error" ? "Error" : "Warning"}</span>
              {issue.stageId ? (
                <>
                  {" in "}
                  <button type="button" className="font-mono underline" onClick={() => onSelect(issue.stageId!)}>
                    {issue.stageId}
                  </button>
                </>
              ) : null}
              : {issue.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function NameForm({ title, submitLabel, taken, onSubmit, onCancel }: { title: string; submitLabel: string; taken: readonly string[]; onSubmit: (name: string) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const problem = name === "" ? null : !pipelineNamePattern.test(name) ? "1 to 64 letters, digits, '_' or '-', starting with a letter or a digit" : taken.includes(name) ? `a pipeline named "${name}" already exists` : null;
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
      <label className="block space-y-1">
        <span className="text-xs font-medium">{title}: name</span>
        <input autoFocus type="text" className={`${inputClass} w-64 font-mono`} value={name} onChange={(event) => setName(event.target.value)} data-testid="pipeline-name-input" aria-invalid={problem ? true : undefined} />
      </label>
      <button type="submit" className={primaryButtonClass} disabled={name === "" || problem !== null}>
        {submitLabel}
      </button>
      <button type="button" className={buttonClass} onClick={onCancel}>
        Cancel
      </button>
      {problem ? <span className="pb-1 text-sm text-red-700 dark:text-red-300">{problem}</span> : null}
    </form>
  );
}

function BrokenFileView({ broken, onReload }: { broken: BrokenFile; onReload: () => void }) {
  return (
    <div className="space-y-2 rounded-lg border border-red-300 p-3 dark:border-red-800">
      <p className="text-sm">
        <strong>{broken.file}</strong> does not parse as a pipeline; fix it by hand, then reload.
      </p>
      <ul className="list-disc pl-5 text-sm text-red-700 dark:text-red-300">
        {broken.issues.map((issue, index) => (
          <li key={index}>
            {issue.path ? `${issue.path}: ` : ""}
            {issue.message}
          </li>
        ))}
      </ul>
      {broken.text !== null ? <pre className="max-h-80 overflow-auto rounded bg-neutral-100 p-2 text-xs dark:bg-neutral-900">{broken.text}</pre> : null}
      <button type="button" className={buttonClass} onClick={onReload}>
        Reload from disk
      </button>
    </div>
  );
}
