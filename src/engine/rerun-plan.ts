/**
 * Which stages a rerun computes again and which keep their stored answers: the one rule the studio
 * follows and the session page shows before a rerun starts. Plain functions over the graph, safe in the
 * browser (this file imports only graph.ts).
 */
import type { Pipeline } from "../config/schema.js";
import { downstreamOf, inputIds } from "./graph.js";

/**
 * Why a rerun computes a stage again: `chosen`, the stage it starts from; `edited-input`, the stage reads
 * the user's input and that input was edited; `params`, the stage was given new generation parameters;
 * `not-completed`, the session has no answer of it to keep; `upstream`, it reads (directly or not) from a
 * stage computed again.
 */
export type RerunReason = "chosen" | "edited-input" | "params" | "not-completed" | "upstream";

export interface RerunStagePlan {
  stageId: string;
  /** True: the stage keeps its stored record. False: it is computed again, for `reason`. */
  reuse: boolean;
  reason?: RerunReason;
}

export interface RerunPlanOptions {
  /** The stage the rerun starts from. */
  fromStage: string;
  /** The rerun's input differs from the session's. */
  inputEdited: boolean;
  /** Stages given new generation parameters. */
  paramsStageIds?: Iterable<string>;
  /** Stages that completed in the session: only these can keep their answers. */
  completedStageIds: Iterable<string>;
}

/**
 * The plan of a rerun, one entry per stage in the pipeline's order. A stage is computed again when it is
 * the chosen stage, reads an edited input, has new parameters or did not complete, and so is every stage
 * downstream of one computed again; every other stage keeps its stored answer.
 */
export function planRerun(pipeline: Pick<Pipeline, "stages">, options: RerunPlanOptions): RerunStagePlan[] {
  const completed = new Set(options.completedStageIds);
  const params = new Set(options.paramsStageIds ?? []);
  // The first reason that applies is the one given: the most direct cause.
  const ownReason = (stage: Pipeline["stages"][number]): RerunReason | undefined => {
    if (stage.id === options.fromStage) return "chosen";
    if (options.inputEdited && inputIds(stage).length === 0) return "edited-input";
    if (params.has(stage.id)) return "params";
    if (!completed.has(stage.id)) return "not-completed";
    return undefined;
  };
  const reasons = new Map<string, RerunReason>();
  for (const stage of pipeline.stages) {
    const reason = ownReason(stage);
    if (reason) reasons.set(stage.id, reason);
  }
  const recomputed = new Set<string>();
  for (const stageId of reasons.keys()) for (const id of downstreamOf(pipeline, stageId)) recomputed.add(id);
  return pipeline.stages.map((stage) =>
    recomputed.has(stage.id) ? { stageId: stage.id, reuse: false, reason: reasons.get(stage.id) ?? "upstream" } : { stageId: stage.id, reuse: true },
  );
}
