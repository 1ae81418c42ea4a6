import { describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import type { Stage } from "../config/schema.js";
import {
  aggregationTemplateNames,
  answerValues,
  checkStageTemplates,
  findBraceSlips,
  labelledAnswers,
  mergeInputs,
  renderTemplate,
  templatePlaceholders,
  unknownPlaceholders,
} from "./templates.js";

describe("templates", () => {
  it("lists placeholders once each, tolerating spaces inside the braces", () => {
    expect(templatePlaceholders("{{input}} {{ stage.a }} {{input}} {{answer.m-1.q8}}")).toEqual(["input", "stage.a", "answer.m-1.q8"]);
    expect(templatePlaceholders("{{ two words }} {{}} { {input} }")).toEqual([]);
  });

  it("renders values in one pass without expanding placeholders inside them", () => {
    expect(renderTemplate("<{{ input }}|{{stage.a}}>", { input: "{{stage.a}}", "stage.a": "A" }, "here")).toBe("<{{stage.a}}|A>");
  });

  it("rejects an unknown placeholder with config-invalid, naming it and what is available", () => {
    let thrown: unknown;
    try {
      renderTemplate("{{input}} {{stage.b}}", { input: "x", "stage.a": "y" }, "stage s prompt");
    } catch (error) {
      thrown = error;
    }
    expect(ProjectLlmError.isInstance(thrown) && thrown.code).toBe("config-invalid");
    expect((thrown as Error).message).toBe("stage s prompt: unknown placeholder {{stage.b}}; available: {{input}}, {{stage.a}}");
  });

  it("does not fill a placeholder from Object.prototype", () => {
    expect(() => renderTemplate("{{constructor}}", { input: "x" }, "t")).toThrow(/\{\{constructor\}\}/);
  });

  it("merges several inputs under [stage: ID] labels and passes one input as it is", () => {
    expect(mergeInputs([{ stageId: "draft", output: "D" }, { stageId: "panel", output: "P\n" }])).toBe("[stage: draft]\nD\n\n[stage: panel]\nP\n");
    expect(mergeInputs([{ stageId: "draft", output: "D" }])).toBe("D");
  });

  it("fills answers by position, by model name (first answer of a repeated model) and all labelled", () => {
    const values = answerValues("Q", [
      { model: "m1", answer: "a1" },
      { model: "m2", answer: "a2" },
      { model: "m1", answer: "a3" },
    ]);
    expect(values).toMatchObject({ input: "Q", "answer.3": "a3", "model.2": "m2", "answer.m1": "a1", "answer.m2": "a2" });
    expect(values.answers).toBe(labelledAnswers([{ model: "m1", answer: "a1" }, { model: "m2", answer: "a2" }, { model: "m1", answer: "a3" }]));
    expect(values.answers).toBe("[model: m1]\na1\n\n[model: m2]\na2\n\n[model: m1]\na3");
  });

  it("checks a stage's templates against what the stage can fill", () => {
    const stage = {
      id: "s",
      type: "multi",
      models: ["m1", "m2"],
      input_from: ["a"],
      prompt: "{{input}} {{stage.a}} {{stage.b}}",
      aggregation: { method: "template", template: "{{answer.2}} {{answer.3}} {{answer.m2}} {{model.1}} {{answers}}" },
      params: {},
      output_mode: "answer_only",
    } as Stage;
    const issues = checkStageTemplates(stage);
    expect(issues.map(({ field, placeholder }) => `${field}:${placeholder}`)).toEqual(["prompt:stage.b", "aggregation.template:answer.3"]);
    expect(issues[0]!.message).toContain("{{stage.b}}");
    expect(unknownPlaceholders("{{answer.m3}}", aggregationTemplateNames(["m1", "m2"]))).toEqual(["answer.m3"]);
    const synthesis = { ...stage, prompt: undefined, aggregation: { method: "synthesis", model: "j", prompt: "{{stage.a}}", params: {} } } as Stage;
    expect(checkStageTemplates(synthesis).map((issue) => issue.field)).toEqual(["aggregation.prompt"]);
  });

  it("finds placeholder names short of a brace in every template of a stage, and leaves other braces alone", () => {
    const single = {
      id: "s",
      type: "single",
      model: "m",
      input_from: "a",
      prompt: '{input} and {{input}}, {{stage.a}, { stage.a }, {{{input}}}, {name}, {"input": 1}, {{stage.a}}',
      params: {},
      output_mode: "answer_only",
    } as Stage;
    expect(findBraceSlips(single).map(({ text, placeholder, occurrence }) => `${text}>${placeholder}#${occurrence}`)).toEqual([
      "{input}>{{input}}#0",
      "{{stage.a}>{{stage.a}}#0",
      "{ stage.a }>{{stage.a}}#0",
    ]);
    const template = { ...single, type: "multi", models: ["m1", "m2"], prompt: undefined, aggregation: { method: "template", template: "{{answers}} {answer.1}} {model.2} {stage.a}" } } as Stage;
    expect(findBraceSlips(template).map(({ field, text }) => `${field}:${text}`)).toEqual(["aggregation.template:{answer.1}}", "aggregation.template:{model.2}"]);
    const synthesis = { ...template, aggregation: { method: "synthesis", model: "j", prompt: "{{input}} then {answers}", params: {} } } as Stage;
    expect(findBraceSlips(synthesis)).toMatchObject([{ field: "aggregation.prompt", text: "{answers}", placeholder: "{{answers}}" }]);
  });

  it("counts a slip's earlier appearances inside placeholders too, so that the file place is its own", () => {
    const stage = { id: "s", type: "single", model: "m", prompt: "{{input}} {input} {input}", params: {}, output_mode: "answer_only" } as Stage;
    expect(findBraceSlips(stage).map((slip) => slip.occurrence)).toEqual([1, 2]);
  });
});
