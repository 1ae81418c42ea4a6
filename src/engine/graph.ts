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
 * The most stages a pipeline may have. A pipeline is written and read by people: a thousand stages is far
 * past any of theirs, and the limit keeps a pipeline sent to the server from costing it more than that.
 */
export const maxPipelineStages = 1000;

/**
 * A cycle among the stages as the list of ids along it (first id repeated at the end), or undefined.
 * Unknown ids in `input_from` are ignored here (reported elsewhere).
 *
 * A depth-first search with its own stack, not the call stack: a chain of stages as deep as any pipeline
 * sent to the server (tens of thousands) is walked without a stack overflow.
 */
export function findCycle(stages: ReadonlyArray<Pick<Stage, "id" | "input_from">>): string[] | undefined {
  const byId = new Map(stages.map((stage) => [stage.id, stage]));
  const state = new Map<string, "visiting" | "done">();
  for (const root of stages) {
    if (state.has(root.id)) continue;
    // The path from `root` down to the stage being looked at, each with the index of its next input.
    const path: Array<{ id: string; inputs: string[]; next: number }> = [{ id: root.id, inputs: inputIds(root), next: 0 }];
    state.set(root.id, "visiting");
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      if (top.next === top.inputs.length) {
        path.pop();
        state.set(top.id, "done");
        continue;
      }
      const upstream = top.inputs[top.next++]!;
      const seen = state.get(upstream);
      if (seen === "done") continue;
      if (seen === "visiting") {
        const ids = path.map((entry) => entry.id);
        return [...ids.slice(ids.indexOf(upstream)), upstream].reverse();
      }
      const stage = byId.get(upstream);
      if (!stage) continue;
      state.set(upstream, "visiting");
      path.push({ id: upstream, inputs: inputIds(stage), next: 0 });
    }
  }
  return undefined;
}

/**
 * Stage ids in an order where every stage comes after its inputs (file order among independent ones).
 * A cycle or an `input_from` naming no stage is a `config-invalid` error that names the stages.
 */
export function topologicalOrder(pipeline: Pick<Pipeline, "stages">): string[] {
  const stages = pipeline.stages;
  const known = new Map(stages.map((stage, index) => [stage.id, index]));
  // Kahn's algorithm, taking the first stage in file order among those ready: a heap of file positions.
  const waitingFor = stages.map((stage) => new Set(inputIds(stage)).size);
  const readers = new Map<string, number[]>();
  stages.forEach((stage, index) => {
    for (const id of new Set(inputIds(stage))) {
      const list = readers.get(id);
      if (list) list.push(index);
      else readers.set(id, [index]);
    }
  });
  const ready = new MinHeap();
  waitingFor.forEach((count, index) => {
    if (count === 0) ready.push(index);
  });
  const order: string[] = [];
  const placed = new Set<number>();
  while (ready.size > 0) {
    const index = ready.pop();
    const stage = stages[index]!;
    // A duplicate id is placed once (its readers count it once).
    if (placed.has(index)) continue;
    placed.add(index);
    order.push(stage.id);
    if (known.get(stage.id) !== index) continue;
    for (const reader of readers.get(stage.id) ?? []) if (--waitingFor[reader]! === 0) ready.push(reader);
  }
  if (order.length < stages.length) {
    const remaining = stages.filter((_, index) => !placed.has(index));
    const cycle = findCycle(remaining);
    const unknown = remaining.flatMap((stage) => inputIds(stage).filter((id) => !known.has(id)).map((id) => `${stage.id} reads unknown stage "${id}"`));
    throw new ProjectLlmError(
      "config-invalid",
      cycle ? `the stages form a cycle: ${cycle.join(" → ")}` : unknown.length > 0 ? unknown.join("; ") : `stages ${remaining.map((stage) => stage.id).join(", ")} cannot be ordered`,
      { details: { cycle, stageIds: remaining.map((stage) => stage.id) } },
    );
  }
  return order;
}

/** A binary min-heap of numbers (a few lines: the order needs nothing more). */
class MinHeap {
  readonly #items: number[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(value: number): void {
    const items = this.#items;
    items.push(value);
    let at = items.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (items[parent]! <= value) break;
      items[at] = items[parent]!;
      at = parent;
    }
    items[at] = value;
  }

  pop(): number {
    const items = this.#items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      let at = 0;
      for (;;) {
        let child = 2 * at + 1;
        if (child >= items.length) break;
        if (child + 1 < items.length && items[child + 1]! < items[child]!) child++;
        if (items[child]! >= last) break;
        items[at] = items[child]!;
        at = child;
      }
      items[at] = last;
    }
    return top;
  }
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

/**
 * Whether two stages may run at the same time: neither is upstream of the other (the scheduler starts each
 * stage once its inputs are done, so such stages overlap as their times allow). `order` is the pipeline's
 * topological order. Each stage's upstream is a bit set: a thousand stages take 125 KiB, where sets of ids
 * would take tens of MiB for a pipeline of that many stages.
 */
export function mayRunTogether(pipeline: Pick<Pipeline, "stages">, order: readonly string[] = topologicalOrder(pipeline)): (a: string, b: string) => boolean {
  const byId = new Map(pipeline.stages.map((stage) => [stage.id, stage]));
  const position = new Map(order.map((id, index) => [id, index]));
  const words = Math.ceil(order.length / 32);
  const upstream = order.map(() => new Uint32Array(words));
  order.forEach((id, index) => {
    const above = upstream[index]!;
    for (const input of inputIds(byId.get(id)!)) {
      const from = position.get(input);
      if (from === undefined) continue;
      above[from >>> 5]! |= 1 << (from & 31);
      const further = upstream[from]!;
      for (let word = 0; word < words; word++) above[word]! |= further[word]!;
    }
  });
  const isUpstream = (of: number, stage: number) => (upstream[of]![stage >>> 5]! & (1 << (stage & 31))) !== 0;
  return (a, b) => {
    const [first, second] = [position.get(a), position.get(b)];
    if (first === undefined || second === undefined || first === second) return false;
    return !isUpstream(first, second) && !isUpstream(second, first);
  };
}
