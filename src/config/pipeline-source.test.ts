import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadPipeline } from "./load.js";
import { deletePipelineSource, readPipelineSource, savePipelineSource } from "./pipeline-source.js";
import type { Pipeline } from "./schema.js";

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
