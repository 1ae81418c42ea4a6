/** The studio's config handling, without a model: where it makes the working config, and the run modes. */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { storiesFile, tempDir, testModelsDir, writeFiles } from "../testing/fixtures.js";
import { Studio } from "./studio.js";

const repo = path.resolve(".");
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

describe("the working config", () => {
  it("is made from the examples in the project's own config folder", async () => {
    await writeFiles(root, { "config/models.example.yaml": "models: {}\n", "config/pipeline.example.yaml": "x: 1\n" });
    const studio = Studio.open({ cwd: root, env: {} });
    expect((await studio.ensureConfig()).map((file) => path.relative(root, file))).toEqual(["config/models.yaml", "config/pipeline.yaml"]);
  });

  it("is made in a folder the environment names, from the project's examples", async () => {
    const studio = Studio.open({ cwd: root, packageRoot: repo, env: { PROJECT_LLM_CONFIG_DIR: "mine" } });
    expect(await studio.ensureConfig()).toHaveLength(2);
    expect((await readdir(path.join(root, "mine"))).sort()).toEqual(["models.yaml", "pipeline.yaml"]);
  });

  it("is made once when two ask at once (a run reads models.yaml and its pipeline together)", async () => {
    const studio = Studio.open({ cwd: root, packageRoot: repo, env: { PROJECT_LLM_CONFIG_DIR: "mine" } });
    const [first, second] = await Promise.all([studio.ensureConfig(), studio.ensureConfig()]);
    expect([first.length, second.length].sort()).toEqual([0, 2]);
    const [models, pipeline] = await Promise.all([studio.loadModels(), studio.loadPipeline()]);
    expect(Object.keys(models.config.models).length).toBeGreaterThan(0);
    expect(pipeline.pipeline.stages.length).toBeGreaterThan(0);
  });

  it("is never made in another folder a command runs in: loading says which file is missing", async () => {
    const studio = Studio.open({ cwd: root, packageRoot: repo, env: {} });
    expect(studio.createsConfig).toBe(false);
    expect(await studio.ensureConfig()).toEqual([]);
    await expect(studio.loadModels()).rejects.toMatchObject({ code: "config-not-found", details: { params: { file: path.join(root, "config", "models.yaml") } } });
    await expect(studio.validate()).rejects.toMatchObject({ code: "config-not-found" });
    expect(await readdir(root)).toEqual([]);
  });
});

describe("pipelines by mode", () => {
  const stages = "  stages:\n    - id: a\n      type: single\n      model: m\n";

  it("reads a models file named by path, its models folder beside its own folder", async () => {
    await writeFiles(root, { "elsewhere/conf/my-models.yaml": "models_directory: gguf\nmodels:\n  m:\n    file: m.gguf\n" });
    const studio = Studio.open({ cwd: root, packageRoot: repo, env: {}, modelsFile: "elsewhere/conf/my-models.yaml" });
    const models = await studio.loadModels();
    expect(models.modelsDirectory).toBe(path.join(root, "elsewhere", "gguf"));
    expect(await readdir(root)).toEqual(["elsewhere"]);
  });

  it("runs a file's base_pipeline in the base mode, and any one top key in the manual mode", async () => {
    await writeFiles(root, { "config/pipeline.yaml": `base_pipeline:\n${stages}`, "flows/base.yaml": `base_pipeline:\n${stages}`, "flows/own.yaml": `my_flow:\n${stages}`, "flows/named.yaml": `pipeline:\n${stages}` });
    const studio = Studio.open({ cwd: root, packageRoot: repo, env: {} });
    expect(await studio.loadPipeline("flows/base.yaml", "base")).toMatchObject({ root: ["base_pipeline"], name: "flows/base.yaml" });
    expect(await studio.loadPipeline("config/pipeline.yaml", "base")).toMatchObject({ name: "base" });
    expect(await studio.loadPipeline("config/pipeline.yaml", "manual")).toMatchObject({ name: "config/pipeline.yaml" });
    expect(await studio.loadPipeline("flows/own.yaml", "manual")).toMatchObject({ root: ["my_flow"], pipeline: { stages: [{ id: "a" }] } });
    expect(await studio.loadPipeline("flows/named.yaml", "manual")).toMatchObject({ root: ["pipeline"] });
    await expect(studio.loadPipeline("flows/named.yaml", "base")).rejects.toThrow(/named\.yaml has no base_pipeline \(its top key is "pipeline"\).*--mode manual/);
    await expect(studio.loadPipeline("flows/own.yaml")).rejects.toMatchObject({ code: "config-schema" });
  });

  it("checks the models the base pipeline requires in the base mode only", async () => {
    await writeFiles(root, {
      "config/models.yaml": `models_directory: ${JSON.stringify(testModelsDir)}\nmodels:\n  m:\n    file: ${storiesFile}\n  big:\n    file: not-here.gguf\n    required_for_base: true\n`,
      "flows/base.yaml": `base_pipeline:\n${stages}`,
    });
    const studio = Studio.open({ cwd: root, packageRoot: repo, env: {} });
    expect((await studio.validate("flows/base.yaml", "base")).errors).toMatchObject([{ code: "base-models-missing", params: { models: "big (not-here.gguf)" } }]);
    expect((await studio.validate("flows/base.yaml", "manual")).errors).toEqual([]);
    expect((await studio.validate("flows/base.yaml")).errors).toEqual([]);
  });
});
