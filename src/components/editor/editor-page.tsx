"use client";
/**
 * The pipeline editor: a React Flow canvas of the stages, a palette, an inspector of the selected stage,
 * live validation, undo/redo, saves that never overwrite a file changed since it was opened, and runs of
 * the pipeline as it is on the canvas, saved or not.
 */
import "@xyflow/react/dist/style.css";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import { ReactFlowProvider } from "@xyflow/react";
import { useTranslations } from "next-intl";
import { useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { useTRPC, useTRPCClient } from "@/client/trpc";
import { PlanPanel } from "@/components/run/plan-panel";
import { followRunEarly } from "@/components/run/use-run-stream";
import { useDescribeError } from "@/components/use-describe-error";
import { newRunId } from "@/store/run-id";
import type { Pipeline } from "@/config/schema";
import { DeleteDialog } from "./delete-dialog";
import { keepDraft, takeDraft } from "./draft";
import { EditorCanvas } from "./editor-canvas";
import { buttonClass, headingClass, inputClass, primaryButtonClass } from "./fields";
import { createHistory, pushHistory, redoHistory, undoHistory, type History } from "./history";
import { Inspector } from "./inspector";
import { IssueList } from "./issues";
import { dataTags } from "./labels";
import { asErrors, Confirm, NoticeView, type Confirmation, type Notice } from "./notices";
import { BrokenFileView, NameForm, PipelineFields } from "./pipeline-forms";
import { applyLayout, automaticPositions, disconnectStages, inputNodeId, modelFix, pipelineEdges, readersOf, removeStages, renameStage, sameValue, schemaIssues, setStageModel, type EditorIssue, type Point } from "./pipeline-graph";

/** The pipeline being edited, where it comes from, and its undo history. */
interface EditorDocument {
  name: string;
  /** The version of the file it was opened or last saved at; null for a file not written yet. */
  version: string | null;
  /** What the file holds (as last loaded or saved); null for a file not written yet. */
  saved: Pipeline | null;
  history: History<Pipeline>;
  /**
   * Where the stages without a position of their own are drawn, laid out when the pipeline was opened. Kept
   * beside the pipeline, not in it: a save writes a position only for a stage the user placed.
   */
  automatic: ReadonlyMap<string, Point>;
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
  const t = useTranslations("editor");
  const describe = useDescribeError();
  const searchParams = useSearchParams();
  const urlName = searchParams.get("pipeline") || "base";
  const router = useRouter();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  // The input of "Run ▶": the last run's input to start with.
  const latest = useQuery(trpc.sessions.list.queryOptions({ limit: 1 }));
  const latestId = latest.data?.items[0]?.id;
  // The whole input (the list has a preview of it, cut at 200 characters).
  const latestSession = useQuery({ ...trpc.sessions.get.queryOptions({ id: latestId ?? "" }), enabled: latestId !== undefined, staleTime: Infinity });
  const [runInput, setRunInput] = useState<string | null>(null);
  const runText = runInput ?? latestSession.data?.input ?? "";

  const [editing, setEditing] = useState<EditorDocument | null>(null);
  const [broken, setBroken] = useState<BrokenFile | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [conflict, setConflict] = useState<unknown>(null);
  const [nameForm, setNameForm] = useState<"new" | "save-as" | null>(null);
  const [confirmation, setConfirmation] = useState<Confirmation | null>(null);
  const [deleting, setDeleting] = useState<{ stageIds: string[]; edges: Array<{ source: string; target: string }> } | null>(null);
  const [running, setRunning] = useState(false);
  const [selectedNodes, setSelectedNodes] = useState<string[]>([]);
  const [selectedEdges, setSelectedEdges] = useState<string[]>([]);
  const [fitRequest, setFitRequest] = useState(0);
  const inspectorRef = useRef<HTMLElement>(null);
  const runInputRef = useRef<HTMLInputElement>(null);
  const labelPrefix = useId();
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

  const showDocument = useCallback((document: EditorDocument) => {
    setBroken(null);
    setConflict(null);
    setSelectedNodes([]);
    setSelectedEdges([]);
    setEditing(document);
    setFitRequest((count) => count + 1);
  }, []);

  const load = useCallback(
    async (name: string, { restoreDraft = true } = {}) => {
      setLoadError(null);
      // Edits run without saving come back as they were, undo going back to the file.
      const draft = restoreDraft ? takeDraft(name) : undefined;
      if (draft) {
        const history = draft.saved ? pushHistory(createHistory(draft.saved), draft.pipeline) : createHistory(draft.pipeline);
        // The layout the user saw (that of the file), then one for the stages the file does not have.
        const automatic = new Map([...automaticPositions(draft.pipeline.stages), ...automaticPositions(draft.saved?.stages ?? [])]);
        showDocument({ name, version: draft.version, saved: draft.saved, history, automatic });
        setNotice({ kind: "draft-back" });
        return;
      }
      try {
        const source = await queryClient.fetchQuery({ ...trpc.pipelines.get.queryOptions({ name }), staleTime: 0 });
        if (source.pipeline === null) {
          setBroken({ name, file: source.file, text: source.text, issues: asErrors(source.issues) });
          setEditing(null);
          return;
        }
        showDocument({ name, version: source.version, saved: source.pipeline, history: createHistory(source.pipeline), automatic: automaticPositions(source.pipeline.stages) });
      } catch (error) {
        setLoadError(error);
        setEditing(null);
        setBroken(null);
      }
    },
    [queryClient, trpc, showDocument],
  );

  useEffect(() => {
    // A pipeline already in the editor under this name (a new pipeline, or one just saved under a new name) is not reloaded.
    if (editingName.current === urlName) return;
    void load(urlName);
  }, [urlName, load]);

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
    return [...asErrors(validation.data.errors), ...validation.data.warnings.map((issue) => ({ ...issue, severity: "warning" as const }))];
  }, [localIssues, validation.data]);
  const checked = localIssues.length > 0 || validation.data !== undefined;

  /** Applies a deletion as one undo step: `next` (stages gone, readers handled) less the edges deleted with them. */
  const applyDeletion = useCallback(
    (next: Pipeline, removed: readonly string[], edgeList: ReadonlyArray<{ source: string; target: string }>) => {
      const gone = new Set(removed);
      edit(() => edgeList.reduce((result, edge) => (gone.has(edge.source) || gone.has(edge.target) ? result : disconnectStages(result, edge.source, edge.target)), next));
      setSelectedNodes((current) => current.filter((id) => !gone.has(id)));
      setSelectedEdges([]);
    },
    [edit],
  );

  /** Deletes stages and edges; when other stages read a deleted stage, the user first chooses what becomes of them. */
  const requestDelete = useCallback(
    (stageIds: string[], edgeList: Array<{ source: string; target: string }>) => {
      if (!pipeline) return;
      const ids = stageIds.filter((id) => id !== inputNodeId && pipeline.stages.some((stage) => stage.id === id));
      if (readersOf(pipeline, ids).length > 0) {
        setDeleting({ stageIds: ids, edges: edgeList });
        return;
      }
      applyDeletion(removeStages(pipeline, ids), ids, edgeList);
    },
    [pipeline, applyDeletion],
  );

  const fixModel = useCallback(
    (issue: EditorIssue) => {
      const fix = modelFix(issue);
      if (!fix) return;
      edit((current) => ({ ...current, stages: current.stages.map((stage) => (stage.id === fix.stageId ? setStageModel(stage, fix.field, fix.model) : stage)) }));
    },
    [edit],
  );

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
        setNotice({ kind: "not-saved", issues: problems });
        return false;
      }
      const name = target ?? editing.name;
      try {
        const saved = await saveMutation.mutateAsync({ name, pipeline: current, baseVersion: target ? null : editing.version });
        setEditing((latest) => (latest ? { ...latest, name: saved.name, version: saved.version, saved: current } : latest));
        editingName.current = saved.name;
        setConflict(null);
        setNotice({ kind: "saved", file: saved.file });
        void queryClient.invalidateQueries({ queryKey: trpc.pipelines.list.queryKey() });
        if (target && target !== urlName) router.replace(`/editor?pipeline=${encodeURIComponent(saved.name)}`);
        return true;
      } catch (error) {
        if (isConflict(error)) {
          setConflict(error);
          setNotice(null);
        } else setNotice({ kind: "not-saved", error });
        return false;
      }
    },
    [editing, saveMutation, queryClient, trpc, router, urlName],
  );

  /**
   * One click: starts a run of the pipeline with the input beside the button and follows it on the Run
   * page. Unsaved edits are run as they are (the pipeline is sent whole; the file is not touched) and kept
   * for when the user comes back.
   */
  const run = async () => {
    if (!editing || running) return;
    const name = editing.name;
    if (!runText.trim()) {
      if (!dirty) {
        router.push(`/?pipeline=${encodeURIComponent(name)}`);
        return;
      }
      setNotice({ kind: "input-first" });
      runInputRef.current?.focus();
      return;
    }
    const current = editing.history.present;
    const id = newRunId();
    followRunEarly(client, id);
    setRunning(true);
    try {
      if (dirty) await client.runs.start.mutate({ pipeline: current, ...(editing.saved ? { basedOn: name } : {}), input: runText, id });
      else await client.runs.start.mutate({ pipeline: name, input: runText, id });
    } catch (error) {
      setNotice({ kind: "run-refused", error });
      setRunning(false);
      return;
    }
    if (dirty) keepDraft(name, { version: editing.version, saved: editing.saved, pipeline: current });
    router.push(`/?pipeline=${encodeURIComponent(name)}&run=${id}`);
  };

  const createPipeline = (name: string) => {
    showDocument({ name, version: null, saved: null, history: createHistory<Pipeline>({ stages: [] }), automatic: new Map() });
    editingName.current = name;
    router.push(`/editor?pipeline=${encodeURIComponent(name)}`);
  };
  const openPipeline = (name: string) => {
    editingName.current = null;
    router.push(`/editor?pipeline=${encodeURIComponent(name)}`);
  };
  const reloadFromDisk = () => void load(editing?.name ?? urlName, { restoreDraft: false });
  const confirmed = (question: Confirmation) => {
    setConfirmation(null);
    if (question.kind === "new") {
      createPipeline(question.name);
      setNameForm(null);
    } else if (question.kind === "reload") reloadFromDisk();
    else if (question.kind === "open") openPipeline(question.name);
    else router.push(question.href);
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

  // Leaving with unsaved changes: the browser asks on unload; links inside the app ask here, in the page's language.
  useEffect(() => {
    if (!dirty) return;
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = "";
    };
    const onClick = (event: MouseEvent) => {
      const link = event.target instanceof Element ? event.target.closest("a[href]") : null;
      if (!(link instanceof HTMLAnchorElement) || event.defaultPrevented) return;
      // A new tab or window keeps this page; another site unloads it, and the browser asks.
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target === "_blank") return;
      const url = new URL(link.href, window.location.href);
      if (url.origin !== window.location.origin) return;
      event.preventDefault();
      event.stopPropagation();
      setConfirmation({ kind: "leave", href: `${url.pathname}${url.search}${url.hash}` });
    };
    window.addEventListener("beforeunload", onBeforeUnload);
    window.addEventListener("click", onClick, true);
    return () => {
      window.removeEventListener("beforeunload", onBeforeUnload);
      window.removeEventListener("click", onClick, true);
    };
  }, [dirty]);

  const selectedStage = pipeline && selectedNodes.length === 1 ? pipeline.stages.find((stage) => stage.id === selectedNodes[0]) : undefined;
  const selectedEdge = pipeline && selectedEdges.length === 1 ? pipelineEdges(pipeline).find((edge) => edge.id === selectedEdges[0]) : undefined;
  const pipelineNames = useMemo(() => {
    const names = pipelines.data?.map((entry) => entry.name) ?? [];
    return names.includes(urlName) ? names : [urlName, ...names];
  }, [pipelines.data, urlName]);
  const errorCount = issues.filter((issue) => issue.severity === "error").length;

  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-center gap-2" role="toolbar" aria-label={t("toolbar.label")}>
        <h1 className="mr-2 text-lg font-semibold">{t("title")}</h1>
        <label className="flex min-w-0 items-center gap-1 text-sm">
          <span className="text-neutral-600 dark:text-neutral-400">{t("toolbar.pipeline")}</span>
          <select
            aria-label={t("toolbar.pipeline")}
            data-testid="pipeline-picker"
            translate="no"
            className={`${inputClass} w-48 min-w-0`}
            value={editing?.name ?? urlName}
            onChange={(event) => {
              const name = event.target.value;
              if (name === editing?.name) return;
              if (dirty) setConfirmation({ kind: "open", name });
              else openPipeline(name);
            }}
          >
            {(editing && !pipelineNames.includes(editing.name) ? [editing.name, ...pipelineNames] : pipelineNames).map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        {dirty ? (
          <span data-testid="dirty-marker" className="rounded bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-900 dark:bg-amber-950 dark:text-amber-200" title={t("toolbar.unsavedTitle")}>
            {t("toolbar.unsaved")}
          </span>
        ) : editing ? (
          <span className="text-xs text-neutral-500 dark:text-neutral-400">{t("toolbar.saved")}</span>
        ) : null}
        <div className="ml-auto flex flex-wrap items-center gap-2">
          <button type="button" className={buttonClass} onClick={() => setNameForm("new")}>
            {t("toolbar.newPipeline")}
          </button>
          <button type="button" className={buttonClass} onClick={undo} disabled={!editing || editing.history.past.length === 0} aria-keyshortcuts="Control+Z">
            {t("toolbar.undo")}
          </button>
          <button type="button" className={buttonClass} onClick={redo} disabled={!editing || editing.history.future.length === 0} aria-keyshortcuts="Control+Shift+Z Control+Y">
            {t("toolbar.redo")}
          </button>
          <button type="button" className={buttonClass} onClick={autoLayout} disabled={!pipeline || pipeline.stages.length === 0}>
            {t("toolbar.autoLayout")}
          </button>
          <button type="button" className={buttonClass} onClick={() => setNameForm("save-as")} disabled={!editing}>
            {t("toolbar.saveAs")}
          </button>
          <button type="button" className={primaryButtonClass} onClick={() => void save()} disabled={!editing || saveMutation.isPending} aria-keyshortcuts="Control+S">
            {saveMutation.isPending ? t("toolbar.saving") : t("toolbar.save")}
          </button>
          <input
            ref={runInputRef}
            aria-label={t("toolbar.runInput")}
            data-testid="run-input"
            translate="no"
            className={`${inputClass.replace("w-full", "w-48")} min-w-0`}
            placeholder={t("toolbar.runInputPlaceholder")}
            value={runText}
            onChange={(event) => setRunInput(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === "Enter") void run();
            }}
          />
          <button
            type="button"
            data-testid="editor-run"
            className={buttonClass}
            onClick={() => void run()}
            disabled={!editing || running}
            title={dirty ? t("toolbar.runUnsavedTitle") : t("toolbar.runTitle")}
            aria-describedby={dirty ? `${labelPrefix}-run-note` : undefined}
          >
            {dirty ? t("toolbar.runUnsaved") : t("toolbar.run")}
          </button>
        </div>
      </div>
      {dirty ? (
        <p id={`${labelPrefix}-run-note`} data-testid="run-note" className="-mt-2 text-right text-xs text-neutral-500 dark:text-neutral-400">
          {t("toolbar.runNote")}
        </p>
      ) : null}

      {nameForm ? (
        <NameForm
          key={nameForm}
          kind={nameForm}
          taken={pipelineNames}
          onCancel={() => setNameForm(null)}
          onSubmit={(name) => {
            if (nameForm === "new") {
              if (dirty) return setConfirmation({ kind: "new", name });
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
            <strong>{t("conflict.title")}</strong> {describe.error(conflict).replace(/\.?\s*$/, ".")} {t("conflict.kept")}
          </span>
          <button type="button" className={buttonClass} onClick={() => (dirty ? setConfirmation({ kind: "reload" }) : reloadFromDisk())}>
            {t("conflict.reload")}
          </button>
          <button type="button" className={buttonClass} onClick={() => setNameForm("save-as")}>
            {t("conflict.saveAs")}
          </button>
        </div>
      ) : null}
      {notice ? <NoticeView notice={notice} /> : null}
      {loadError ? (
        <div role="alert" className="rounded bg-red-50 px-3 py-2 text-sm text-red-900 dark:bg-red-950 dark:text-red-100">
          {describe.error(loadError)}
        </div>
      ) : null}
      {broken ? <BrokenFileView file={broken.file} text={broken.text} issues={broken.issues} onReload={() => void load(broken.name)} /> : null}

      {editing && pipeline ? (
        <div className="grid grid-cols-1 gap-3 lg:grid-cols-[minmax(0,1fr)_24rem]">
          <div className="flex min-w-0 flex-col gap-3">
            <EditorCanvas
              pipeline={pipeline}
              automatic={editing.automatic}
              issues={issues}
              presence={presence}
              defaultModels={defaultModels}
              selectedNodes={selectedNodes}
              selectedEdges={selectedEdges}
              setSelectedNodes={setSelectedNodes}
              setSelectedEdges={setSelectedEdges}
              onEdit={edit}
              onDelete={requestDelete}
              onEnter={() => inspectorRef.current?.querySelector<HTMLElement>("[data-inspector-heading]")?.focus()}
              fitRequest={fitRequest}
            />
            <IssueList issues={issues} pending={validation.isFetching} checked={checked} onSelect={(stageId) => setSelectedNodes([stageId])} onFix={fixModel} />
            {/* The plan of what Run would run: the file, or the canvas's unsaved edits as they are sent (once they check out). */}
            {checked && errorCount === 0 && debounced ? (
              <PlanPanel
                // Another pipeline's plan is never shown for this one, while its own comes.
                key={editing.name}
                pipeline={dirty ? { inline: debounced, ...(editing.saved ? { basedOn: editing.name } : {}) } : { name: editing.name }}
                input={runText}
                cache
                unsaved={dirty}
              />
            ) : null}
          </div>
          <aside ref={inspectorRef} aria-label={t("inspector.label")} className="max-h-[calc(100vh-8rem)] overflow-y-auto rounded-lg border border-neutral-200 p-3 dark:border-neutral-800">
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
                  if (!result.ok) return result.refusal;
                  edit(() => result.pipeline);
                  // A stage drawn by the automatic layout stays where it is under its new name (its old name keeps it too, for an undo).
                  const from = selectedStage.id;
                  setEditing((current) => (current?.automatic.has(from) ? { ...current, automatic: new Map(current.automatic).set(to, current.automatic.get(from)!) } : current));
                  setSelectedNodes([to]);
                  return null;
                }}
                onDelete={() => requestDelete([selectedStage.id], [])}
              />
            ) : selectedEdge ? (
              <div className="space-y-3">
                <h2 tabIndex={-1} data-inspector-heading className={headingClass}>
                  {t.rich("edge.title", { ...dataTags, source: selectedEdge.source, target: selectedEdge.target })}
                </h2>
                <p className="text-sm text-neutral-600 dark:text-neutral-400">{t.rich("edge.reads", { ...dataTags, source: selectedEdge.source, target: selectedEdge.target })}</p>
                <button type="button" className={`${buttonClass} text-red-700 dark:text-red-300`} onClick={() => requestDelete([], [selectedEdge])}>
                  {t("edge.delete")}
                </button>
              </div>
            ) : (
              <PipelineFields pipeline={pipeline} onChange={(next, key) => edit(() => next, key)} />
            )}
            <p className="mt-4 border-t border-neutral-200 pt-2 text-xs text-neutral-500 dark:border-neutral-800 dark:text-neutral-400">
              {errorCount > 0 ? <>{t("help.errors", { count: errorCount })} </> : null}
              {t.rich("help.keys", dataTags)}
            </p>
          </aside>
        </div>
      ) : !broken && !loadError ? (
        <p className="text-sm text-neutral-500">{t.rich("loading", { ...dataTags, name: urlName })}</p>
      ) : null}

      {deleting && pipeline ? (
        <DeleteDialog
          pipeline={pipeline}
          stageIds={deleting.stageIds}
          onCancel={() => setDeleting(null)}
          onDelete={(next, removed) => {
            applyDeletion(next, removed, deleting.edges);
            setDeleting(null);
          }}
        />
      ) : null}
      {confirmation ? <Confirm question={confirmation} onConfirm={() => confirmed(confirmation)} onCancel={() => setConfirmation(null)} /> : null}
    </div>
  );
}
