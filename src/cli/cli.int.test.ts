/** The CLI as a user runs it: the compiled `project-llm` in a child process, on the real model. */
import { execFile, type ChildProcess } from "node:child_process";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeSession } from "../store/session-store.conformance.js";
import { fakeRemoteModel, startFakeOpenAiServer } from "../testing/fake-openai-server.js";
import { tempDir, testModelsDir, testModelsYaml, writeFiles } from "../testing/fixtures.js";

const cli = path.resolve("dist/cli/main.js");
let root: string;
let cleanup: () => Promise<void>;

/** Runs the CLI; `onStdout` sees its output as it comes (to press Ctrl+C at the right moment). */
function run(
  args: string[],
  input?: string,
  options: { cwd?: string; env?: Record<string, string>; onStdout?: (text: string, child: ChildProcess) => void } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, ...args],
      { cwd: options.cwd ?? root, env: { ...process.env, PROJECT_LLM_MODELS_DIR: testModelsDir, NO_COLOR: "1", ...options.env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
    let seen = "";
    child.stdout!.on("data", (chunk: Buffer | string) => options.onStdout?.((seen += chunk.toString()), child));
    if (input !== undefined) child.stdin!.end(input);
  });
}

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir());
});
afterAll(async () => cleanup());

/** A folder of its own for one test, removed with the others. */
async function folder(name: string): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

describe("project-llm", () => {
  it("makes no file outside the project's folder: it says which config files are missing and how to make them", async () => {
    const empty = await folder("empty");
    const result = await run(["run", "--input", "Once upon a time"], undefined, { cwd: empty });
    expect(result.code).toBe(2);
    expect(await readdir(empty)).toEqual([]);
    expect(result.stderr).toContain(`${path.join(empty, "config", "models.yaml")}: no such file`);
    expect(result.stderr).toContain(`looked for ${path.join(empty, "config", "models.yaml")} and ${path.join(empty, "config", "pipeline.yaml")}`);
    expect(result.stderr).toContain('run "project-llm init"');
    expect(result.stderr).toContain("--config DIR");
    expect(result.stderr).toContain("--models FILE.yaml --pipeline FILE.yaml");
    expect((await run(["validate"], undefined, { cwd: empty })).code).toBe(2);
    expect(await readdir(empty)).toEqual([]);
  });

  it("writes the example configs with init, never over a file, and makes them by itself in a folder --config names", async () => {
    const first = await run(["init"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`wrote ${path.join(root, "config", "models.yaml")}`);
    expect(first.stdout).toContain(`wrote ${path.join(root, "config", "pipeline.yaml")}`);
    const again = await run(["init", root]);
    expect(again.stdout).toContain(`kept ${path.join(root, "config", "models.yaml")} (it exists)`);
    expect(await readFile(path.join(root, "config", "models.yaml"), "utf8")).toBe(await readFile(path.resolve("config", "models.example.yaml"), "utf8"));

    const named = await folder("named");
    const validated = await run(["validate", "--config", path.join(named, "conf")], undefined, { cwd: named });
    expect(validated.code).toBe(0);
    expect((await readdir(path.join(named, "conf"))).sort()).toEqual(["models.yaml", "pipeline.yaml"]);
  });

  it("finds the command after global flags, keeping them, and never takes it for a run's input", async () => {
    const sessionFiles = async () => (await readdir(path.join(root, "sessions")).catch(() => [] as string[])).filter((name) => name.endsWith(".json")).sort();
    const before = await sessionFiles();
    const models = await run(["--config", path.join(root, "config"), "models"]);
    expect(models.code, models.stderr).toBe(0);
    expect(models.stdout).toMatch(/storyteller \*\s+present\s+stories260K\.gguf/);
    const listed = await run(["--json", "sessions", "list"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({ total: before.filter((name) => name !== "index.json").length });
    expect(JSON.parse((await run(["sessions", "--json", "list", "--limit", "1"])).stdout)).toHaveProperty("items");
    expect((await run(["--models-dir", testModelsDir, "validate", "--json"])).code).toBe(0);
    expect(await sessionFiles()).toEqual(before);
  });

  it("refuses words left over in the command-less form, naming them, and runs the words after run as the input", async () => {
    const leftover = await run(["--mode", "base", "--input", "Hi", "Once", "upon"]);
    expect(leftover.code).toBe(2);
    expect(leftover.stderr).toContain('project-llm: unknown command "Once" (the words "Once upon"): the commands are run, validate, plan, models, sessions, users and init; a run\'s input goes in --input TEXT');
    expect((await run(["Once"])).stderr).toContain('unknown command "Once": ');

    const words = await run(["--json", "run", "Once", "upon", "a", "time", "--sessions", path.join(root, "sessions-of-words")]);
    expect(words.code, words.stderr).toBe(0);
    expect(JSON.parse(words.stdout)).toMatchObject({ status: "completed", input: "Once upon a time" });
  });

  it("reads sessions from a folder that has none without creating anything there", async () => {
    const empty = await folder("reads-only");
    const listed = await run(["sessions", "list"], undefined, { cwd: empty });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain("no sessions yet");
    expect(JSON.parse((await run(["sessions", "list", "--json"], undefined, { cwd: empty })).stdout)).toEqual({ items: [], total: 0 });
    expect((await run(["sessions", "tree", "20260101-000000-abcdef"], undefined, { cwd: empty })).code).toBe(2);
    expect(await readdir(empty)).toEqual([]);
  });

  it("checks the session files, says which are damaged and how, and rebuilds a deleted index with reindex", async () => {
    const home = await folder("damaged");
    const sessions = path.join(home, "sessions");
    await mkdir(sessions);
    const good = [makeSession(), makeSession({ input: "another story" })];
    for (const session of good) await writeFile(path.join(sessions, `${session.id}.json`), JSON.stringify(session));
    const clean = await run(["sessions", "check"], undefined, { cwd: home });
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toContain(`no damaged session files in ${sessions} (2 session files read)`);

    const torn = makeSession();
    await writeFile(path.join(sessions, `${torn.id}.json`), JSON.stringify(torn).slice(0, 50));
    await writeFile(path.join(sessions, "copy of a run.json"), JSON.stringify(good[0]));
    const checked = await run(["sessions", "check"], undefined, { cwd: home });
    expect(checked.code).toBe(1);
    expect(checked.stdout).toMatch(new RegExp(`${torn.id}\\.json +not-json +.*JSON`));
    expect(checked.stdout).toMatch(/copy of a run\.json +not-a-run-id/);
    expect(checked.stdout).toContain(`2 damaged session files in ${sessions}`);
    const json = await run(["sessions", "check", "--json"], undefined, { cwd: home });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      dir: sessions,
      damaged: [
        { file: `${torn.id}.json`, problem: "not-json", detail: expect.any(String) },
        { file: "copy of a run.json", problem: "not-a-run-id", detail: expect.any(String) },
      ].sort((a, b) => (a.file < b.file ? -1 : 1)),
    });
    const listed = await run(["sessions", "list"], undefined, { cwd: home });
    expect(listed.stdout).toContain('and 2 damaged session files: see "project-llm sessions check"');
    const shown = await run(["sessions", "show", torn.id], undefined, { cwd: home });
    expect(shown.code).toBe(1);
    expect(shown.stderr).toContain(`session file ${torn.id}.json in ${sessions} is not JSON`);
    expect(shown.stderr).not.toContain("rebuildIndex");

    for (const name of await readdir(sessions)) if (name.startsWith("index.")) await rm(path.join(sessions, name));
    const reindexed = await run(["sessions", "reindex"], undefined, { cwd: home });
    expect(reindexed.code, reindexed.stderr).toBe(0);
    expect(reindexed.stdout).toMatch(new RegExp(`^indexed 2 sessions in ${sessions.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} in .+; 2 damaged files left out \\(see "project-llm sessions check"\\)\n$`));
    const index = JSON.parse(await readFile(path.join(sessions, "index.json"), "utf8")) as { sessions: Array<{ id: string }> };
    expect(index.sessions.map((summary) => summary.id)).toEqual(good.map((session) => session.id));
    expect(JSON.parse((await run(["sessions", "list", "--json"], undefined, { cwd: home })).stdout)).toMatchObject({ total: 2, damaged: [{}, {}] });
  });

  it("says which of the config files named on the command line are missing", async () => {
    const home = await folder("named-missing");
    const both = await run(["--models", "config/models.yaml", "--pipeline", "config/pipeline.yaml", "--input", "Hi"], undefined, { cwd: home });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(`project-llm: --models config/models.yaml: missing; --pipeline config/pipeline.yaml: missing (paths are read from ${home})\n`);
    expect(both.stderr).toContain('"project-llm init" writes the examples as config/models.yaml and config/pipeline.yaml here');
    expect(both.stderr).not.toContain("--models FILE.yaml");

    await writeFiles(home, { "config/pipeline.yaml": await readFile(path.resolve("config", "pipeline.example.yaml"), "utf8") });
    const one = await run(["--models", "config/models.yaml", "--pipeline", "config/pipeline.yaml", "--input", "Hi"], undefined, { cwd: home });
    expect(one.stderr).toContain("project-llm: --models config/models.yaml: missing; --pipeline config/pipeline.yaml: found (paths are read from");

    const modelsFile = path.join(root, "config", "models.yaml");
    const pipeline = await run(["--models", modelsFile, "--pipeline", "flows/story.yml", "--input", "Hi"], undefined, { cwd: home });
    expect(pipeline.code).toBe(2);
    expect(pipeline.stderr).toContain(`project-llm: ${path.join(home, "flows", "story.yml")}: no such file\nproject-llm: --models ${modelsFile}: found; --pipeline flows/story.yml: missing (paths are read from ${home})\n`);
    expect(pipeline.stderr).not.toContain("project-llm init");
    expect((await readdir(home)).sort()).toEqual(["config"]);
  });

  it("runs the original project's command line word for word", async () => {
    const home = await folder("original");
    await mkdir(path.join(home, "config"));
    await copyFile(path.resolve("config", "models.example.yaml"), path.join(home, "config", "models.yaml"));
    await copyFile(path.resolve("config", "pipeline.example.yaml"), path.join(home, "config", "pipeline.yaml"));
    const result = await run(["--models", "config/models.yaml", "--pipeline", "config/pipeline.yaml", "--mode", "base", "--input", "Привет", "--json"], undefined, { cwd: home });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const session = JSON.parse(result.stdout) as { status: string; input: string; pipelineName: string; finalAnswer: string; stages: Record<string, { status: string }> };
    expect(session).toMatchObject({ status: "completed", input: "Привет", pipelineName: "base" });
    expect(Object.keys(session.stages)).toEqual(["draft", "voices", "ending"]);
    expect(session.finalAnswer.length).toBeGreaterThan(0);
  });

  it("runs a file's base_pipeline in the base mode and the pipeline a file holds in the manual mode", async () => {
    const home = await folder("modes");
    await writeFiles(home, {
      "flows/mine.yaml":
        "my_flow:\n  stages:\n    - id: tell\n      type: multi\n      models: [storyteller, critic]\n      aggregation: vote\n      prompt: 'Once upon a time {input}'\n      params: { max_tokens: 4 }\n",
      "flows/named.yaml": "pipeline:\n  stages:\n    - id: a\n      type: single\n      model: storyteller\n",
    });
    const models = ["--models", path.join(root, "config", "models.yaml")];
    const manual = await run([...models, "--pipeline", "flows/mine.yaml", "--mode", "manual", "--input", "a cat", "--json"], undefined, { cwd: home });
    expect(manual.code).toBe(0);
    expect(JSON.parse(manual.stdout)).toMatchObject({ status: "completed", pipeline: { stages: [{ aggregation: { method: "vote" } }] } });
    // The placeholder in single braces is sent as it is, and said on stderr at its place.
    expect(manual.stderr).toContain(`warning: ${path.join(home, "flows", "mine.yaml")}:7:33: my_flow.stages[0].prompt: {input} is sent to the model as it is: did you mean {{input}}?`);

    const base = await run([...models, "--pipeline", "flows/named.yaml", "--mode", "base", "--input", "x"], undefined, { cwd: home });
    expect(base.code).toBe(2);
    expect(base.stderr).toContain('has no base_pipeline (its top key is "pipeline")');
    expect(base.stderr).toContain("--mode manual");
    expect((await run([...models, "--pipeline", "flows/mine.yaml", "--input", "x"], undefined, { cwd: home })).stderr).toContain('unknown key "my_flow"');
    expect((await run([...models, "--mode", "fast", "--input", "x"], undefined, { cwd: home })).code).toBe(2);
  });

  it("reads --models DIR as the models folder, as before, and refuses it beside --models-dir", async () => {
    const env = { PROJECT_LLM_MODELS_DIR: "" };
    const viaModels = await run(["validate", "--models", testModelsDir], undefined, { env });
    expect(viaModels.code).toBe(0);
    expect((await run(["validate", "--models-dir", testModelsDir], undefined, { env })).code).toBe(0);
    const missing = await run(["validate"], undefined, { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(path.join(root, "models", "stories260K.gguf"));
    const both = await run(["validate", "--models", testModelsDir, "--models-dir", testModelsDir], undefined, { env });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("both name the models folder");
  });

  it("streams a run stage by stage", async () => {
    const result = await run(["run", "--input", "Once upon a time"]);
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

  it("serves a second run of the same input from the stage cache, and computes it again with --no-cache", async () => {
    const sessions = await folder("cache-sessions");
    const args = ["run", "--input", "A small boat", "--sessions", sessions];
    const first = await run(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).not.toContain("cached");
    const second = await run(args);
    expect(second.code, second.stderr).toBe(0);
    for (const stage of ["draft", "voices", "ending"]) expect(second.stderr).toMatch(new RegExp(`✓ ${stage}: cached \\(no model called\\)`));
    expect(second.stdout).not.toContain("[synthesis by storyteller]");
    // The stage's text is shown whole, and the final answer is the first run's.
    const finalOf = (stdout: string) => stdout.slice(stdout.indexOf("── final answer ──"));
    expect(finalOf(second.stdout)).toBe(finalOf(first.stdout));
    const optedOut = await run([...args, "--no-cache"]);
    expect(optedOut.code).toBe(0);
    expect(optedOut.stderr).not.toContain("cached");
    expect(optedOut.stdout).toContain("[synthesis by storyteller]");
    const listed = JSON.parse((await run(["sessions", "list", "--json", "--sessions", sessions])).stdout) as { items: Array<{ id: string }> };
    const shown = await run(["sessions", "show", listed.items[1]!.id, "--sessions", sessions]);
    expect(shown.stdout).toContain("## stage draft (completed, cached)");

    // Deleting the session that computed the stages takes their entries (its text) off the disk.
    const cacheDir = path.join(sessions, "stage-cache");
    const entries = async () => (await readdir(cacheDir, { recursive: true })).filter((name) => /[0-9a-f]{64}\.json$/.test(name));
    expect(await entries()).toHaveLength(3);
    const firstId = listed.items[2]!.id;
    const deleted = await run(["sessions", "delete", firstId, "--sessions", sessions]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await entries()).toEqual([]);
    const recomputed = await run(args);
    expect(recomputed.code).toBe(0);
    expect(recomputed.stderr).not.toContain("cached");
    expect(await entries()).toHaveLength(3);

    // A session file removed by hand: reindex removes its entries.
    const recomputedId = (JSON.parse((await run(["sessions", "list", "--json", "--sessions", sessions])).stdout) as { items: Array<{ id: string }> }).items[0]!.id;
    await rm(path.join(sessions, `${recomputedId}.json`));
    const reindexed = await run(["sessions", "reindex", "--sessions", sessions]);
    expect(reindexed.code, reindexed.stderr).toBe(0);
    expect(reindexed.stdout).toMatch(/^indexed 2 sessions in .+; 3 stage cache entries of sessions that are gone removed\n$/);
    expect(await entries()).toEqual([]);
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

  it("exports a session as files to read, into a folder named after it or the one given, never over other files", async () => {
    const session = JSON.parse((await run(["run", "--json", "--input", "Once upon a time"])).stdout) as {
      id: string;
      input: string;
      finalAnswer: string;
      stages: Record<string, { output: string; models: Array<{ model: string; answer: string }>; aggregation: { output: { answer: string } } }>;
    };
    const exported = await run(["sessions", "export", session.id]);
    expect(exported.code).toBe(0);
    const folder = path.join(root, session.id);
    const expected = [
      "input.txt",
      "01-draft.txt",
      "02-voices.txt",
      "02-voices/1-storyteller.txt",
      "02-voices/2-dreamer.txt",
      "02-voices/3-critic.txt",
      "02-voices/synthesis-storyteller.txt",
      "03-ending.txt",
      "final.txt",
      "session.json",
    ];
    expect(exported.stdout.trim().split("\n")).toEqual([`wrote session ${session.id} to ${folder}:`, ...expected.map((file) => `  ${file}`)]);
    expect((await readdir(folder, { recursive: true })).filter((entry) => entry.endsWith(".txt") || entry.endsWith(".json")).sort()).toEqual([...expected].sort());
    const read = (file: string) => readFile(path.join(folder, file), "utf8");
    expect(await read("input.txt")).toBe("Once upon a time");
    expect(await read("01-draft.txt")).toBe(session.stages.draft!.output);
    expect(await read("02-voices/2-dreamer.txt")).toBe(session.stages.voices!.models[1]!.answer);
    expect(await read("02-voices/synthesis-storyteller.txt")).toBe(session.stages.voices!.aggregation.output.answer);
    expect(await read("final.txt")).toBe(session.finalAnswer);
    expect(JSON.parse(await read("session.json"))).toEqual(session);

    // A folder that holds anything is left alone, unless told.
    await writeFiles(folder, { "input.txt": "mine" });
    const refused = await run(["sessions", "export", session.id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("is not empty");
    expect(await read("input.txt")).toBe("mine");
    expect((await run(["sessions", "export", session.id, "--force"])).code).toBe(0);
    expect(await read("input.txt")).toBe("Once upon a time");

    const elsewhere = await run(["sessions", "export", session.id, "--dir", "out/story", "--json"]);
    expect(JSON.parse(elsewhere.stdout)).toEqual({ dir: path.join(root, "out", "story"), files: expected });
    expect(await readFile(path.join(root, "out", "story", "final.txt"), "utf8")).toBe(session.finalAnswer);
    expect((await run(["sessions", "export", "../../etc"])).code).toBe(2);
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

  it("exits 130 when Ctrl+C cancels a run or a rerun, and keeps each session as cancelled", async () => {
    const long = (id: string) => `    - id: ${id}\n      type: single\n      model: storyteller\n      params: { max_tokens: 1500 }\n`;
    await writeFiles(root, { "config/pipelines/slow.yaml": `pipeline:\n  stages:\n${["one", "two", "three"].map(long).join("")}` });
    // Once a model's text comes (under the stage headers), mid-run.
    const pressCtrlC = (text: string, child: ChildProcess) => {
      if (text.replace(/\n── [^\n]*──\n/g, "").trim().length > 0 && !child.killed) child.kill("SIGINT");
    };
    const cancelled = await run(["run", "--pipeline", "slow", "--input", "Once upon a time"], undefined, { onStdout: pressCtrlC });
    expect(cancelled.code, cancelled.stderr).toBe(130);
    expect(cancelled.stderr).toContain("cancelling…");
    const listed = JSON.parse((await run(["sessions", "list", "--pipeline", "slow", "--json"])).stdout) as { items: Array<{ id: string; status: string }> };
    expect(listed.items.map((item) => item.status)).toEqual(["cancelled"]);

    const rerun = await run(["sessions", "rerun", listed.items[0]!.id, "--from", "one"], undefined, { onStdout: pressCtrlC });
    expect(rerun.code, rerun.stderr).toBe(130);
    const after = JSON.parse((await run(["sessions", "list", "--pipeline", "slow", "--json"])).stdout) as { items: Array<{ status: string; parentRunId?: string }> };
    expect(after.items.map((item) => [item.status, item.parentRunId])).toEqual([
      ["cancelled", listed.items[0]!.id],
      ["cancelled", undefined],
    ]);
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

  it("prints the plan of a run, and refuses with it a run that cannot fit", async () => {
    const dir = await folder("plan");
    await writeFiles(dir, { "config/models.yaml": testModelsYaml(), "config/pipeline.yaml": "base_pipeline:\n  stages:\n    - { id: draft, type: single, model: greedy }\n" });
    const fits = await run(["plan", "--config", "config"], undefined, { cwd: dir });
    expect(fits.code).toBe(0);
    expect(fits.stdout).toMatch(/draft\s+greedy\s+load/);
    expect(fits.stdout).toContain("no measurement yet");
    await writeFiles(dir, { "config/models.yaml": testModelsYaml().replace("defaults:", "memory_safety: { ram: 0.00001 }\ndefaults:") });
    const tight = await run(["plan", "--config", "config", "--json"], undefined, { cwd: dir });
    expect(tight.code).toBe(2);
    expect((JSON.parse(tight.stdout) as { fits: boolean }).fits).toBe(false);
    const refused = await run(["run", "--config", "config", "--input", "Once upon a time"], undefined, { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("does not fit");
    expect(refused.stderr).toMatch(/project-llm: the run does not fit in memory: greedy needs/);
    expect(refused.stdout).toBe("");
  });
});

describe("project-llm with a remote model", () => {
  it("lists a remote model as remote, and runs a pipeline whose second stage is served by an OpenAI-compatible server", async () => {
    const server = await startFakeOpenAiServer({ key: "sk-cli-key", behaviour: { kind: "stream", chunks: ["Told", " far", " away."] } });
    try {
      const dir = await folder("remote");
      const remote = `  fleet:\n    backend: openai\n    base_url: ${server.baseUrl}\n    model: ${fakeRemoteModel}\n    api_key_env: FLEET_KEY\n`;
      await writeFiles(dir, {
        "config/models.yaml": testModelsYaml(remote),
        "config/pipeline.yaml": "base_pipeline:\n  stages:\n    - { id: draft, type: single, model: greedy }\n    - { id: retell, type: single, model: fleet, input_from: draft }\n",
      });
      const config = ["--config", path.join(dir, "config")];
      const listed = await run([...config, "models"], undefined, { cwd: dir });
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(new RegExp(`fleet\\s+remote\\s+${fakeRemoteModel} @ ${server.baseUrl.replace(/[.]/g, "\\.")}`));

      const result = await run([...config, "run", "--input", "Once upon a time"], undefined, { cwd: dir, env: { FLEET_KEY: "sk-cli-key" } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain("Told far away.");
      expect(server.requests.at(-1)!.authorization).toBe("Bearer sk-cli-key");

      // The same run again would be served from the stage cache (both stages are deterministic): asked without it.
      const refused = await run([...config, "run", "--no-cache", "--input", "Once upon a time"], undefined, { cwd: dir, env: { FLEET_KEY: "sk-wrong" } });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("FLEET_KEY");
      expect(refused.stderr + refused.stdout).not.toContain("sk-wrong");
    } finally {
      await server.close();
    }
  });
});
