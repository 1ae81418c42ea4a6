/**
 * Graph maths of the pipeline editor: plain functions over a pipeline, no React. The canvas shows one node
 * per stage plus a fixed input node; an edge A → B means B's `input_from` names A, and an edge from the
 * input node (or no edge at all) means the stage reads the user's input (`input_from` absent).
 */
import { pipelineNamePattern, pipelineSchema, stageIdPattern, type Aggregation, type MultiStage, type Pipeline, type SingleStage, type Stage } from "../../config/schema";
import { inputIds } from "../../engine/graph";

export { inputIds, pipelineNamePattern, stageIdPattern };

/** Id of the fixed input node; a stage id starts with a letter, so no stage can take it. */
export const inputNodeId = "__input__";

export interface Point {
  x: number;
  y: number;
}

/** `input_from` for a list of ids: absent for none, one id for one, a list for several. */
export function inputFromOf(ids: readonly string[]): Stage["input_from"] {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return undefined;
  return unique.length === 1 ? unique[0] : unique;
}

function withInputs<S extends Stage>(stage: S, ids: readonly string[]): S {
  const { input_from: _previous, ...rest } = stage;
  const inputFrom = inputFromOf(ids);
  return (inputFrom === undefined ? rest : { ...rest, input_from: inputFrom }) as S;
}

function replaceStage(pipeline: Pipeline, id: string, update: (stage: Stage) => Stage): Pipeline {
  return { ...pipeline, stages: pipeline.stages.map((stage) => (stage.id === id ? update(stage) : stage)) };
}

/** Edges of the canvas: one per `input_from` entry, and one from the input node to each stage that reads the user's input. */
export interface PipelineEdge {
  id: string;
  source: string;
  target: string;
  /** An edge from the input node: it stands for an absent `input_from` and cannot be deleted. */
  fromInput: boolean;
}

export function pipelineEdges(pipeline: Pick<Pipeline, "stages">): PipelineEdge[] {
  const known = new Set(pipeline.stages.map((stage) => stage.id));
  return pipeline.stages.flatMap((stage): PipelineEdge[] => {
    const ids = inputIds(stage).filter((id) => known.has(id));
    if (inputIds(stage).length === 0) return [{ id: edgeId(inputNodeId, stage.id), source: inputNodeId, target: stage.id, fromInput: true }];
    return ids.map((source) => ({ id: edgeId(source, stage.id), source, target: stage.id, fromInput: false }));
  });
}

export function edgeId(source: string, target: string): string {
  return `${source}->${target}`;
}

/**
 * A path of stage ids from `from` to `to` following the data (from a stage to the stages that read it),
 * or undefined when `to` cannot be reached.
 */
export function dataPath(pipeline: Pick<Pipeline, "stages">, from: string, to: string): string[] | undefined {
  const readers = new Map<string, string[]>();
  for (const stage of pipeline.stages) for (const id of inputIds(stage)) readers.set(id, [...(readers.get(id) ?? []), stage.id]);
  const previous = new Map<string, string>([[from, from]]);
  const queue = [from];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (id === to) {
      const path = [to];
      while (path[0] !== from) path.unshift(previous.get(path[0]!)!);
      return path;
    }
    for (const next of readers.get(id) ?? []) {
      if (!previous.has(next)) {
        previous.set(next, id);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/** Why an edit was refused, with the stages involved: the page says it in its language. */
export type Refusal =
  | { reason: "input-reads-nothing" }
  | { reason: "no-such-stage"; stage: string }
  | { reason: "self-loop"; stage: string }
  | { reason: "cycle"; source: string; target: string; path: string[] }
  | { reason: "malformed-id" }
  | { reason: "taken-id"; stage: string };

export type EditResult = { ok: true; pipeline: Pipeline } | { ok: false; refusal: Refusal };

/**
 * Makes `target` read `source` (an edge from the input node makes it read the user's input). Refused,
 * naming the stages, when it would make a cycle, a self-loop, or feed the input node.
 */
export function connectStages(pipeline: Pipeline, source: string, target: string): EditResult {
  if (target === inputNodeId) return { ok: false, refusal: { reason: "input-reads-nothing" } };
  const targetStage = pipeline.stages.find((stage) => stage.id === target);
  if (!targetStage) return { ok: false, refusal: { reason: "no-such-stage", stage: target } };
  if (source === inputNodeId) return { ok: true, pipeline: replaceStage(pipeline, target, (stage) => withInputs(stage, [])) };
  if (!pipeline.stages.some((stage) => stage.id === source)) return { ok: false, refusal: { reason: "no-such-stage", stage: source } };
  if (source === target) return { ok: false, refusal: { reason: "self-loop", stage: source } };
  const back = dataPath(pipeline, target, source);
  if (back) return { ok: false, refusal: { reason: "cycle", source, target, path: [source, ...back] } };
  if (inputIds(targetStage).includes(source)) return { ok: true, pipeline };
  return { ok: true, pipeline: replaceStage(pipeline, target, (stage) => withInputs(stage, [...inputIds(stage), source])) };
}

/** Removes the edge `source` → `target` (an edge from the input node cannot be removed: it is the default). */
export function disconnectStages(pipeline: Pipeline, source: string, target: string): Pipeline {
  if (source === inputNodeId) return pipeline;
  return replaceStage(pipeline, target, (stage) => withInputs(stage, inputIds(stage).filter((id) => id !== source)));
}

/** Removes stages and every mention of them in the others' `input_from`. */
export function removeStages(pipeline: Pipeline, ids: Iterable<string>): Pipeline {
  const removed = new Set(ids);
  return {
    ...pipeline,
    stages: pipeline.stages.filter((stage) => !removed.has(stage.id)).map((stage) => (inputIds(stage).some((id) => removed.has(id)) ? withInputs(stage, inputIds(stage).filter((id) => !removed.has(id))) : stage)),
  };
}

/** The stages outside `ids` that read one of them, in pipeline order, each with the ones of `ids` it reads. */
export function readersOf(pipeline: Pick<Pipeline, "stages">, ids: Iterable<string>): Array<{ id: string; reads: string[] }> {
  const removed = new Set(ids);
  return pipeline.stages
    .filter((stage) => !removed.has(stage.id))
    .map((stage) => ({ id: stage.id, reads: inputIds(stage).filter((id) => removed.has(id)) }))
    .filter((reader) => reader.reads.length > 0);
}

/** `ids` and every stage downstream of them (that reads them, directly or through others), in pipeline order. */
export function downstreamOf(pipeline: Pick<Pipeline, "stages">, ids: Iterable<string>): string[] {
  const found = new Set(ids);
  for (let grown = true; grown; ) {
    grown = false;
    for (const stage of pipeline.stages) {
      if (!found.has(stage.id) && inputIds(stage).some((id) => found.has(id))) {
        found.add(stage.id);
        grown = true;
      }
    }
  }
  return pipeline.stages.filter((stage) => found.has(stage.id)).map((stage) => stage.id);
}

function placeholderPattern(stageId: string): RegExp {
  const escaped = stageId.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  return new RegExp(`\\{\\{(\\s*)stage\\.${escaped}(\\s*)\\}\\}`, "g");
}

/**
 * Removes stages, and connects each stage that read one of them to what that one read instead (through
 * removed stages that read removed stages; nothing, the user's input, when it read the user's input). A
 * reader's `{{stage.ID}}` of a removed stage follows when one stage took its place, or becomes `{{input}}`
 * when the reader now reads the user's input alone; otherwise it stays, and validation names it.
 */
export function removeStagesReconnecting(pipeline: Pipeline, ids: Iterable<string>): Pipeline {
  const removed = new Set(ids);
  const byId = new Map(pipeline.stages.map((stage) => [stage.id, stage]));
  const sourcesOf = (id: string, seen: Set<string>): string[] => {
    if (seen.has(id)) return [];
    seen.add(id);
    return inputIds(byId.get(id)!).flatMap((upstream) => (removed.has(upstream) && byId.has(upstream) ? sourcesOf(upstream, seen) : [upstream]));
  };
  return {
    ...pipeline,
    stages: pipeline.stages
      .filter((stage) => !removed.has(stage.id))
      .map((stage) => {
        const upstream = inputIds(stage);
        if (!upstream.some((id) => removed.has(id))) return stage;
        const replacements = new Map(upstream.filter((id) => removed.has(id)).map((id) => [id, [...new Set(sourcesOf(id, new Set()))]]));
        const next = withInputs(stage, upstream.flatMap((id) => replacements.get(id) ?? [id]));
        if (next.prompt === undefined) return next;
        let prompt = next.prompt;
        for (const [id, sources] of replacements) {
          const replacement = sources.length === 1 ? `stage.${sources[0]}` : sources.length === 0 && inputIds(next).length === 0 ? "input" : undefined;
          if (replacement) prompt = prompt.replace(placeholderPattern(id), `{{$1${replacement}$2}}`);
        }
        return { ...next, prompt };
      }),
  };
}

/** Renames a stage, updating the `input_from` and the `{{stage.ID}}` placeholders of the stages that read it. */
export function renameStage(pipeline: Pipeline, from: string, to: string): EditResult {
  if (from === to) return { ok: true, pipeline };
  if (!stageIdPattern.test(to)) return { ok: false, refusal: { reason: "malformed-id" } };
  if (pipeline.stages.some((stage) => stage.id === to)) return { ok: false, refusal: { reason: "taken-id", stage: to } };
  const placeholder = placeholderPattern(from);
  return {
    ok: true,
    pipeline: {
      ...pipeline,
      stages: pipeline.stages.map((stage) => {
        const renamed = stage.id === from ? { ...stage, id: to } : stage;
        if (!inputIds(stage).includes(from)) return renamed;
        const next = withInputs(renamed, inputIds(stage).map((id) => (id === from ? to : id)));
        return next.prompt === undefined ? next : { ...next, prompt: next.prompt.replace(placeholder, `{{$1stage.${to}$2}}`) };
      }),
    },
  };
}

/** The first `stageN` id not taken, counting from the number of stages plus one. */
export function uniqueStageId(pipeline: Pick<Pipeline, "stages">, prefix = "stage"): string {
  const taken = new Set(pipeline.stages.map((stage) => stage.id));
  for (let index = pipeline.stages.length + 1; ; index++) if (!taken.has(`${prefix}${index}`)) return `${prefix}${index}`;
}

/** The default aggregation of each method (`models` gives the synthesis model). */
export function defaultAggregation(method: Aggregation["method"], models: readonly string[]): Aggregation {
  switch (method) {
    case "concat":
      return { method: "concat", separator: "\n\n", labels: true };
    case "vote":
      return { method: "vote" };
    case "synthesis":
      return { method: "synthesis", model: models[0] ?? "", params: {} };
    case "template":
      return { method: "template", template: "{{answers}}" };
  }
}

/** A new single stage reading the user's input. */
export function newSingleStage(pipeline: Pick<Pipeline, "stages">, model: string, position: Point): SingleStage {
  return { id: uniqueStageId(pipeline), type: "single", model, params: {}, output_mode: "answer_only", position };
}

/** A new multi stage with two models (the first two given, or the first twice) whose answers are concatenated. */
export function newMultiStage(pipeline: Pick<Pipeline, "stages">, models: readonly string[], position: Point): MultiStage {
  const first = models[0] ?? "";
  return {
    id: uniqueStageId(pipeline),
    type: "multi",
    models: [first, models[1] ?? first],
    aggregation: defaultAggregation("concat", models),
    params: {},
    output_mode: "answer_only",
    position,
  };
}

/** Switches a stage between single and multi, keeping every field the two share. */
export function switchStageType(stage: Stage, type: Stage["type"]): Stage {
  if (stage.type === type) return stage;
  if (stage.type === "multi") {
    const { models, aggregation: _aggregation, ...common } = stage;
    return { ...common, type: "single", model: models[0] ?? "" };
  }
  const { model, ...common } = stage;
  return { ...common, type: "multi", models: [model, model], aggregation: defaultAggregation("concat", [model]) };
}

export const columnWidth = 300;
const rowGap = 40;
const columnStagger = 90;

/** A rough height of a stage's node, so that a layout does not overlap tall multi nodes. */
export function estimatedNodeHeight(stage: Stage): number {
  return stage.type === "multi" ? 120 + 24 * stage.models.length : 110;
}

/**
 * A layered left-to-right layout: a stage's column is its depth (the longest path from the user's input),
 * stages of one column are stacked in file order and centred on y = 0 (odd columns a little lower). The
 * input node takes column 0.
 */
export function layeredLayout(stages: readonly Stage[]): Map<string, Point> {
  const byId = new Map(stages.map((stage) => [stage.id, stage]));
  const depths = new Map<string, number>();
  const depthOf = (id: string, visiting: Set<string>): number => {
    const known = depths.get(id);
    if (known !== undefined) return known;
    const stage = byId.get(id);
    if (!stage || visiting.has(id)) return 0;
    visiting.add(id);
    const upstream = inputIds(stage).filter((upstreamId) => byId.has(upstreamId));
    const depth = upstream.length === 0 ? 0 : 1 + Math.max(...upstream.map((upstreamId) => depthOf(upstreamId, visiting)));
    visiting.delete(id);
    depths.set(id, depth);
    return depth;
  };
  const layers: Stage[][] = [];
  for (const stage of stages) (layers[depthOf(stage.id, new Set())] ??= []).push(stage);
  const positions = new Map<string, Point>();
  layers.forEach((layer, depth) => {
    const total = layer.reduce((sum, stage) => sum + estimatedNodeHeight(stage), 0) + rowGap * (layer.length - 1);
    // Odd columns sit a little lower, so that an edge skipping a column does not run hidden behind its node.
    let y = -total / 2 + (depth % 2) * columnStagger;
    for (const stage of layer) {
      positions.set(stage.id, { x: (depth + 1) * columnWidth, y: Math.round(y) });
      y += estimatedNodeHeight(stage) + rowGap;
    }
  });
  return positions;
}

/** The pipeline with every stage at its place in `layeredLayout`. */
export function applyLayout(pipeline: Pipeline): Pipeline {
  const positions = layeredLayout(pipeline.stages);
  return { ...pipeline, stages: pipeline.stages.map((stage) => ({ ...stage, position: positions.get(stage.id)! })) };
}

/**
 * Where the automatic layout puts each stage that has no position of its own (the others are left out).
 * The editor draws such a stage there without writing it into the pipeline, so that a save writes a
 * position only for a stage the user placed: moved, laid out on request, or added.
 */
export function automaticPositions(stages: readonly Stage[]): Map<string, Point> {
  if (stages.every((stage) => stage.position)) return new Map();
  const layout = layeredLayout(stages);
  return new Map(stages.filter((stage) => !stage.position).map((stage) => [stage.id, layout.get(stage.id)!]));
}

/**
 * The stages as the canvas draws them: each at its own position, else at its automatic one (`automatic`,
 * laid out when the pipeline was opened, so that it does not move as edges change), else where a layout
 * of the stages as they are puts it.
 */
export function drawnStages(stages: readonly Stage[], automatic: ReadonlyMap<string, Point>): Array<Stage & { position: Point }> {
  let layout: Map<string, Point> | undefined;
  return stages.map((stage) => (stage.position ? (stage as Stage & { position: Point }) : { ...stage, position: automatic.get(stage.id) ?? (layout ??= layeredLayout(stages)).get(stage.id)! }));
}

/** Where the fixed input node sits: one column left of the leftmost stage, level with the stages that read the user's input. */
export function inputNodePosition(stages: readonly Stage[]): Point {
  const placed = stages.filter((stage): stage is Stage & { position: Point } => stage.position !== undefined);
  if (placed.length === 0) return { x: 0, y: 0 };
  const readers = placed.filter((stage) => inputIds(stage).length === 0);
  const level = readers.length > 0 ? readers : placed;
  return {
    x: Math.min(...placed.map((stage) => stage.position.x)) - columnWidth,
    y: Math.round(level.reduce((sum, stage) => sum + stage.position.y, 0) / level.length),
  };
}

/** `preferred`, moved down until no stage's node starts within a node's size of it. */
export function freePosition(stages: readonly Stage[], preferred: Point): Point {
  const point = { x: Math.round(preferred.x), y: Math.round(preferred.y) };
  const overlaps = () => stages.some((stage) => stage.position && Math.abs(stage.position.x - point.x) < 240 && Math.abs(stage.position.y - point.y) < estimatedNodeHeight(stage) + 20);
  for (let tries = 0; tries < 100 && overlaps(); tries++) point.y += 60;
  return point;
}

/**
 * A problem of the pipeline being edited, with the stage it belongs to when it belongs to one: a config
 * issue of the server's validation, or a schema problem found in the browser (`schema`).
 */
export interface EditorIssue {
  severity: "error" | "warning";
  /** The server's (English) message, shown when the page has none of its own for the issue. */
  message: string;
  path?: string;
  stageId?: string;
  expected?: string;
  /** The closest valid value (a configured model for an unknown one). */
  suggestion?: string;
  code?: string;
  params?: Record<string, string | number>;
  /** A schema problem found in the browser: its kind and bound, for the page's own words. */
  schema?: { kind: "no-stages" | "too-small" | "too-big" | "empty" | "format" | "invalid"; limit?: number; inclusive?: boolean; origin?: string };
}

/**
 * The schema problems of a pipeline being edited (the server validates only a pipeline that passes the
 * schema), each tied to its stage by the `stages[N]` at the head of its path.
 */
export function schemaIssues(pipeline: Pipeline): EditorIssue[] {
  const result = pipelineSchema.safeParse(pipeline);
  if (result.success) return [];
  return result.error.issues.map((issue) => {
    const [head, index] = issue.path;
    const stageId = head === "stages" && typeof index === "number" ? pipeline.stages[index]?.id : undefined;
    const path = issue.path.map((segment) => (typeof segment === "number" ? `[${segment}]` : `.${String(segment)}`)).join("").replace(/^\./, "");
    const schema: EditorIssue["schema"] =
      head === "stages" && issue.path.length === 1 && issue.code === "too_small"
        ? { kind: "no-stages" }
        : issue.code === "too_small" && issue.origin === "string" && Number(issue.minimum) === 1
          ? { kind: "empty" }
          : issue.code === "too_small"
            ? { kind: "too-small", limit: Number(issue.minimum), inclusive: issue.inclusive !== false, origin: issue.origin }
            : issue.code === "too_big"
              ? { kind: "too-big", limit: Number(issue.maximum), inclusive: issue.inclusive !== false, origin: issue.origin }
              : issue.code === "invalid_format"
                ? { kind: "format" }
                : { kind: "invalid" };
    return { severity: "error" as const, message: issue.message, path, stageId, schema };
  });
}

/**
 * The model field an issue is about, when it is an unknown model with a configured one close to it:
 * `stages[N].model`, `stages[N].models[I]` or `stages[N].aggregation.model`. Answers the stage, the field
 * and the suggested model, or undefined.
 */
export function modelFix(issue: Pick<EditorIssue, "path" | "stageId" | "suggestion">): { stageId: string; field: ModelField; model: string } | undefined {
  if (!issue.stageId || !issue.suggestion || !issue.path) return undefined;
  const match = /(?:^|\.)stages\[\d+\]\.(model|models\[(\d+)\]|aggregation\.model)$/.exec(issue.path);
  if (!match) return undefined;
  const field: ModelField = match[1] === "model" ? { kind: "model" } : match[2] !== undefined ? { kind: "models", index: Number(match[2]) } : { kind: "aggregation" };
  return { stageId: issue.stageId, field, model: issue.suggestion };
}

/** A field of a stage that names a model. */
export type ModelField = { kind: "model" } | { kind: "models"; index: number } | { kind: "aggregation" };

/** The stage with the model of `field` set to `model` (unchanged when the stage has no such field). */
export function setStageModel(stage: Stage, field: ModelField, model: string): Stage {
  if (field.kind === "model") return stage.type === "single" ? { ...stage, model } : stage;
  if (stage.type !== "multi") return stage;
  if (field.kind === "models") return field.index < stage.models.length ? { ...stage, models: stage.models.map((item, index) => (index === field.index ? model : item)) } : stage;
  return stage.aggregation.method === "synthesis" ? { ...stage, aggregation: { ...stage.aggregation, model } } : stage;
}

/** Structural equality of two JSON-like values, ignoring key order and keys whose value is undefined. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => sameValue(item, b[index]));
  const entriesOf = (value: object) => Object.entries(value).filter(([, item]) => item !== undefined);
  const left = entriesOf(a);
  const right = new Map(entriesOf(b));
  return left.length === right.size && left.every(([key, item]) => right.has(key) && sameValue(item, right.get(key)));
}
