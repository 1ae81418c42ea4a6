import { describe, expect, it } from "vitest";
import { pipelineSchema, type Pipeline, type Stage } from "../../config/schema";
import {
  applyLayout,
  connectStages,
  disconnectStages,
  edgeLabel,
  freePosition,
  inputNodeId,
  layeredLayout,
  newMultiStage,
  newSingleStage,
  pipelineEdges,
  removeStages,
  renameStage,
  sameValue,
  schemaIssues,
  stageLabel,
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
    expect(result).toEqual({ ok: false, message: "Refused: connecting ending → draft would make a cycle: ending → draft → ending." });
    const longer = connectStages({ stages: [single("a"), single("b", "a"), single("c", "b")] }, "c", "a");
    expect(!longer.ok && longer.message).toContain("c → a → b → c");
  });

  it("refuses a self-loop", () => {
    const result = connectStages(story, "voices", "voices");
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain("voices → voices");
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
    if (!result.ok) throw new Error(result.message);
    expect(result.pipeline.stages.map((item) => item.id)).toEqual(["opening", "voices", "ending"]);
    expect(stage(result.pipeline, "voices").input_from).toBe("opening");
    expect(stage(result.pipeline, "ending").input_from).toEqual(["opening", "voices"]);
    expect(stage(result.pipeline, "ending").prompt).toBe("{{stage.opening}} then {{ stage.voices }}");
  });

  it("refuses a taken id and a malformed one", () => {
    expect(renameStage(story, "draft", "voices").ok).toBe(false);
    expect(renameStage(story, "draft", "9lives").ok).toBe(false);
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
    expect(schemaIssues({ stages: [] })[0]!.message).toContain("at least one stage");
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

describe("stageLabel and edgeLabel", () => {
  it("name a stage by id, type, models and inputs, and count its problems", () => {
    expect(stageLabel(stage(story, "draft"))).toBe("Stage draft, single, model storyteller, reads the user's input");
    expect(stageLabel(stage(story, "ending"), { errors: 2, warnings: 1 })).toBe("Stage ending, single, model storyteller, reads draft and voices, 2 errors, 1 warning");
    const multi = newMultiStage(story, ["storyteller", "dreamer"], { x: 0, y: 0 });
    expect(stageLabel({ ...multi, name: "Chorus", input_from: ["draft", "voices", "ending"] })).toBe(
      "Stage stage4 (Chorus), multi, models storyteller and dreamer, aggregation concat, reads draft, voices and ending",
    );
  });

  it("name an edge by its two ends", () => {
    expect(pipelineEdges(story).map(edgeLabel)).toEqual(["The user's input to draft", "Edge from draft to voices", "Edge from draft to ending", "Edge from voices to ending"]);
  });
});
