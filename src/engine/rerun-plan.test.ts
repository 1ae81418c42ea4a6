import { describe, expect, it } from "vitest";
import { planRerun } from "./rerun-plan.js";

// draft reads the user's input; voices reads draft; ending reads both; aside reads the input too.
const pipeline = {
  stages: [{ id: "draft" }, { id: "voices", input_from: "draft" }, { id: "ending", input_from: ["draft", "voices"] }, { id: "aside" }],
} as never;
const allCompleted = ["draft", "voices", "ending", "aside"];

/** The plan as "id:reuse" or "id:reason" strings, in order. */
function plan(options: Parameters<typeof planRerun>[1]): string[] {
  return planRerun(pipeline, options).map((step) => `${step.stageId}:${step.reuse ? "reuse" : step.reason}`);
}

describe("planRerun", () => {
  it("computes the chosen stage and what follows it again, and keeps every other stage's answer", () => {
    expect(plan({ fromStage: "voices", inputEdited: false, completedStageIds: allCompleted })).toEqual(["draft:reuse", "voices:chosen", "ending:upstream", "aside:reuse"]);
    expect(plan({ fromStage: "ending", inputEdited: false, completedStageIds: allCompleted })).toEqual(["draft:reuse", "voices:reuse", "ending:chosen", "aside:reuse"]);
  });

  it("with an edited input, also computes every stage that reads the input and what follows them", () => {
    expect(plan({ fromStage: "ending", inputEdited: true, completedStageIds: allCompleted })).toEqual([
      "draft:edited-input",
      "voices:upstream",
      "ending:chosen",
      "aside:edited-input",
    ]);
  });

  it("computes again a stage with new parameters, and a stage the session has no answer of", () => {
    expect(plan({ fromStage: "ending", inputEdited: false, paramsStageIds: ["voices"], completedStageIds: allCompleted })).toEqual([
      "draft:reuse",
      "voices:params",
      "ending:chosen",
      "aside:reuse",
    ]);
    expect(plan({ fromStage: "ending", inputEdited: false, completedStageIds: ["draft", "ending"] })).toEqual([
      "draft:reuse",
      "voices:not-completed",
      "ending:chosen",
      "aside:not-completed",
    ]);
  });

  it("gives the most direct reason when several apply", () => {
    expect(plan({ fromStage: "draft", inputEdited: true, paramsStageIds: ["draft", "voices"], completedStageIds: [] })).toEqual([
      "draft:chosen",
      "voices:params",
      "ending:not-completed",
      "aside:edited-input",
    ]);
  });
});
