import { copyFile, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { IntlMessageFormat } from "intl-messageformat";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import englishErrors from "../i18n/messages/en/errors.json";
import { storiesFile, tempDir, testModelsDir, writeFiles } from "../testing/fixtures.js";
import {
  ConfigError,
  configIssueCodes,
  formatConfigIssue,
  ensureWorkingConfig,
  loadModelsConfig,
  loadPipeline,
  parseYaml,
  pipelineFromValue,
  resolveGenerationParams,
  resolveModel,
  resolvePaths,
  validateSetup,
  type ConfigIssue,
} from "./index.js";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const configDir = () => path.join(root, "config");
const modelsYaml = (models: string, extra = "") => `models_directory: models\n${extra}models:\n${models}`;

async function captureIssues(work: Promise<unknown>): Promise<ConfigIssue[]> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).issues;
}

async function setup(files: Record<string, string>, withModel = true) {
  await writeFiles(configDir(), files);
  if (withModel) {
    await writeFiles(root, { "models/.keep": "" });
    await copyFile(path.join(testModelsDir, storiesFile), path.join(root, "models", storiesFile));
  }
}

async function validate(pipelineYaml: string, models = `  m1:\n    file: ${storiesFile}\n  m2:\n    file: ${storiesFile}\n`) {
  await setup({ "models.yaml": modelsYaml(models), "pipeline.yaml": pipelineYaml });
  const loadedModels = await loadModelsConfig(configDir());
  const pipeline = await loadPipeline(configDir());
  return validateSetup({ models: loadedModels, pipeline, isBase: true });
}

describe("schema errors", () => {
  it("names file, line, column and path of a typo'd key and suggests the right one", async () => {
    await setup({ "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n    overides:\n      temperature: 0\n`) });
    const [issue, ...rest] = await captureIssues(loadModelsConfig(configDir()));
    expect(rest).toHaveLength(0);
    expect(issue).toMatchObject({ file: path.join(configDir(), "models.yaml"), line: 5, column: 5, path: "models.m1.overides", suggestion: "overrides" });
    expect(issue!.message).toContain('unknown key "overides"');
  });

  it("reports a wrong type with what was expected, and every issue at once", async () => {
    await setup({
      "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n    overrides:\n      temperature: hot\n      max_tokens: -3\n`, "defaults:\n  top_k: [1]\n"),
    });
    const issues = await captureIssues(loadModelsConfig(configDir()));
    const byPath = Object.fromEntries(issues.map((issue) => [issue.path, issue]));
    expect(byPath["models.m1.overrides.temperature"]).toMatchObject({ line: 8, column: 20, expected: "number" });
    expect(byPath["models.m1.overrides.max_tokens"]).toMatchObject({ line: 9, column: 19 });
    expect(byPath["defaults.top_k"]).toMatchObject({ line: 3, column: 10, expected: "number" });
    expect(new ConfigError("config-schema", issues).message.split("\n")).toHaveLength(3);
  });

  it("reads the run queue's caps from the runtime section, with defaults, and places a bad cap", async () => {
    await setup({ "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n`) });
    expect((await loadModelsConfig(configDir())).config.runtime).toMatchObject({ runs_in_flight: "auto", runs_waiting: 32, runs_per_user: 4, streams_per_client: 32 });
    await setup({
      "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n`, "runtime:\n  runs_in_flight: 2\n  runs_waiting: -1\n  runs_per_user: lots\n  runs_wating: 3\n"),
    });
    const issues = await captureIssues(loadModelsConfig(configDir()));
    const byPath = Object.fromEntries(issues.map((issue) => [issue.path, issue]));
    expect(byPath["runtime.runs_waiting"]).toMatchObject({ line: 4, column: 17, code: "too-small", params: { limit: 0 } });
    expect(byPath["runtime.runs_per_user"]).toMatchObject({ line: 5, column: 18, code: "wrong-type", expected: "number" });
    expect(byPath["runtime.runs_wating"]).toMatchObject({ line: 6, column: 3, code: "unknown-key", suggestion: "runs_waiting" });
  });

  it("lists the allowed values of a bad stage type and suggests the close one", async () => {
    await setup({
      "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n`),
      "pipeline.yaml": "base_pipeline:\n  stages:\n    - id: a\n      type: singel\n      model: m1\n",
    });
    const [issue] = await captureIssues(loadPipeline(configDir()));
    expect(issue).toMatchObject({ line: 4, column: 13, path: "base_pipeline.stages[0].type", suggestion: "single" });
    expect(issue!.expected).toContain('"multi"');
  });

  it("refuses an alias bomb, a __proto__ key, a duplicate key and an oversized file", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", ..."bcdefgh".split("").map((name, index) => `${name}: &${name} [${Array(10).fill(`*${"abcdefgh"[index]}`).join(", ")}]`)].join("\n");
    expect(() => parseYaml(bomb, "bomb.yaml")).toThrow(/alias/i);
    expect(() => parseYaml("a:\n  __proto__:\n    polluted: 1\n", "p.yaml")).toThrow(/p\.yaml:2:3: the key "__proto__" is not allowed/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => parseYaml("a: 1\na: 2\n", "d.yaml")).toThrow(/d\.yaml:2:1/);
    expect(() => parseYaml(`a: "${"x".repeat(1024 * 1024)}"`, "big.yaml")).toThrow(ProjectLlmError);
  });
});

describe("validation", () => {
  it("accepts a valid pipeline", async () => {
    const result = await validate("base_pipeline:\n  stages:\n    - id: a\n      type: single\n      model: m1\n    - id: b\n      type: multi\n      input_from: a\n      models: [m1, m2]\n      aggregation: { method: vote }\n");
    expect(result.errors).toEqual([]);
  });

  it("finds duplicate ids, unknown inputs with a suggestion, and unknown models", async () => {
    const { errors } = await validate(
      "base_pipeline:\n  stages:\n    - id: draft\n      type: single\n      model: m1\n    - id: draft\n      type: single\n      model: m3\n      input_from: drat\n",
    );
    const messages = errors.map((issue) => `${issue.line}:${issue.column} ${issue.message}${issue.suggestion ? ` ~${issue.suggestion}` : ""}`);
    expect(messages).toContain('6:11 stage id "draft" is already used by stage 1');
    expect(messages).toContain('9:19 unknown stage "drat" ~draft');
    expect(messages.some((message) => message.startsWith("8:14 unknown model \"m3\""))).toBe(true);
  });

  it("rejects a cycle and names the stages in it", async () => {
    const { errors } = await validate(
      "base_pipeline:\n  stages:\n    - id: a\n      type: single\n      model: m1\n      input_from: c\n    - id: b\n      type: single\n      model: m1\n      input_from: a\n    - id: c\n      type: single\n      model: m1\n      input_from: b\n",
    );
    expect(errors.map((issue) => issue.message)).toContain("the stages form a cycle: a → b → c → a");
    expect(errors[0]).toMatchObject({ line: 6, column: 19 });
  });

  it("needs two models for a vote, a known synthesis model, and known template placeholders", async () => {
    const { errors } = await validate(
      "base_pipeline:\n  stages:\n    - id: v\n      type: multi\n      models: [m1]\n      aggregation: { method: vote }\n    - id: s\n      type: multi\n      models: [m1, m2]\n      aggregation: { method: synthesis, model: judge }\n    - id: t\n      type: single\n      model: m1\n      prompt: \"{{inptu}}\"\n",
    );
    const messages = errors.map((issue) => issue.message);
    expect(messages).toContain("a vote needs at least two models");
    expect(messages.some((message) => message.startsWith('unknown model "judge"'))).toBe(true);
    expect(errors.find((issue) => issue.message.includes("{{inptu}}"))).toMatchObject({ suggestion: "input", line: 14 });
  });

  it("checks the placeholders of a synthesis prompt against the stage's models", async () => {
    const { errors } = await validate(
      "base_pipeline:\n  stages:\n    - id: s\n      type: multi\n      models: [m1, m2]\n      aggregation:\n        method: synthesis\n        model: m1\n        prompt: \"{{answer.m3}} {{answers}}\"\n",
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 9, path: "base_pipeline.stages[0].aggregation.prompt", message: "unknown placeholder {{answer.m3}}" });
  });

  it("refuses a model file outside the models folder, by absolute path or by ..", async () => {
    const { errors } = await validate("base_pipeline:\n  stages:\n    - id: a\n      type: multi\n      models: [abs, up]\n      aggregation: { method: concat }\n", `  abs:\n    file: ${path.join(testModelsDir, storiesFile)}\n  up:\n    file: ../${storiesFile}\n`);
    expect(errors).toHaveLength(2);
    for (const issue of errors) expect(issue.message).toContain("leaves the models folder");
    expect(errors[0]).toMatchObject({ line: 4, column: 11, path: "models.abs.file" });
    expect(() => resolveModel({ config: { models: { up: { file: "../x.gguf" } } }, modelsDirectory: "/m", file: "models.yaml" } as never, "up")).toThrow(/outside the models folder/);
  });

  it("follows a symlink the owner put in the models folder, even to another disk", async () => {
    await writeFiles(root, { "models/.keep": "" });
    await symlink(path.join(testModelsDir, storiesFile), path.join(root, "models", "linked.gguf"));
    await writeFiles(configDir(), {
      "models.yaml": modelsYaml("  m1:\n    file: linked.gguf\n"),
      "pipeline.yaml": "base_pipeline:\n  stages:\n    - id: a\n      type: single\n      model: m1\n",
    });
    const result = await validateSetup({ models: await loadModelsConfig(configDir()), pipeline: await loadPipeline(configDir()), isBase: true });
    expect(result.errors).toEqual([]);
  });

  it("refuses a file that is not a GGUF before any loader sees it", async () => {
    await writeFiles(root, { "models/fake.gguf": "this is not a model at all" });
    await writeFiles(configDir(), {
      "models.yaml": modelsYaml("  m1:\n    file: fake.gguf\n"),
      "pipeline.yaml": "base_pipeline:\n  stages:\n    - id: a\n      type: single\n      model: m1\n",
    });
    const { errors } = await validateSetup({ models: await loadModelsConfig(configDir()), pipeline: await loadPipeline(configDir()), isBase: true });
    expect(errors[0]!.message).toContain("is not a GGUF file");
  });

  it("lists every missing model the base pipeline requires", async () => {
    await setup(
      {
        "models.yaml": modelsYaml(`  a:\n    file: a.gguf\n    required_for_base: true\n  b:\n    file: b.gguf\n    required_for_base: true\n  c:\n    file: ${storiesFile}\n`),
        "pipeline.yaml": "base_pipeline:\n  stages:\n    - id: s\n      type: single\n      model: c\n",
      },
      true,
    );
    const models = await loadModelsConfig(configDir());
    const pipeline = await loadPipeline(configDir());
    const base = await validateSetup({ models, pipeline, isBase: true });
    expect(base.errors).toHaveLength(1);
    expect(base.errors[0]!.message).toMatch(/the base pipeline needs models that are missing: a \(a\.gguf\), b \(b\.gguf\)/);
    expect((await validateSetup({ models, pipeline, isBase: false })).errors).toEqual([]);
  });
});

describe("loading and parameters", () => {
  it("takes folders from the environment", () => {
    const paths = resolvePaths({ PROJECT_LLM_CONFIG_DIR: "c", PROJECT_LLM_SESSIONS_DIR: "/s", PROJECT_LLM_MODELS_DIR: "m" }, "/w");
    expect(paths).toEqual({ configDir: "/w/c", configDirNamed: true, sessionsDir: "/s", modelsDirOverride: "/w/m" });
    expect(resolvePaths({}, "/w")).toEqual({ configDir: "/w/config", configDirNamed: false, sessionsDir: "/w/sessions", modelsDirOverride: undefined });
  });

  it("creates the working config from the examples and never overwrites it", async () => {
    await writeFiles(root, { "examples/models.example.yaml": "models: {}\n", "examples/pipeline.example.yaml": "x: 1\n" });
    const created = await ensureWorkingConfig(configDir(), path.join(root, "examples"));
    expect(created.map((file) => path.basename(file))).toEqual(["models.yaml", "pipeline.yaml"]);
    await writeFile(path.join(configDir(), "models.yaml"), "mine: true\n");
    expect(await ensureWorkingConfig(configDir(), path.join(root, "examples"))).toEqual([]);
    expect(await readFile(path.join(configDir(), "models.yaml"), "utf8")).toBe("mine: true\n");
  });

  it("refuses a pipeline name that would leave the pipelines folder", async () => {
    await expect(loadPipeline(configDir(), "../models")).rejects.toMatchObject({ code: "pipeline-not-found" });
    await expect(loadPipeline(configDir(), "nothere")).rejects.toMatchObject({ code: "pipeline-not-found" });
  });

  it("layers parameters: built-in, defaults, model overrides, stage", async () => {
    await setup({ "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n    overrides: { temperature: 0, context_size: 512 }\n`, "defaults:\n  max_tokens: 10\n  top_k: 5\n") });
    const models = await loadModelsConfig(configDir());
    expect(models.modelsDirectory).toBe(path.join(root, "models"));
    expect(resolveModel(models, "m1").load).toEqual({ context_size: 512, gpu_layers: "auto", threads: "auto" });
    const params = resolveGenerationParams(models, "m1", { top_k: 7 });
    expect(params).toMatchObject({ temperature: 0, max_tokens: 10, top_k: 7, top_p: 0.95, ignore_eos: false });
    expect(params).not.toHaveProperty("context_size");
    expect(resolveGenerationParams(models, "m1", { ignore_eos: true }).ignore_eos).toBe(true);
  });

  it("refuses an ignore_eos that is not true or false, at its line and column, in models.yaml and in a stage", async () => {
    await setup({
      "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n    overrides:\n      ignore_eos: "yes"\n`, "defaults:\n  ignore_eos: 1\n"),
      "pipeline.yaml": "base_pipeline:\n  stages:\n    - id: a\n      type: single\n      model: m1\n      params:\n        ignore_eos: sometimes\n",
    });
    const issues = await captureIssues(loadModelsConfig(configDir()));
    const byPath = Object.fromEntries(issues.map((issue) => [issue.path, issue]));
    expect(byPath["models.m1.overrides.ignore_eos"]).toMatchObject({ file: path.join(configDir(), "models.yaml"), line: 8, column: 19, code: "wrong-type", expected: "boolean" });
    expect(byPath["defaults.ignore_eos"]).toMatchObject({ line: 3, column: 15, code: "wrong-type", expected: "boolean" });
    const [stageIssue] = await captureIssues(loadPipeline(configDir()));
    expect(stageIssue).toMatchObject({ file: path.join(configDir(), "pipeline.yaml"), line: 7, column: 21, path: "base_pipeline.stages[0].params.ignore_eos", expected: "boolean" });
  });

  it("reads a stage's conversation history, and places a turn of an unknown role", async () => {
    const history = "      history:\n        - role: user\n          content: Hi\n        - role: assistant\n          content: Hello.\n";
    await setup({ "pipeline.yaml": `base_pipeline:\n  stages:\n    - id: a\n      type: single\n      model: m1\n${history}` });
    const loaded = await loadPipeline(configDir());
    expect(loaded.pipeline.stages[0]!.history).toEqual([
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
    ]);
    await setup({ "pipeline.yaml": `base_pipeline:\n  stages:\n    - id: a\n      type: single\n      model: m1\n${history.replace("role: assistant", "role: narrator")}` });
    const [issue] = await captureIssues(loadPipeline(configDir()));
    expect(issue).toMatchObject({ file: path.join(configDir(), "pipeline.yaml"), line: 9, column: 17, path: "base_pipeline.stages[0].history[1].role", expected: 'one of "user", "assistant"' });
  });

  it("loads and validates the example configs on the test model", async () => {
    const repo = path.resolve(".");
    await copyFile(path.join(repo, "config", "models.example.yaml"), path.join(root, "models.yaml"));
    await copyFile(path.join(repo, "config", "pipeline.example.yaml"), path.join(root, "pipeline.yaml"));
    const models = await loadModelsConfig(root, { modelsDirOverride: testModelsDir });
    const pipeline = await loadPipeline(root);
    expect(pipeline.pipeline.stages.length).toBeGreaterThanOrEqual(3);
    expect(pipeline.pipeline.stages.some((stage) => stage.type === "multi")).toBe(true);
    expect((await validateSetup({ models, pipeline, isBase: true })).errors).toEqual([]);
  });
});

describe("declared quantization", () => {
  it("warns, without failing, when the file's own type differs", async () => {
    const result = await validate(
      "base_pipeline:\n  stages:\n    - id: a\n      type: multi\n      models: [m1, m2]\n      aggregation: { method: concat }\n",
      `  m1:\n    file: ${storiesFile}\n    quantization: Q4_K_M\n  m2:\n    file: ${storiesFile}\n    quantization: f32\n`,
    );
    expect(result.errors).toEqual([]);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatchObject({ path: "models.m1.quantization", line: 5, column: 19 });
    expect(result.warnings[0]!.message).toMatch(/declared Q4_K_M, but stories260K\.gguf is (ALL_)?F32/);
  });
});

describe("a pipeline sent as a value", () => {
  it("is checked by the pipeline schema, its issues named by key path", () => {
    const error = (() => {
      try {
        pipelineFromValue({ stages: [{ id: "one", type: "single", modle: "greedy" }] });
      } catch (caught) {
        return caught as ProjectLlmError;
      }
    })();
    expect(error?.code).toBe("config-schema");
    expect(error?.message.split("\n")).toContain('unsaved pipeline: stages[0].modle: unknown key "modle" (expected one of id, name, prompt, system, history, params, input_from, output_mode, position, type, model) — did you mean "model"?');
    expect(pipelineFromValue({ stages: [{ id: "one", type: "single", model: "greedy" }] }).pipeline.stages[0]).toMatchObject({ id: "one", output_mode: "answer_only" });
  });

  it("refuses prototype keys and more than a config file may hold", () => {
    expect(() => pipelineFromValue(JSON.parse('{"stages": [{"id": "a", "type": "single", "model": "m", "__proto__": {}}]}'))).toThrow(/stages\[0\]: the key "__proto__" is not allowed/);
    expect(() => pipelineFromValue({ stages: [{ id: "a", type: "single", model: "m", prompt: "x".repeat(1024 * 1024) }] })).toThrow(/more than the 1048576 bytes/);
  });
});

describe("aggregation shorthand", () => {
  const multi = (aggregation: string) => `base_pipeline:\n  stages:\n    - id: a\n      type: multi\n      models: [m1, m2]\n      aggregation: ${aggregation}\n`;

  it("reads a bare vote or concat as the method with its defaults", async () => {
    const vote = await validate(multi("vote"));
    expect(vote.errors).toEqual([]);
    expect((await loadPipeline(configDir())).pipeline.stages[0]).toMatchObject({ aggregation: { method: "vote" } });
    await writeFiles(configDir(), { "pipeline.yaml": multi("concat") });
    expect((await loadPipeline(configDir())).pipeline.stages[0]).toMatchObject({ aggregation: { method: "concat", separator: "\n\n", labels: true } });
  });

  it("says what a bare synthesis or template lacks, at the method's place", async () => {
    await setup({ "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n`), "pipeline.yaml": multi("synthesis") });
    const [synthesis, ...rest] = await captureIssues(loadPipeline(configDir()));
    expect(rest).toEqual([]);
    expect(synthesis).toMatchObject({ line: 6, column: 20, path: "base_pipeline.stages[0].aggregation", code: "aggregation-needs", params: { method: "synthesis", needs: "model" } });
    expect(synthesis!.message).toContain("a synthesis needs the model that writes it");
    await writeFiles(configDir(), { "pipeline.yaml": multi("template") });
    const [template] = await captureIssues(loadPipeline(configDir()));
    expect(template).toMatchObject({ line: 6, column: 20, params: { method: "template", needs: "template" } });
    expect(template!.message).toContain("needs its template");
  });

  it("points a misspelt bare method at its place, with the methods and the close one", async () => {
    await setup({ "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n`), "pipeline.yaml": multi("vot") });
    const [issue] = await captureIssues(loadPipeline(configDir()));
    expect(issue).toMatchObject({ line: 6, column: 20, path: "base_pipeline.stages[0].aggregation", suggestion: "vote", code: "wrong-value" });
    expect(issue!.message).toBe('found the text "vot"');
    expect(issue!.expected).toBe('one of "concat", "vote", "synthesis", "template"');
  });

  it("still names the allowed keys of an aggregation mapping", async () => {
    await setup({ "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n`), "pipeline.yaml": multi("{ method: vote, tally: yes }") });
    const [issue] = await captureIssues(loadPipeline(configDir()));
    expect(issue).toMatchObject({ line: 6, column: 36, path: "base_pipeline.stages[0].aggregation.tally", code: "unknown-key", params: { key: "tally", allowed: "method" } });
  });
});

describe("a placeholder in single braces", () => {
  const prompts = (promptLines: string) =>
    `base_pipeline:\n  stages:\n    - id: draft\n      type: single\n      model: m1\n    - id: s\n      type: single\n      model: m1\n      input_from: draft\n${promptLines}`;
  const places = (warnings: ConfigIssue[]) => warnings.map((issue) => `${issue.line}:${issue.column} ${issue.params?.text}`);

  it("is a warning at the brace itself in a plain, a quoted and a block scalar", async () => {
    const plain = await validate(prompts("      prompt: Go on from {input} please\n"));
    expect(plain.errors).toEqual([]);
    expect(places(plain.warnings)).toEqual(["10:26 {input}"]);
    expect(plain.warnings[0]).toMatchObject({ path: "base_pipeline.stages[1].prompt", stageId: "s", code: "single-braces", params: { placeholder: "{{input}}" } });
    expect(formatConfigIssue(plain.warnings[0]!)).toBe(`${path.join(configDir(), "pipeline.yaml")}:10:26: base_pipeline.stages[1].prompt: {input} is sent to the model as it is: did you mean {{input}}?`);

    expect(places((await validate(prompts('      prompt: "Say \\"hi\\" to {{input}} and {stage.draft}"\n'))).warnings)).toEqual(["10:44 {stage.draft}"]);
    expect(places((await validate(prompts("      prompt: 'it''s {input}'\n"))).warnings)).toEqual(["10:22 {input}"]);
    expect(places((await validate(prompts("      prompt: |\n        First {{input}}\n          then {input}\n"))).warnings)).toEqual(["12:16 {input}"]);
    expect(places((await validate(prompts("      prompt: >-\n        one {input}\n        two {{stage.draft}\n"))).warnings)).toEqual(["11:13 {input}", "12:13 {{stage.draft}"]);
    expect(places((await validate(prompts("      prompt: a {{input}} b\n        c {input}\n"))).warnings)).toEqual(["11:11 {input}"]);
  });

  it("is found in an aggregation template and a synthesis prompt, and leaves other braces alone", async () => {
    const { errors, warnings } = await validate(
      'base_pipeline:\n  stages:\n    - id: t\n      type: multi\n      models: [m1, m2]\n      aggregation: { method: template, template: "{answer.1} vs {{answer.2}}" }\n    - id: y\n      type: multi\n      models: [m1, m2]\n      prompt: \'Answer as JSON like {"input": 1} for {name}\'\n      aggregation:\n        method: synthesis\n        model: m1\n        prompt: "{{answers}} {answers}"\n',
    );
    expect(errors).toEqual([]);
    expect(warnings.map((issue) => `${issue.path} ${issue.line}:${issue.column} ${issue.message}`)).toEqual([
      "base_pipeline.stages[0].aggregation.template 6:51 {answer.1} is sent to the model as it is: did you mean {{answer.1}}?",
      "base_pipeline.stages[1].aggregation.prompt 14:30 {answers} is sent to the model as it is: did you mean {{answers}}?",
    ]);
  });

  it("is a warning on a pipeline sent as a value too, by key path", async () => {
    await setup({ "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n`) });
    const pipeline = pipelineFromValue({ stages: [{ id: "a", type: "single", model: "m1", prompt: "{input}" }] });
    const { warnings } = await validateSetup({ models: await loadModelsConfig(configDir()), pipeline, isBase: false });
    expect(warnings).toMatchObject([{ file: "unsaved pipeline", line: 0, path: "stages[0].prompt", code: "single-braces" }]);
  });
});

describe("issue codes", () => {
  /** The arguments of the English page message of each issue's code. */
  const argumentsOf = (code: string) => {
    const names = new Set<string>();
    const walk = (elements: unknown[]) => {
      for (const element of elements as Array<{ type: number; value?: unknown; options?: Record<string, { value: unknown[] }> }>) {
        if (element.type !== 0 && element.type !== 7 && typeof element.value === "string") names.add(element.value);
        for (const option of Object.values(element.options ?? {})) walk(option.value);
      }
    };
    walk(new IntlMessageFormat((englishErrors.issues as Record<string, string>)[code]!, "en").getAst() as unknown[]);
    return [...names].sort();
  };
  const speakable = (issues: ConfigIssue[]) =>
    issues.map((issue) => (issue.code && configIssueCodes.includes(issue.code) ? argumentsOf(issue.code).filter((name) => !issue.params || !(name in issue.params)) : [`no code: ${issue.message}`]));

  it("gives every problem a user meets a code and the values its page message names", async () => {
    const found: ConfigIssue[] = [];
    const collect = async (work: Promise<unknown> | (() => unknown)) => {
      try {
        await (typeof work === "function" ? work() : work);
      } catch (error) {
        found.push(...(error as ConfigError).issues);
      }
    };
    await collect(() => parseYaml("a:\n\tb: 1\n", "tab.yaml"));
    await collect(() => parseYaml("a: 1\na: 2\n", "dup.yaml"));
    await collect(() => parseYaml("constructor: 1\n", "proto.yaml"));
    await setup({
      "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n    overides: {}\n    overrides: { temperature: hot, top_k: -1 }\n  "bad name":\n    file: x.gguf\n`, "runtime:\n  gpu: yes\n"),
      "pipeline.yaml": "base_pipeline:\n  stages:\n    - id: 1st\n      type: single\n    - id: b\n      type: sngle\n    - id: c\n      type: multi\n      models: []\n      aggregation: synthesis\n",
    });
    await collect(loadModelsConfig(configDir()));
    await collect(loadPipeline(configDir()));
    const result = await validate(
      "base_pipeline:\n  stages:\n    - id: a\n      type: single\n      model: m9\n      input_from: [a, c, zz, c]\n      prompt: '{{inptu}} {input}'\n    - id: a\n      type: multi\n      models: [m1]\n      aggregation: vote\n    - id: c\n      type: single\n      model: m1\n      input_from: a\n    - id: d\n      type: single\n      model: m1\n      input_from: e\n    - id: e\n      type: single\n      model: m1\n      input_from: d\n",
      `  m1:\n    file: ${storiesFile}\n    quantization: Q8_0\n  m2:\n    file: ../up.gguf\n  m3:\n    file: gone.gguf\n    required_for_base: true\n`,
    );
    found.push(...result.errors, ...result.warnings);
    expect(speakable(found).flat()).toEqual([]);
    expect(new Set(found.map((issue) => issue.code))).toEqual(
      new Set([
        "yaml-syntax",
        "yaml-forbidden-key",
        "unknown-key",
        "wrong-type",
        "too-small",
        "wrong-value",
        "invalid-model-name",
        "invalid-stage-id",
        "required-key",
        "aggregation-needs",
        "duplicate-stage-id",
        "input-from-itself",
        "unknown-stage",
        "input-named-twice",
        "unknown-model",
        "vote-needs-two-models",
        "unknown-placeholder",
        "single-braces",
        "cycle",
        "quantization-mismatch",
        "base-models-missing",
      ]),
    );
    expect(found.find((issue) => issue.code === "wrong-value" && issue.path === "runtime.gpu")).toMatchObject({ params: { value: "yes", allowed: '"auto", false, "cuda", "vulkan", "metal"' } });
  });

  it("gives the model file problems their codes and values", async () => {
    await writeFiles(root, { "models/fake.gguf": "not a model", "models/folder.gguf/.keep": "", "models/v9.gguf": "GGUF\u0009\u0000\u0000\u0000" });
    const result = await validate(
      "base_pipeline:\n  stages:\n    - id: a\n      type: multi\n      models: [fake, folder, v9, up, gone]\n      aggregation: concat\n",
      "  fake:\n    file: fake.gguf\n  folder:\n    file: folder.gguf\n  v9:\n    file: v9.gguf\n  up:\n    file: ../x.gguf\n  gone:\n    file: gone.gguf\n",
    );
    expect(result.errors.map((issue) => issue.code)).toEqual(["model-not-gguf", "model-not-regular-file", "model-gguf-version", "model-outside-folder", "model-file-missing"]);
    expect(speakable(result.errors).flat()).toEqual([]);
    expect(result.errors[2]!.params).toMatchObject({ version: 9 });
  });
});

describe("the stage limit", () => {
  const chain = (length: number) =>
    Array.from({ length }, (_, index) => ({ id: `s${index}`, type: "single", model: "m1", ...(index === 0 ? {} : { input_from: `s${index - 1}` }) }));

  it("refuses a valid 6,000-stage chain sent as a value, naming the limit, without walking it", () => {
    let error: unknown;
    try {
      pipelineFromValue({ stages: chain(6000) });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe("config-schema");
    expect((error as ConfigError).issues).toMatchObject([{ path: "stages", code: "too-many-stages", params: { count: 6000, limit: 1000 }, message: "the pipeline has 6000 stages; a pipeline may have at most 1000" }]);
  });

  it("refuses a pipeline file over the limit with its place, and runs one of exactly 1,000 stages", async () => {
    const yaml = (length: number) => `base_pipeline:\n  stages:\n${chain(length).map((stage) => `    - { id: ${stage.id}, type: single, model: m1${stage.input_from ? `, input_from: ${stage.input_from}` : ""} }\n`).join("")}`;
    const issues = await captureIssues(validate(yaml(1001)));
    expect(issues).toMatchObject([{ file: expect.stringContaining("pipeline.yaml"), line: 3, path: "base_pipeline.stages", code: "too-many-stages", params: { count: 1001, limit: 1000 } }]);
    await writeFile(path.join(configDir(), "pipeline.yaml"), yaml(1000));
    const result = await validateSetup({ models: await loadModelsConfig(configDir()), pipeline: await loadPipeline(configDir()), isBase: true });
    expect(result.errors).toEqual([]);
  });

  it("refuses a pipeline over the limit that reaches validation unparsed (a stored session's), with one issue", async () => {
    await setup({ "models.yaml": modelsYaml(`  m1:\n    file: ${storiesFile}\n`) });
    const pipeline = { name: "stored", pipeline: { stages: chain(6000) } as never, file: "session 20261130-030102-3fa9c1", root: ["pipeline"] };
    const result = await validateSetup({ models: await loadModelsConfig(configDir()), pipeline, isBase: false });
    expect(result.errors).toMatchObject([{ path: "pipeline.stages", code: "too-many-stages", params: { count: 6000, limit: 1000 } }]);
  });
});

async function loadRemoteModels(models: string) {
  await writeFiles(configDir(), { "models.yaml": `models_directory: models\ndefaults:\n  context_size: 512\n  temperature: 0.5\nmodels:\n${models}` });
  return loadModelsConfig(configDir());
}

const remoteIssues = (models: string): Promise<ConfigIssue[]> => captureIssues(loadRemoteModels(models));

const remote = `  fleet:
    backend: openai
    base_url: http://gpu-box:8000/v1/
    model: Qwen/Qwen2.5-7B-Instruct
    api_key_env: FLEET_KEY
    timeout: 60
    overrides:
      temperature: 0.1
      max_tokens: 100
`;

describe("remote models in models.yaml (backend: openai)", () => {
  it("resolves to the server, the model and the key's variable, with no file, and applies generation parameters", async () => {
    const models = await loadRemoteModels(remote);
    const resolved = resolveModel(models, "fleet");
    expect(resolved.path).toBe("");
    expect(resolved.remote).toEqual({ baseUrl: "http://gpu-box:8000/v1", model: "Qwen/Qwen2.5-7B-Instruct", apiKeyEnv: "FLEET_KEY", timeoutMs: 60_000, connectTimeoutMs: 10_000, maxRetries: 3 });
    expect(resolveGenerationParams(models, "fleet", { max_tokens: 7 })).toMatchObject({ temperature: 0.1, max_tokens: 7 });
    expect(resolveGenerationParams(models, "fleet")).not.toHaveProperty("context_size");
  });

  it("opts a remote model into the stage cache only with cache: true, a boolean", async () => {
    const models = await loadRemoteModels(`${remote}  cached:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    cache: true\n`);
    expect(models.config.models.fleet).toMatchObject({ cache: false });
    expect(resolveModel(models, "fleet").remote).not.toHaveProperty("cache");
    expect(resolveModel(models, "cached").remote).toMatchObject({ cache: true });
    const [issue] = await remoteIssues(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    cache: "yes"\n`);
    expect(issue).toMatchObject({ path: "models.fleet.cache" });
  });

  it("keeps a local model's rules: without backend a file is still required", async () => {
    const [issue] = await remoteIssues(`  plain:\n    quantization: Q8_0\n`);
    expect(issue).toMatchObject({ line: 7, path: "models.plain.file", code: "required-key" });
  });

  it("refuses a key written in the file, at its line, without repeating it", async () => {
    const issues = await remoteIssues(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    api_key: sk-live-0123456789\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 10, path: "models.fleet.api_key", code: "secret-in-config", params: { key: "api_key", setting: "api_key_env" } });
    expect(issues[0]!.message).toContain("api_key_env");
    expect(JSON.stringify(issues)).not.toContain("sk-live-0123456789");
  });

  it("refuses a key of letters, digits and _ pasted as api_key_env (it would pass for a name), without repeating it", async () => {
    const issues = await remoteIssues(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    api_key_env: hf_AbCdEf0123456789xyz\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 10, path: "models.fleet.api_key_env", code: "invalid-env-name" });
    expect(JSON.stringify(issues)).not.toContain("AbCdEf0123456789");
  });

  it("refuses a key pasted as api_key_env, without repeating it", async () => {
    const issues = await remoteIssues(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    api_key_env: sk-live-0123456789-abc\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 10, path: "models.fleet.api_key_env", code: "invalid-env-name" });
    expect(JSON.stringify(issues)).not.toContain("sk-live-0123456789");
  });

  it.each([
    ["ftp://gpu-box/v1", "scheme"],
    ["http://user:hunter2@gpu-box:8000/v1", "credentials"],
    ["http://gpu-box:8000/v1?api_key=abc", "query"],
    ["http://gpu-box:8000/v1/chat/completions", "endpoint"],
    ["gpu-box:8000", "scheme"],
    ["not an address", "address"],
  ])("refuses the base_url %s (%s)", async (url, reason) => {
    const issues = await remoteIssues(`  fleet:\n    backend: openai\n    base_url: "${url}"\n    model: m\n`);
    expect(issues[0]).toMatchObject({ line: 8, path: "models.fleet.base_url", code: "invalid-base-url", params: { reason } });
    expect(JSON.stringify(issues)).not.toContain("hunter2");
  });

  it("refuses load parameters in a remote model's overrides, and a file", async () => {
    const load = await remoteIssues(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    overrides:\n      context_size: 4096\n`);
    expect(load[0]).toMatchObject({ line: 11, path: "models.fleet.overrides.context_size", code: "remote-load-param", params: { key: "context_size" } });
    const file = await remoteIssues(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    file: x.gguf\n`);
    expect(file[0]).toMatchObject({ path: "models.fleet.file", code: "unknown-key" });
  });

  it("says which backends there are, and what a remote model lacks", async () => {
    const unknown = await remoteIssues(`  fleet:\n    backend: vllm\n    model: m\n`);
    expect(unknown[0]).toMatchObject({ path: "models.fleet.backend", code: "wrong-value", params: { allowed: '"local", "openai"' } });
    const missing = await remoteIssues(`  fleet:\n    backend: openai\n    model: m\n`);
    expect(missing[0]).toMatchObject({ path: "models.fleet.base_url", code: "required-key" });
  });

  it("validates a pipeline that uses a remote model without looking for a file", async () => {
    await writeFiles(configDir(), { "pipeline.yaml": "base_pipeline:\n  stages:\n    - id: ask\n      type: single\n      model: fleet\n" });
    const models = await loadRemoteModels(remote);
    const result = await validateSetup({ models, pipeline: await loadPipeline(configDir()), isBase: true });
    expect(result.errors).toEqual([]);
  });
});
