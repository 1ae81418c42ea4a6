import { describe, expect, it } from "vitest";
import { pipelineSchema, type Pipeline, type Stage } from "../../config/schema";
import {
  applyLayout,
  automaticPositions,
  connectStages,
  disconnectStages,
  downstreamOf,
  drawnStages,
  freePosition,
  inputNodeId,
  layeredLayout,
  modelFix,
  newMultiStage,
  newSingleStage,
  pipelineEdges,
  readersOf,
  removeStages,
  removeStagesReconnecting,
  renameStage,
  sameValue,
  schemaIssues,
  setStageModel,
  switchStageType,
  uniqueStageId,
} from "./pipeline-graph";

const single = (id: string, input_from?: string | string[], extra: Partial<Stage> = {}): Stage =>
  ({ id, type: "single", model: "storyteller", params: {}, output_mode: "answer_only", ...(input_from === undefined ? {} : { input_from }), ...extra }) as Stage;

/** draft → voices → ending, and draft → ending. */
const story: Pipeline = {
  stages: [single("draft"), single("voices", "draft"), single("ending", ["draft", "voices"], { prompt: "{{stage.draft}} then {{ stage.voices }}" })],
};

function stage(pipeline: Pipeline, id: string): Stage {
  const found = pipeline.stages.find((item) => item.id === id);
  if (!found) throw new Error(`no stage ${id}`);
  return found;
}

describe("pipelineEdges", () => {
  it("draws an edge from the input node to a stage without input_from and one per input_from entry", () => {
    expect(pipelineEdges(story).map((edge) => [edge.source, edge.target, edge.fromInput])).toEqual([
      [inputNodeId, "draft", true],
      ["draft", "voices", false],
      ["draft", "ending", false],
      ["voices", "ending", false],
    ]);
  });
});

describe("connectStages", () => {
  it("makes input_from a single id for one edge and a list for several", () => {
    const base: Pipeline = { stages: [single("a"), single("b"), single("c")] };
    const one = connectStages(base, "a", "c");
    expect(one.ok && stage(one.pipeline, "c").input_from).toBe("a");
    const two = one.ok ? connectStages(one.pipeline, "b", "c") : one;
    expect(two.ok && stage(two.pipeline, "c").input_from).toEqual(["a", "b"]);
  });

  it("an edge from the input node removes input_from", () => {
    const result = connectStages(story, inputNodeId, "ending");
    expect(result.ok && "input_from" in stage(result.pipeline, "ending")).toBe(false);
  });

  it("refuses an edge that closes a cycle and names the stages along it", () => {
    const result = connectStages(story, "ending", "draft");
    expect(result).toEqual({ ok: false, refusal: { reason: "cycle", source: "ending", target: "draft", path: ["ending", "draft", "ending"] } });
    const longer = connectStages({ stages: [single("a"), single("b", "a"), single("c", "b")] }, "c", "a");
    expect(!longer.ok && longer.refusal).toMatchObject({ path: ["c", "a", "b", "c"] });
  });

  it("refuses a self-loop", () => {
    const result = connectStages(story, "voices", "voices");
    expect(result).toEqual({ ok: false, refusal: { reason: "self-loop", stage: "voices" } });
  });

  it("refuses an edge into the input node", () => {
    expect(connectStages(story, "draft", inputNodeId).ok).toBe(false);
  });
});

describe("disconnectStages and removeStages", () => {
  it("removing the last edge into a stage makes it read the user's input", () => {
    const next = disconnectStages(story, "draft", "voices");
    expect("input_from" in stage(next, "voices")).toBe(false);
    expect(stage(disconnectStages(story, "voices", "ending"), "ending").input_from).toBe("draft");
  });

  it("removing a stage removes it from the others' input_from", () => {
    const next = removeStages(story, ["draft"]);
    expect(next.stages.map((item) => item.id)).toEqual(["voices", "ending"]);
    expect("input_from" in stage(next, "voices")).toBe(false);
    expect(stage(next, "ending").input_from).toBe("voices");
  });
});

describe("renameStage", () => {
  it("updates the input_from and the {{stage.ID}} placeholders of the readers", () => {
    const result = renameStage(story, "draft", "opening");
    if (!result.ok) throw new Error(result.refusal.reason);
    expect(result.pipeline.stages.map((item) => item.id)).toEqual(["opening", "voices", "ending"]);
    expect(stage(result.pipeline, "voices").input_from).toBe("opening");
    expect(stage(result.pipeline, "ending").input_from).toEqual(["opening", "voices"]);
    expect(stage(result.pipeline, "ending").prompt).toBe("{{stage.opening}} then {{ stage.voices }}");
  });

  it("refuses a taken id and a malformed one", () => {
    expect(renameStage(story, "draft", "voices")).toEqual({ ok: false, refusal: { reason: "taken-id", stage: "voices" } });
    expect(renameStage(story, "draft", "9lives")).toEqual({ ok: false, refusal: { reason: "malformed-id" } });
  });
});

describe("new stages", () => {
  it("get a unique id and pass the schema", () => {
    const pipeline: Pipeline = { stages: [single("stage2")] };
    expect(uniqueStageId(pipeline)).toBe("stage3");
    const multi = newMultiStage(pipeline, ["storyteller"], { x: 0, y: 0 });
    expect(multi).toMatchObject({ id: "stage3", models: ["storyteller", "storyteller"], aggregation: { method: "concat", separator: "\n\n", labels: true } });
    const added: Pipeline = { stages: [...pipeline.stages, multi, newSingleStage({ stages: [...pipeline.stages, multi] }, "critic", { x: 1, y: 2 })] };
    expect(added.stages.map((item) => item.id)).toEqual(["stage2", "stage3", "stage4"]);
    expect(pipelineSchema.safeParse(added).success).toBe(true);
  });

  it("switching type keeps the shared fields and passes the schema", () => {
    const multi = switchStageType(single("a", "b", { prompt: "p" }), "multi");
    expect(multi).toMatchObject({ type: "multi", models: ["storyteller", "storyteller"], input_from: "b", prompt: "p" });
    const back = switchStageType(multi, "single");
    expect(back).toMatchObject({ type: "single", model: "storyteller", prompt: "p" });
    expect("aggregation" in back).toBe(false);
    expect(pipelineSchema.safeParse({ stages: [single("b"), multi] }).success).toBe(true);
  });
});

describe("layeredLayout", () => {
  it("puts each stage in the column of its depth, left to right, without overlaps in a column", () => {
    const positions = layeredLayout([...story.stages, single("side")]);
    const x = (id: string) => positions.get(id)!.x;
    expect(x("draft")).toBeLessThan(x("voices"));
    expect(x("voices")).toBeLessThan(x("ending"));
    expect(x("side")).toBe(x("draft"));
    expect(Math.abs(positions.get("side")!.y - positions.get("draft")!.y)).toBeGreaterThanOrEqual(110);
  });

  it("moves the middle of a chain off the straight line of an edge that skips it", () => {
    const positions = layeredLayout(story.stages);
    expect(positions.get("draft")!.y).toBe(positions.get("ending")!.y);
    expect(positions.get("voices")!.y - positions.get("draft")!.y).toBeGreaterThanOrEqual(60);
  });

  it("survives a cycle (a file edited by hand) without looping", () => {
    const positions = layeredLayout([single("a", "b"), single("b", "a")]);
    expect(positions.size).toBe(2);
  });

  it("applyLayout sets a position on every stage", () => {
    expect(applyLayout(story).stages.every((item) => item.position !== undefined)).toBe(true);
  });
});

describe("automaticPositions and drawnStages", () => {
  const placed = { x: 900, y: -40 };
  const stages = [single("draft"), single("voices", "draft", { position: placed }), single("ending", ["draft", "voices"])];

  it("lay out only the stages without a position of their own, and leave the stages as they are", () => {
    const before = structuredClone(stages);
    const automatic = automaticPositions(stages);
    expect([...automatic.keys()]).toEqual(["draft", "ending"]);
    expect(automatic.get("draft")).toEqual(layeredLayout(stages).get("draft"));
    expect(stages).toEqual(before);
    expect(automaticPositions([single("a", undefined, { position: placed })]).size).toBe(0);
  });

  it("draw a stage at its own position, else at its automatic one, without giving the pipeline a position", () => {
    const automatic = new Map([
      ["draft", { x: 1, y: 2 }],
      ["ending", { x: 3, y: 4 }],
    ]);
    expect(drawnStages(stages, automatic).map((stage) => stage.position)).toEqual([{ x: 1, y: 2 }, placed, { x: 3, y: 4 }]);
    expect(stages.map((stage) => stage.position)).toEqual([undefined, placed, undefined]);
  });

  it("keep a stage drawn where it was opened when the edges change (a layout made now would move it)", () => {
    const automatic = automaticPositions(stages);
    const rewired = disconnectStages({ stages }, "voices", "ending");
    const ending = drawnStages(rewired.stages, automatic).find((stage) => stage.id === "ending")!;
    expect(ending.position).toEqual(automatic.get("ending"));
    expect(layeredLayout(rewired.stages).get("ending")).not.toEqual(automatic.get("ending"));
  });

  it("draw a stage the automatic layout never placed where a layout of the stages now puts it", () => {
    const drawn = drawnStages([...stages, single("late", "ending")], new Map());
    expect(drawn.at(-1)!.position).toEqual(layeredLayout([...stages, single("late", "ending")]).get("late"));
  });
});

describe("freePosition", () => {
  it("moves a new node off an existing one", () => {
    const taken = [single("a", undefined, { position: { x: 100, y: 100 } })];
    const point = freePosition(taken, { x: 110, y: 90 });
    expect(point.x).toBe(110);
    expect(point.y - 100).toBeGreaterThanOrEqual(130);
    expect(freePosition(taken, { x: 600, y: 100 })).toEqual({ x: 600, y: 100 });
  });
});

describe("schemaIssues", () => {
  it("ties a schema problem to its stage", () => {
    const issues = schemaIssues({ stages: [single("a"), { ...single("b"), model: "" } as Stage] });
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]).toMatchObject({ severity: "error", stageId: "b", path: "stages[1].model" });
  });

  it("says an empty pipeline needs a stage", () => {
    expect(schemaIssues({ stages: [] })[0]!.schema).toEqual({ kind: "no-stages" });
  });

  it("gives the kind and the bound of a problem, for the page's own words", () => {
    const issues = schemaIssues({ stages: [single("a", undefined, { params: { temperature: 9, top_p: 0 } })] });
    expect(issues.map((issue) => [issue.path, issue.schema])).toEqual([
      ["stages[0].params.temperature", { kind: "too-big", limit: 5, inclusive: true, origin: "number" }],
      ["stages[0].params.top_p", { kind: "too-small", limit: 0, inclusive: false, origin: "number" }],
    ]);
    const template = { ...newMultiStage(story, ["storyteller"], { x: 0, y: 0 }), aggregation: { method: "template" as const, template: "" } };
    expect(schemaIssues({ stages: [template] })[0]).toMatchObject({ path: "stages[0].aggregation.template", schema: { kind: "empty" } });
  });

  it("finds nothing wrong with a valid pipeline", () => {
    expect(schemaIssues(story)).toEqual([]);
  });
});

describe("sameValue", () => {
  it("ignores key order and undefined keys, not values", () => {
    expect(sameValue({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(true);
    expect(sameValue({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
  });
});

describe("deleting stages that others read", () => {
  /** draft → voices → ending, draft → ending, voices → aside; note reads the user's input. */
  const four: Pipeline = {
    stages: [
      single("draft"),
      single("voices", "draft"),
      single("ending", ["draft", "voices"], { prompt: "{{stage.draft}} / {{ stage.voices }}" }),
      single("aside", "voices", { prompt: "About {{stage.voices}}" }),
      single("note"),
    ],
  };

  it("finds the readers outside the deleted stages, with what each reads of them", () => {
    expect(readersOf(four, ["voices"])).toEqual([
      { id: "ending", reads: ["voices"] },
      { id: "aside", reads: ["voices"] },
    ]);
    expect(readersOf(four, ["draft", "voices"])).toEqual([
      { id: "ending", reads: ["draft", "voices"] },
      { id: "aside", reads: ["voices"] },
    ]);
    expect(readersOf(four, ["note", "aside"])).toEqual([]);
  });

  it("finds everything downstream, in pipeline order", () => {
    expect(downstreamOf(four, ["voices"])).toEqual(["voices", "ending", "aside"]);
    expect(downstreamOf(four, ["draft"])).toEqual(["draft", "voices", "ending", "aside"]);
    expect(downstreamOf(four, ["note"])).toEqual(["note"]);
  });

  it("connects the readers to what the deleted stage read, and their placeholders follow", () => {
    const next = removeStagesReconnecting(four, ["voices"]);
    expect(next.stages.map((item) => [item.id, item.input_from ?? null, item.prompt ?? null])).toEqual([
      ["draft", null, null],
      ["ending", "draft", "{{stage.draft}} / {{ stage.draft }}"],
      ["aside", "draft", "About {{stage.draft}}"],
      ["note", null, null],
    ]);
  });

  it("goes through deleted stages that read deleted stages, down to the user's input", () => {
    const next = removeStagesReconnecting(four, ["draft", "voices"]);
    // aside read voices, which read draft, which read the user's input: aside reads it now, as {{input}}.
    expect(stage(next, "aside")).toMatchObject({ prompt: "About {{input}}" });
    expect("input_from" in stage(next, "aside")).toBe(false);
    expect("input_from" in stage(next, "ending")).toBe(false);
    expect(stage(next, "ending").prompt).toBe("{{input}} / {{ input }}");
  });

  it("leaves a placeholder that has no one stage to stand for it, for validation to name", () => {
    const merged: Pipeline = { stages: [single("a"), single("b"), single("both", ["a", "b"]), single("reader", ["both", "a"], { prompt: "{{stage.both}}" })] };
    const next = removeStagesReconnecting(merged, ["both"]);
    expect(stage(next, "reader")).toMatchObject({ input_from: ["a", "b"], prompt: "{{stage.both}}" });
    // A stage that read the user's input, read with another stage: the reader keeps the other one only.
    const mixed = removeStagesReconnecting(four, ["draft"]);
    expect(stage(mixed, "ending")).toMatchObject({ input_from: "voices", prompt: "{{stage.draft}} / {{ stage.voices }}" });
  });
});

describe("model fixes", () => {
  it("finds the model field of an unknown model with a suggestion", () => {
    expect(modelFix({ stageId: "a", path: "stages[0].model", suggestion: "storyteller" })).toEqual({ stageId: "a", field: { kind: "model" }, model: "storyteller" });
    expect(modelFix({ stageId: "v", path: "pipeline.stages[1].models[1]", suggestion: "dreamer" })).toEqual({ stageId: "v", field: { kind: "models", index: 1 }, model: "dreamer" });
    expect(modelFix({ stageId: "v", path: "stages[1].aggregation.model", suggestion: "critic" })?.field).toEqual({ kind: "aggregation" });
    expect(modelFix({ stageId: "v", path: "stages[1].models[1]" })).toBeUndefined();
    expect(modelFix({ stageId: "v", path: "stages[1].input_from", suggestion: "draft" })).toBeUndefined();
  });

  it("sets the model of that field", () => {
    const multi = newMultiStage(story, ["storyteller", "dremer"], { x: 0, y: 0 });
    expect(setStageModel(multi, { kind: "models", index: 1 }, "dreamer")).toMatchObject({ models: ["storyteller", "dreamer"] });
    expect(setStageModel(single("a", undefined, { model: "storyteler" } as Partial<Stage>), { kind: "model" }, "storyteller")).toMatchObject({ model: "storyteller" });
    const synthesis = { ...multi, aggregation: { method: "synthesis" as const, model: "critc", params: {} } };
    expect(setStageModel(synthesis, { kind: "aggregation" }, "critic")).toMatchObject({ aggregation: { model: "critic" } });
    expect(setStageModel(multi, { kind: "models", index: 5 }, "x")).toBe(multi);
  });
});
