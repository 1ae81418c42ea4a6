/**
 * A run as the browser shows it, folded from its events. `applyEvents` returns a new view in which only
 * the stages that changed are new objects, so that a stage panel re-renders only when its own stage moved.
 */
import type { RunEvent, RunWarning } from "@/engine/events";

/** The values an error's message names (see `useDescribeError`). */
type MessageParams = Record<string, string | number>;

/**
 * `cached`: served from the stage cache (computed before with the same signature), no model called.
 * `skipped`: never run, because a stage it depends on failed (or, in a run its process never ended, never
 * started). `interrupted`: in progress when its run's process stopped without ending it (a server killed
 * mid-run): its text up to the run's last checkpoint is kept.
 */
export type StageState = "waiting" | "loading" | "generating" | "done" | "failed" | "cancelled" | "reused" | "cached" | "skipped" | "interrupted";

export interface ModelLane {
  model: string;
  text: string;
  /** For the timeline (ms since epoch): when its call started (first text less its time to first token), its first and last text, its end. */
  startAt?: number;
  firstAt?: number;
  lastAt?: number;
  endAt?: number;
  /** When its model began to load (its first load event) and was in memory: only for a call that loaded it. */
  loadStartAt?: number;
  loadedAt?: number;
  loadProgress?: number;
  loading: boolean;
}

export interface StageView {
  id: string;
  name?: string;
  type: "single" | "multi";
  models: string[];
  inputFrom: string[];
  aggregationMethod?: string;
  state: StageState;
  input?: string;
  lanes: Record<string, ModelLane>;
  /** The synthesis model's streaming answer (multi stages with synthesis). */
  aggregationText: string;
  /** The synthesis call's timing, like a model lane's. */
  aggregationTiming?: { startAt?: number; firstAt?: number; lastAt?: number };
  startedAt?: number;
  endedAt?: number;
  end?: Extract<RunEvent, { type: "stage-end" }>;
  error?: { code: string; message: string; model?: string; causeStageId?: string; params?: MessageParams };
}

export interface RunView {
  runId?: string;
  pipeline?: string;
  input?: string;
  parentRunId?: string;
  /** The pipeline was sent with the run (the editor's unsaved canvas): `pipeline` is the one it was edited from, or "unsaved". */
  inlinePipeline?: boolean;
  order: string[];
  stages: Record<string, StageView>;
  /** `queued`: waiting for a place in the server's run queue (`ahead` runs before it). */
  status: "connecting" | "queued" | "running" | "completed" | "failed" | "cancelled" | "interrupted";
  /** While `queued`: how many runs wait before it. */
  ahead?: number;
  startedAt?: number;
  endedAt?: number;
  finalAnswer?: string;
  error?: { code: string; message: string; stageId?: string; params?: MessageParams };
  /** The last sequence number applied (events come in order, each once). */
  lastSeq: number;
  /** When the first model text of the run arrived, for the time-to-first-token figure. */
  firstTextAt?: number;
  /** Config warnings of the pipeline that ran. */
  warnings?: RunWarning[];
}

export const emptyRunView: RunView = { order: [], stages: {}, status: "connecting", lastSeq: -1 };

function lane(stage: StageView, model: string): ModelLane {
  return stage.lanes[model] ?? { model, text: "", loading: false };
}

export function applyEvents(view: RunView, events: readonly RunEvent[]): RunView {
  if (events.length === 0) return view;
  let next: RunView = { ...view };
  let stages = view.stages;
  const touched = new Set<string>();
  const stage = (id: string): StageView | undefined => {
    const current = stages[id];
    if (!current) return undefined;
    if (!touched.has(id)) {
      if (stages === view.stages) stages = { ...view.stages };
      const copy = { ...current, lanes: { ...current.lanes } };
      stages[id] = copy;
      touched.add(id);
      return copy;
    }
    return current;
  };
  for (const event of events) {
    if (event.seq <= next.lastSeq) continue;
    next.lastSeq = event.seq;
    switch (event.type) {
      case "run-queued":
        next = { ...next, runId: event.runId, status: "queued", ahead: event.ahead };
        break;
      case "run-start": {
        stages = {};
        touched.clear();
        for (const summary of event.stages) {
          stages[summary.id] = {
            id: summary.id,
            name: summary.name,
            type: summary.type,
            models: summary.models,
            inputFrom: summary.inputFrom,
            aggregationMethod: summary.aggregation,
            state: "waiting",
            lanes: Object.fromEntries(summary.models.map((model) => [model, { model, text: "", loading: false }])),
            aggregationText: "",
          };
          touched.add(summary.id);
        }
        next = {
          ...next,
          runId: event.runId,
          pipeline: event.pipeline,
          input: event.input,
          parentRunId: event.parentRunId,
          inlinePipeline: event.inlinePipeline,
          order: event.stages.map((s) => s.id),
          status: "running",
          ahead: undefined,
          startedAt: event.at,
          warnings: event.warnings,
        };
        break;
      }
      case "stage-start": {
        const s = stage(event.stageId);
        if (s) {
          s.state = event.reused ? "reused" : "waiting";
          s.input = event.input;
          s.startedAt = event.at;
        }
        break;
      }
      case "stage-load": {
        const s = stage(event.stageId);
        if (s) {
          const current = lane(s, event.model);
          const loaded = event.done || event.progress >= 1;
          s.lanes[event.model] = {
            ...current,
            loading: !event.done,
            loadProgress: event.progress,
            loadStartAt: current.loadStartAt ?? event.at,
            loadedAt: current.loadedAt ?? (loaded ? event.at : undefined),
          };
          if (s.state === "waiting" && !event.done) s.state = "loading";
        }
        break;
      }
      case "stage-delta": {
        const s = stage(event.stageId);
        if (s) {
          if (s.state === "waiting" || s.state === "loading") s.state = "generating";
          if (event.part === "aggregation") {
            s.aggregationText += event.text;
            s.aggregationTiming = { firstAt: s.aggregationTiming?.firstAt ?? event.at, lastAt: event.at };
          } else {
            const current = lane(s, event.model);
            s.lanes[event.model] = { ...current, loading: false, text: current.text + event.text, firstAt: current.firstAt ?? event.at, lastAt: event.at };
          }
          next.firstTextAt ??= event.at;
        }
        break;
      }
      case "stage-end": {
        const s = stage(event.stageId);
        if (s) {
          s.state = event.reused ? "reused" : event.cached ? "cached" : "done";
          s.end = event;
          s.endedAt = event.at;
          for (const output of event.models) {
            const current = lane(s, output.model);
            // The stored answer is the truth (a reused stage streams nothing).
            const startAt = current.firstAt !== undefined ? current.firstAt - output.metrics.timeToFirstTokenMs : undefined;
            s.lanes[output.model] = { ...current, loading: false, text: output.answer, startAt, endAt: current.lastAt ?? event.at };
          }
          if (event.aggregation?.method === "synthesis") {
            s.aggregationText = event.aggregation.output.answer;
            const timing = s.aggregationTiming;
            if (timing?.firstAt !== undefined) s.aggregationTiming = { ...timing, startAt: timing.firstAt - event.aggregation.output.metrics.timeToFirstTokenMs };
          }
        }
        break;
      }
      case "stage-error": {
        const s = stage(event.stageId);
        if (s) {
          s.state = event.code === "cancelled" ? "cancelled" : event.code === "upstream-failed" ? "skipped" : "failed";
          s.error = { code: event.code, message: event.message, model: event.model, causeStageId: event.causeStageId, params: event.params };
          s.endedAt = event.at;
          // Nothing loads any more for a stage that has ended.
          for (const [model, current] of Object.entries(s.lanes)) if (current.loading) s.lanes[model] = { ...current, loading: false };
        }
        break;
      }
      case "run-end":
        next = { ...next, status: event.status, ahead: undefined, endedAt: event.at, finalAnswer: event.finalAnswer, error: event.error };
        // A run that ends stops its stages with events of their own, except one whose process stopped
        // without ending it: its stages in progress stopped at its end, the others never ran.
        for (const id of Object.keys(stages)) {
          const current = stages[id]!;
          const started = current.startedAt !== undefined;
          if (current.state !== "waiting" && current.state !== "loading" && current.state !== "generating") continue;
          const s = stage(id)!;
          s.state = started ? "interrupted" : "skipped";
          if (started) s.endedAt = event.at;
          for (const [model, lane] of Object.entries(s.lanes)) if (lane.loading) s.lanes[model] = { ...lane, loading: false };
        }
        break;
    }
  }
  next.stages = stages;
  return next;
}

/** What a model call was doing, as the timeline shows it. */
export type SegmentKind = "waiting" | "loading" | "reading" | "generating" | "failed" | "reused" | "cached";

/** One part of a model call on the timeline, from and to in ms since epoch. */
export interface TimelineSegment {
  kind: SegmentKind;
  from: number;
  to: number;
}

/** The moments the events give for one model call (ms since epoch); only `start` and `end` are always known. */
export interface CallMarks {
  /** Its stage's start. */
  start: number;
  /** Its first load event, when the call loaded its model; and the event that said the model was in memory. */
  loadStartAt?: number;
  loadedAt?: number;
  /** When it began to read its prompt (known once the stage has ended: its first text less its time to first token). */
  readAt?: number;
  firstAt?: number;
  end: number;
  /** The call failed (and its stage with it): its last part is shown as failed. */
  failed?: boolean;
}

/**
 * A model call as consecutive segments, from its stage's start to its end: waiting (for the inference
 * worker, which starts with the first run, or for a free generation slot), loading its model, reading its
 * prompt, generating. A part the events do not tell is left out (a warm model loads nothing; while a stage
 * goes, its calls' reading is known only from a load's end); a failed call's last part is `failed`.
 */
export function callSegments(marks: CallMarks): TimelineSegment[] {
  const starts: Array<[SegmentKind, number | undefined]> = [
    ["waiting", marks.start],
    ["loading", marks.loadStartAt],
    ["reading", marks.readAt ?? marks.loadedAt],
    ["generating", marks.firstAt],
  ];
  const known = starts.filter((entry): entry is [SegmentKind, number] => entry[1] !== undefined);
  const segments: TimelineSegment[] = [];
  known.forEach(([kind, at], index) => {
    // Times from separate clocks of one machine may cross by a millisecond: each part starts where the last ended.
    const from = Math.max(at, segments.at(-1)?.to ?? at);
    const to = Math.max(from, Math.min(marks.end, known[index + 1]?.[1] ?? marks.end));
    // A part with no length is left out, unless the call ended in it (its text all came at once).
    if (to > from || index === known.length - 1) segments.push({ kind, from, to });
  });
  const last = segments.at(-1);
  if (marks.failed && last) last.kind = "failed";
  return segments;
}

/** Stages in columns by depth (the longest path from the user's input), for the run graph. */
export function stageColumns(view: Pick<RunView, "order" | "stages">): string[][] {
  const depth = new Map<string, number>();
  const visit = (id: string, trail: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (trail.has(id)) return 0;
    trail.add(id);
    const inputs = view.stages[id]?.inputFrom ?? [];
    const value = inputs.length === 0 ? 0 : 1 + Math.max(...inputs.map((input) => visit(input, trail)));
    trail.delete(id);
    depth.set(id, value);
    return value;
  };
  const columns: string[][] = [];
  for (const id of view.order) (columns[visit(id, new Set())] ??= []).push(id);
  return columns.filter(Boolean);
}

/**
 * Cuts text into blocks for display: each block ends just after a line break found once it holds `size`
 * characters, or at `4 * size` characters when no line break comes. The cuts depend only on the text
 * before them, so appending text never moves an earlier cut: the blocks before the last stay the same.
 */
export function textBlocks(text: string, size = 1024): string[] {
  const blocks: string[] = [];
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf("\n", start + size);
    let end = newline === -1 ? text.length : newline + 1;
    if (end - start > 4 * size) end = start + 4 * size;
    // The last block may still grow: it ends where the text ends.
    if (end >= text.length) {
      blocks.push(text.slice(start));
      break;
    }
    blocks.push(text.slice(start, end));
    start = end;
  }
  return blocks;
}
