import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir, writeFiles } from "../testing/fixtures.js";
import { ConfigError, loadModelsConfig, loadPipeline, resolveGenerationParams, resolveModel, validateSetup, type ConfigIssue } from "./index.js";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const configDir = () => path.join(root, "config");

async function loadModels(models: string) {
  await writeFiles(configDir(), { "models.yaml": `models_directory: models\ndefaults:\n  context_size: 512\n  temperature: 0.5\nmodels:\n${models}` });
  return loadModelsConfig(configDir());
}

async function issuesOf(models: string): Promise<ConfigIssue[]> {
  const error = await loadModels(models).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).issues;
}

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
    const models = await loadModels(remote);
    const resolved = resolveModel(models, "fleet");
    expect(resolved.path).toBe("");
    expect(resolved.remote).toEqual({ baseUrl: "http://gpu-box:8000/v1", model: "Qwen/Qwen2.5-7B-Instruct", apiKeyEnv: "FLEET_KEY", timeoutMs: 60_000, connectTimeoutMs: 10_000, maxRetries: 3 });
    expect(resolveGenerationParams(models, "fleet", { max_tokens: 7 })).toMatchObject({ temperature: 0.1, max_tokens: 7 });
    expect(resolveGenerationParams(models, "fleet")).not.toHaveProperty("context_size");
  });

  it("keeps a local model's rules: without backend a file is still required", async () => {
    const [issue] = await issuesOf(`  plain:\n    quantization: Q8_0\n`);
    expect(issue).toMatchObject({ line: 7, path: "models.plain.file", code: "required-key" });
  });

  it("refuses a key written in the file, at its line, without repeating it", async () => {
    const issues = await issuesOf(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    api_key: sk-live-0123456789\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 10, path: "models.fleet.api_key", code: "secret-in-config", params: { key: "api_key", setting: "api_key_env" } });
    expect(issues[0]!.message).toContain("api_key_env");
    expect(JSON.stringify(issues)).not.toContain("sk-live-0123456789");
  });

  it("refuses a key pasted as api_key_env, without repeating it", async () => {
    const issues = await issuesOf(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    api_key_env: sk-live-0123456789-abc\n`);
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
    const issues = await issuesOf(`  fleet:\n    backend: openai\n    base_url: "${url}"\n    model: m\n`);
    expect(issues[0]).toMatchObject({ line: 8, path: "models.fleet.base_url", code: "invalid-base-url", params: { reason } });
    expect(JSON.stringify(issues)).not.toContain("hunter2");
  });

  it("refuses load parameters in a remote model's overrides, and a file", async () => {
    const load = await issuesOf(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    overrides:\n      context_size: 4096\n`);
    expect(load[0]).toMatchObject({ line: 11, path: "models.fleet.overrides.context_size", code: "remote-load-param", params: { key: "context_size" } });
    const file = await issuesOf(`  fleet:\n    backend: openai\n    base_url: http://gpu-box:8000/v1\n    model: m\n    file: x.gguf\n`);
    expect(file[0]).toMatchObject({ path: "models.fleet.file", code: "unknown-key" });
  });

  it("says which backends there are, and what a remote model lacks", async () => {
    const unknown = await issuesOf(`  fleet:\n    backend: vllm\n    model: m\n`);
    expect(unknown[0]).toMatchObject({ path: "models.fleet.backend", code: "wrong-value", params: { allowed: '"local", "openai"' } });
    const missing = await issuesOf(`  fleet:\n    backend: openai\n    model: m\n`);
    expect(missing[0]).toMatchObject({ path: "models.fleet.base_url", code: "required-key" });
  });

  it("validates a pipeline that uses a remote model without looking for a file", async () => {
    await writeFiles(configDir(), { "pipeline.yaml": "base_pipeline:\n  stages:\n    - id: ask\n      type: single\n      model: fleet\n" });
    const models = await loadModels(remote);
    const result = await validateSetup({ models, pipeline: await loadPipeline(configDir()), isBase: true });
    expect(result.errors).toEqual([]);
  });
});
