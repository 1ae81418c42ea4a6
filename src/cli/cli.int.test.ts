/** The CLI as a user runs it: the compiled `project-llm` in a child process, on the real model. */
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir, testModelsDir, writeFiles } from "../testing/fixtures.js";

const cli = path.resolve("dist/cli/main.js");
let root: string;
let cleanup: () => Promise<void>;

function run(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, ...args],
      { cwd: root, env: { ...process.env, PROJECT_LLM_MODELS_DIR: testModelsDir, NO_COLOR: "1" }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir());
});
afterAll(async () => cleanup());

describe("project-llm", () => {
  it("creates the working config from the examples and streams a run stage by stage", async () => {
    const result = await run(["run", "--input", "Once upon a time"]);
    expect(result.stderr).toContain("created");
    expect(result.code).toBe(0);
    const draft = result.stdout.indexOf("── draft");
    const voices = result.stdout.indexOf("── voices");
    const final = result.stdout.indexOf("── final answer ──");
    expect(draft).toBeGreaterThan(-1);
    expect(voices).toBeGreaterThan(draft);
    expect(final).toBeGreaterThan(voices);
    expect(result.stdout).toContain("[synthesis by storyteller]");
    expect(result.stderr).toMatch(/run \S+ completed/);
    expect((await readdir(path.join(root, "sessions"))).filter((name) => name.endsWith(".json") && name !== "index.json")).toHaveLength(1);
  });

  it("reads the input from stdin, prints the session as JSON, and lists, shows, reruns and draws sessions", async () => {
    const first = await run(["run", "--json"], "The cat");
    expect(first.code).toBe(0);
    const session = JSON.parse(first.stdout) as { id: string; status: string; input: string; finalAnswer: string };
    expect(session).toMatchObject({ status: "completed", input: "The cat" });

    const list = await run(["sessions", "list"]);
    expect(list.stdout).toContain(session.id);
    expect((await run(["sessions", "show", session.id, "--text"])).stdout.trim()).toBe(session.finalAnswer.trim());

    const rerun = await run(["sessions", "rerun", session.id, "--from", "ending", "--json"]);
    expect(rerun.code).toBe(0);
    const branch = JSON.parse(rerun.stdout) as { id: string; parentRunId: string; stages: Record<string, { reused: boolean }> };
    expect(branch.parentRunId).toBe(session.id);
    expect(branch.stages.draft!.reused).toBe(true);
    expect(branch.stages.ending!.reused).toBe(false);

    const tuned = await run(["sessions", "rerun", session.id, "--from", "ending", "--param", "ending.temperature=0", "--param", "ending.max_tokens=5", "--json"]);
    const tunedSession = JSON.parse(tuned.stdout) as { stages: Record<string, { models: Array<{ params: Record<string, unknown> }>; reused: boolean }> };
    expect(tunedSession.stages.ending!.models[0]!.params).toMatchObject({ temperature: 0, max_tokens: 5 });
    expect(tunedSession.stages.voices!.reused).toBe(true);
    const badParam = await run(["sessions", "rerun", session.id, "--from", "ending", "--param", "ending.temprature=0"]);
    expect(badParam.code).toBe(2);
    expect(badParam.stderr).toContain("temprature");

    const tree = await run(["sessions", "tree", branch.id]);
    expect(tree.stdout).toMatch(new RegExp(`^${session.id}.*\\n├─ ${branch.id}.*rerun from ending`, "m"));
  });

  it("lists the models with their facts", async () => {
    const table = await run(["models"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/storyteller \*\s+present\s+stories260K\.gguf/);
    const json = JSON.parse((await run(["models", "--json"])).stdout) as Array<{ name: string; architecture: string; memory: { totalRam: number } }>;
    expect(json.map((model) => model.name)).toEqual(["storyteller", "dreamer", "critic"]);
    expect(json[0]).toMatchObject({ architecture: "llama" });
    expect(json[0]!.memory.totalRam).toBeGreaterThan(0);
  });

  it("exits 2 with file:line:column on a bad config, and 0 when it is valid", async () => {
    expect((await run(["validate"])).code).toBe(0);
    await writeFiles(root, { "config/pipelines/bad.yaml": "pipeline:\n  stages:\n    - id: a\n      type: single\n      modle: storyteller\n" });
    const result = await run(["validate", "--pipeline", "bad"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path.join(root, "config", "pipelines", "bad.yaml")}:5:7: pipeline.stages[0].modle: unknown key "modle"`);
    expect(result.stderr).toContain('did you mean "model"?');
  });

  it("exits 2 on usage errors and 1 when the run fails", async () => {
    expect((await run(["run", "--bogus"])).code).toBe(2);
    expect((await run(["frobnicate"])).code).toBe(2);
    expect((await run(["sessions", "show", "../../etc/passwd"])).code).toBe(2);
    await writeFiles(root, { "config/pipelines/overflow.yaml": "pipeline:\n  stages:\n    - id: a\n      type: single\n      model: storyteller\n" });
    const failed = await run(["run", "--pipeline", "overflow", "--input", "word ".repeat(3000)]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("context");
  });
});
