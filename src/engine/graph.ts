/**
 * Graph maths over a pipeline's stages: plain functions, no I/O. An edge runs from each stage named in
 * `input_from` to the stage that names it.
 */
// errors.js, not index.js: the index also exports Node file code, and the browser uses these helpers.
import { ProjectLlmError } from "../common/errors.js";
import type { Pipeline, Stage } from "../config/schema.js";

/** The ids a stage reads from; empty means the user's input. */
export function inputIds(stage: Pick<Stage, "input_from">): string[] {
  if (stage.input_from === undefined) return [];
  return typeof stage.input_from === "string" ? [stage.input_from] : [...stage.input_from];
}

/** Every model a stage runs, synthesis model included, without duplicates, in order of first use. */
export function stageModels(stage: Stage): string[] {
  const names = stage.type === "single" ? [stage.model] : [...stage.models];
  if (stage.type === "multi" && stage.aggregation.method === "synthesis") names.push(stage.aggregation.model);
  return [...new Set(names)];
}

/**
 * A cycle among the stages as the list of ids along it (first id repeated at the end), or undefined.
 * Unknown ids in `input_from` are ignored here (reported elsewhere).
 */
export function findCycle(stages: ReadonlyArray<Pick<Stage, "id" | "input_from">>): string[] | undefined {
  const byId = new Map(stages.map((stage) => [stage.id, stage]));
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const seen = state.get(id);
    if (seen === "done") return undefined;
    if (seen === "visiting") return [...path.slice(path.indexOf(id)), id];
    const stage = byId.get(id);
    if (!stage) return undefined;
    state.set(id, "visiting");
    path.push(id);
    for (const upstream of inputIds(stage)) {
      const cycle = visit(upstream);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const stage of stages) {
    const cycle = visit(stage.id);
    if (cycle) return cycle.reverse();
  }
  return undefined;
}

/**
 * Stage ids in an order where every stage comes after its inputs (file order among independent ones).
 * A cycle or an `input_from` naming no stage is a `config-invalid` error that names the stages.
 */
export function topologicalOrder(pipeline: Pick<Pipeline, "stages">): string[] {
  const order: string[] = [];
  const placed = new Set<string>();
  const remaining = [...pipeline.stages];
  while (remaining.length > 0) {
    const index = remaining.findIndex((stage) => inputIds(stage).every((id) => placed.has(id)));
    if (index === -1) {
      const cycle = findCycle(remaining);
      const known = new Set(pipeline.stages.map((stage) => stage.id));
      const unknown = remaining.flatMap((stage) => inputIds(stage).filter((id) => !known.has(id)).map((id) => `${stage.id} reads unknown stage "${id}"`));
      throw new ProjectLlmError(
        "config-invalid",
        cycle ? `the stages form a cycle: ${cycle.join(" → ")}` : unknown.length > 0 ? unknown.join("; ") : `stages ${remaining.map((stage) => stage.id).join(", ")} cannot be ordered`,
        { details: { cycle, stageIds: remaining.map((stage) => stage.id) } },
      );
    }
    const [stage] = remaining.splice(index, 1);
    order.push(stage!.id);
    placed.add(stage!.id);
  }
  return order;
}

/** The ids of `stageId` and of every stage that depends on it, directly or not. */
export function downstreamOf(pipeline: Pick<Pipeline, "stages">, stageId: string): Set<string> {
  const result = new Set([stageId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const stage of pipeline.stages) {
      if (!result.has(stage.id) && inputIds(stage).some((id) => result.has(id))) {
        result.add(stage.id);
        grew = true;
      }
    }
  }
  return result;
}

/** Stages no other stage reads from, in file order: their outputs make the final answer. */
export function sinkIds(pipeline: Pick<Pipeline, "stages">): string[] {
  const read = new Set(pipeline.stages.flatMap((stage) => inputIds(stage)));
  return pipeline.stages.filter((stage) => !read.has(stage.id)).map((stage) => stage.id);
}
