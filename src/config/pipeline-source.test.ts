import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadPipeline } from "./load.js";
import { deletePipelineSource, fileForm, readPipelineSource, savePipelineSource } from "./pipeline-source.js";
import { multiStageSchema, pipelineSchema, singleStageSchema, type Pipeline } from "./schema.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "project-llm-source-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const commented = `# The base pipeline: a comment at the top.
base_pipeline:
  name: Demo # the name shown in the studio
  stages:
    # the first stage writes a draft
    - id: draft
      type: single
      model: storyteller
      prompt: "{{input}}"
      params:
        max_tokens: 48 # short
    # the second one goes on
    - id: more
      type: single
      model: dreamer
      input_from: draft
`;

describe("pipeline sources", () => {
  it("saves over a file keeping its comments, key order and styles, and matches stages by id", async () => {
    await writeFile(path.join(dir, "pipeline.yaml"), commented);
    const source = await readPipelineSource(dir, "base");
    const { pipeline } = await loadPipeline(dir, "base");
    const edited: Pipeline = structuredClone(pipeline);
    // A new stage goes first, the draft's token count changes, the second stage loses input_from.
    edited.stages[0]!.params = { max_tokens: 64 };
    delete edited.stages[1]!.input_from;
    edited.stages.unshift({ id: "intro", type: "single", model: "critic", params: {}, output_mode: "answer_only" });

    const saved = await savePipelineSource(dir, "base", edited, { baseVersion: source.version });
    const text = await readFile(path.join(dir, "pipeline.yaml"), "utf8");
    expect(saved.text).toBe(text);
    expect(text).toContain("# The base pipeline: a comment at the top.");
    expect(text).toContain("name: Demo # the name shown in the studio");
    expect(text).toContain("# the first stage writes a draft");
    expect(text).toContain("max_tokens: 64 # short");
    expect(text).toContain('prompt: "{{input}}"');
    expect(text).not.toContain("input_from");
    expect(text.indexOf("id: intro")).toBeLessThan(text.indexOf("id: draft"));
    // The comment stays with its stage, not with the position it had.
    expect(text.indexOf("# the first stage writes a draft")).toBeGreaterThan(text.indexOf("id: intro"));
    expect(text.indexOf("id: draft")).toBeLessThan(text.indexOf("id: more"));

    const reloaded = await loadPipeline(dir, "base");
    expect(reloaded.pipeline.stages.map((stage) => stage.id)).toEqual(["intro", "draft", "more"]);
    expect(reloaded.pipeline.stages[1]!.params.max_tokens).toBe(64);
  });

  it("refuses a save over a file that changed since it was read, and keeps both versions' text", async () => {
    await writeFile(path.join(dir, "pipeline.yaml"), commented);
    const opened = await readPipelineSource(dir, "base");
    const { pipeline } = await loadPipeline(dir, "base");
    const onDisk = commented.replace("name: Demo", "name: Changed elsewhere");
    await writeFile(path.join(dir, "pipeline.yaml"), onDisk);

    await expect(savePipelineSource(dir, "base", pipeline, { baseVersion: opened.version })).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringContaining("changed since it was opened"),
    });
    expect(await readFile(path.join(dir, "pipeline.yaml"), "utf8")).toBe(onDisk);
  });

  it("creates a named pipeline, refuses to create it twice, and deletes it", async () => {
    const pipeline: Pipeline = { stages: [{ id: "one", type: "single", model: "storyteller", params: {}, output_mode: "answer_only" }] };
    const created = await savePipelineSource(dir, "mine", pipeline, { baseVersion: null });
    expect(created.file).toBe(path.join(dir, "pipelines", "mine.yaml"));
    expect((await loadPipeline(dir, "mine")).pipeline.stages[0]!.id).toBe("one");
    await expect(savePipelineSource(dir, "mine", pipeline, { baseVersion: null })).rejects.toMatchObject({ code: "conflict" });
    await expect(deletePipelineSource(dir, "mine", "stale")).rejects.toMatchObject({ code: "conflict" });
    await deletePipelineSource(dir, "mine", created.version!);
    expect((await readPipelineSource(dir, "mine")).text).toBeNull();
  });

  it("refuses a name that would leave the pipelines folder", async () => {
    const pipeline: Pipeline = { stages: [{ id: "one", type: "single", model: "m", params: {}, output_mode: "answer_only" }] };
    await expect(savePipelineSource(dir, "../escape", pipeline, { baseVersion: null })).rejects.toMatchObject({ code: "usage" });
    await expect(readPipelineSource(dir, "a/b")).rejects.toMatchObject({ code: "usage" });
  });
});

/** Loads a pipeline file, saves it back with `edit` applied, and answers the file's new text. */
async function saveEdited(text: string, edit: (pipeline: Pipeline) => void = () => {}): Promise<string> {
  await writeFile(path.join(dir, "pipeline.yaml"), text);
  const source = await readPipelineSource(dir, "base");
  const { pipeline } = await loadPipeline(dir, "base");
  const edited = structuredClone(pipeline);
  edit(edited);
  await savePipelineSource(dir, "base", edited, { baseVersion: source.version });
  return readFile(path.join(dir, "pipeline.yaml"), "utf8");
}

describe("what a save writes", () => {
  const twoStages = `base_pipeline:
  stages:
    - id: draft
      type: single
      model: storyteller
    - id: voices
      type: multi
      input_from: draft
      models: [storyteller, dreamer]
      aggregation:
        method: concat
    - id: weave
      type: multi
      models: [storyteller, dreamer]
      aggregation:
        method: synthesis
        model: critic
`;

  it("writes a file saved unchanged back as it was: no default the schema filled in is added", async () => {
    // The parsed pipeline holds params: {}, output_mode, concat's separator and labels, the synthesis's params.
    const { pipeline } = await (async () => {
      await writeFile(path.join(dir, "pipeline.yaml"), twoStages);
      return loadPipeline(dir, "base");
    })();
    expect(pipeline.stages[0]).toMatchObject({ params: {}, output_mode: "answer_only" });
    expect(await saveEdited(twoStages)).toBe(twoStages);
  });

  it("keeps the spacing inside each one-line list and mapping as the file has it", async () => {
    const mixed = `base_pipeline:
  stages:
    - id: voices
      type: multi
      models: [storyteller, dreamer]
      aggregation: { method: vote }
      params: {max_tokens: 120}
      input_from: [ draft ]
    - id: draft
      type: single
      model: storyteller
`;
    expect(await saveEdited(mixed)).toBe(mixed);
    expect(await saveEdited(mixed, (pipeline) => void (pipeline.stages[0]!.params.max_tokens = 100))).toBe(mixed.replace("120", "100"));
  });

  it("keeps a key the file has even when it holds the default", async () => {
    const explicit = twoStages.replace("      model: storyteller\n    - id: voices", "      model: storyteller\n      params: {}\n      output_mode: answer_only # on purpose\n    - id: voices");
    expect(explicit).toContain("on purpose");
    expect(await saveEdited(explicit)).toBe(explicit);
  });

  it("writes a key whose value is no longer the default, and drops it again once it is", async () => {
    const changed = await saveEdited(twoStages, (pipeline) => {
      pipeline.stages[0]!.output_mode = "input_plus_answer";
      const voices = pipeline.stages[1]!;
      if (voices.type === "multi" && voices.aggregation.method === "concat") voices.aggregation.labels = false;
    });
    expect(changed).toContain("      model: storyteller\n      output_mode: input_plus_answer\n");
    expect(changed).toContain("        method: concat\n        labels: false\n");
    expect(changed).not.toContain("separator");
    expect(changed).not.toContain("params");
  });

  it("writes a new stage's keys in their natural order, without its defaults", async () => {
    const text = await saveEdited(twoStages, (pipeline) => {
      // Built in the order the zod schema gives a parsed stage (params and output_mode before type).
      pipeline.stages.push(
        singleStageSchema.parse({ position: { x: 1, y: 2 }, params: { max_tokens: 8 }, output_mode: "answer_only", prompt: "{{input}}", input_from: "draft", model: "critic", type: "single", name: "Last", id: "last" }),
        multiStageSchema.parse({ aggregation: { method: "concat" }, models: ["critic", "dreamer"], type: "multi", id: "many" }),
      );
    });
    expect(text.slice(text.indexOf("    - id: last"))).toBe(`    - id: last
      name: Last
      type: single
      model: critic
      input_from: draft
      prompt: "{{input}}"
      params:
        max_tokens: 8
      position:
        x: 1
        y: 2
    - id: many
      type: multi
      models: [critic, dreamer]
      aggregation:
        method: concat
`);
  });

  it("puts a key a stage gains among the stage's keys where it belongs, not at the end", async () => {
    const text = await saveEdited(twoStages, (pipeline) => {
      pipeline.stages[0]!.prompt = "{{input}}";
      pipeline.stages[0]!.name = "Draft";
    });
    expect(text).toContain(`    - id: draft
      name: Draft
      type: single
      model: storyteller
      prompt: "{{input}}"
    - id: voices`);
  });

  it("creates a new file from a pipeline with no defaults in it", async () => {
    const pipeline = pipelineSchema.parse({ name: "New", stages: [{ id: "one", type: "single", model: "storyteller" }] });
    const created = await savePipelineSource(dir, "fresh", pipeline, { baseVersion: null });
    expect(created.text).toBe("pipeline:\n  name: New\n  stages:\n    - id: one\n      type: single\n      model: storyteller\n");
  });
});

describe("fileForm", () => {
  // The schema's shorthand: `aggregation: vote` is `{ method: vote }`.
  const stage = (id: string, models: string[], aggregation: unknown) => ({ id, type: "multi", models, aggregation });
  const parsed = (stages: unknown[]) => pipelineSchema.parse({ stages });

  it("keeps the file's shorthand when the value still means the same", () => {
    const file = parse("stages:\n  - id: voices\n    type: multi\n    models: [a, b]\n    aggregation: vote\n");
    expect(fileForm(parsed([stage("voices", ["a", "b"], "vote")]), file, pipelineSchema)).toEqual({ stages: [stage("voices", ["a", "b"], "vote")] });
  });

  it("writes the whole value when it changed", () => {
    const file = parse("stages:\n  - id: voices\n    type: multi\n    models: [a, b]\n    aggregation: vote\n");
    const changed = parsed([stage("voices", ["a", "b"], { method: "template", template: "{{answers}}" })]);
    expect(fileForm(changed, file, pipelineSchema)).toEqual({ stages: [stage("voices", ["a", "b"], { method: "template", template: "{{answers}}" })] });
  });

  it("matches stages by id, so a stage moved in the list keeps its own wording", () => {
    const file = parse("stages:\n  - id: first\n    type: multi\n    models: [a]\n    aggregation: concat\n    params: {}\n  - id: voices\n    type: multi\n    models: [a, b]\n    aggregation: vote\n");
    const value = parsed([stage("voices", ["a", "b"], "vote"), stage("first", ["a"], "concat")]);
    expect(fileForm(value, file, pipelineSchema)).toEqual({ stages: [stage("voices", ["a", "b"], "vote"), { ...stage("first", ["a"], "concat"), params: {} }] });
  });

  it("saves a file written with the shorthand without rewriting it", async () => {
    const text = "pipeline:\n  stages:\n    - id: voices\n      type: multi\n      models: [a, b]\n      aggregation: vote # the answer most models gave\n";
    await mkdir(path.join(dir, "pipelines"), { recursive: true });
    await writeFile(path.join(dir, "pipelines", "short.yaml"), text);
    const source = await readPipelineSource(dir, "short");
    const loaded = await loadPipeline(dir, "short");
    expect(loaded.pipeline.stages[0]).toMatchObject({ aggregation: { method: "vote" } });
    const saved = await savePipelineSource(dir, "short", loaded.pipeline, { baseVersion: source.version });
    expect(saved.text).toBe(text);
  });
});
