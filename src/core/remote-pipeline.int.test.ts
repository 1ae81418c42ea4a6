/**
 * Integration: a pipeline that mixes a local stage (stories260K through the real inference worker) and a
 * remote stage (an OpenAI-compatible server on loopback: the fake of src/testing), through the studio
 * core, with the session it keeps.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RunEvent } from "../engine/index.js";
import { createRuntime, type Runtime } from "../runtime/index.js";
import { fakeRemoteModel, startFakeOpenAiServer, type FakeOpenAiServer } from "../testing/fake-openai-server.js";
import { tempDir, testModelsDir, testModelsYaml, writeFiles } from "../testing/fixtures.js";
import { Studio } from "./studio.js";

const key = "sk-test-never-stored-4711";

const pipelineYaml = `base_pipeline:
  stages:
    - id: draft
      type: single
      model: greedy
    - id: polish
      type: single
      model: fleet
      input_from: draft
      system: You polish stories.
      prompt: "Polish this: {{input}}"
      params: { max_tokens: 40 }
`;

let runtime: Runtime;
let server: FakeOpenAiServer;
let root: string;
let cleanup: () => Promise<void>;
let studio: Studio;

beforeAll(async () => {
  runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
  server = await startFakeOpenAiServer({ key });
});
afterAll(async () => {
  await runtime.dispose();
  await server.close();
});
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  const remote = `  fleet:\n    backend: openai\n    base_url: ${server.baseUrl}\n    model: ${fakeRemoteModel}\n    api_key_env: FLEET_KEY\n    max_retries: 0\n`;
  await writeFiles(root, { "config/models.yaml": testModelsYaml(remote), "config/pipeline.yaml": pipelineYaml });
  studio = Studio.open({
    cwd: root,
    runtime,
    env: { PROJECT_LLM_CONFIG_DIR: path.join(root, "config"), PROJECT_LLM_MODELS_DIR: testModelsDir, PROJECT_LLM_SESSIONS_DIR: path.join(root, "sessions"), FLEET_KEY: key },
  });
});
afterEach(async () => {
  await studio.dispose();
  await cleanup();
});

describe("a pipeline with a local and a remote stage", () => {
  it("runs the local stage on the real model and sends its answer to the remote server, streaming both", async () => {
    server.behave({ kind: "stream", chunks: ["A ", "polished ", "story."] });
    const events: RunEvent[] = [];
    const session = await studio.run({ input: "Once upon a time", onEvent: (event) => events.push(event) });
    expect(session.status).toBe("completed");
    const draft = session.stages.draft!;
    expect(draft.status).toBe("completed");
    expect(draft.output!.length).toBeGreaterThan(0);
    expect(session.stages.polish!.output).toBe("A polished story.");
    expect(session.finalAnswer).toBe("A polished story.");
    // The remote server was sent the local stage's answer, in the stage's prompt and system, with the key.
    const sent = server.requests.at(-1)!;
    expect(sent.authorization).toBe(`Bearer ${key}`);
    expect(sent.body.messages).toEqual([
      { role: "system", content: "You polish stories." },
      { role: "user", content: `Polish this: ${draft.output}` },
    ]);
    expect(sent.body.max_tokens).toBe(40);
    expect(sent.body.temperature).toBe(0);
    const deltas = events.filter((event) => event.type === "stage-delta" && event.stageId === "polish").length;
    expect(deltas).toBe(3);
    expect(session.stages.polish!.metrics).toMatchObject({ tokensOut: 3 });
    // The session names where the remote model was served, and never holds the key.
    const stored = await readFile(path.join(root, "sessions", `${session.id}.json`), "utf8");
    expect(JSON.parse(stored).models.fleet).toMatchObject({ file: "", remote: { baseUrl: server.baseUrl, model: fakeRemoteModel } });
    expect(stored).not.toContain(key);
  });

  it("serves the remote stage from the stage cache only when its model opts in with cache: true", async () => {
    const runTwice = async () => {
      const sent = server.requests.length;
      const first = await studio.run({ input: "Once upon a time" });
      const second = await studio.run({ input: "Once upon a time" });
      expect([first.status, second.status]).toEqual(["completed", "completed"]);
      return { second, requests: server.requests.length - sent };
    };
    server.behave({ kind: "stream", chunks: ["A ", "polished ", "story."] });
    // Without it, the local stage comes from the cache and the server is asked every time.
    const optedOut = await runTwice();
    expect(optedOut.requests).toBe(2);
    expect(optedOut.second.stages.draft!.cached).toBe(true);
    expect(optedOut.second.stages.polish!.cached).toBeUndefined();

    const models = await readFile(path.join(root, "config", "models.yaml"), "utf8");
    await writeFiles(root, { "config/models.yaml": models.replace("    max_retries: 0\n", "    max_retries: 0\n    cache: true\n") });
    const optedIn = await runTwice();
    expect(optedIn.requests).toBe(1);
    expect(optedIn.second.stages.polish).toMatchObject({ cached: true, output: "A polished story." });
  });

  it("fails the remote stage with remote-failed when the server refuses, and the studio runs on", async () => {
    server.behave({ kind: "status", status: 503, message: "no capacity" });
    const failed = await studio.run({ input: "Once upon a time" });
    expect(failed.status).toBe("failed");
    expect(failed.stages.draft!.status).toBe("completed");
    expect(failed.stages.polish).toMatchObject({ status: "failed", error: { code: "remote-failed", params: { reason: "server-error", status: 503 } } });

    server.behave({ kind: "stream", chunks: ["Fine", " again."] });
    const next = await studio.run({ input: "Once upon a time" });
    expect(next.status).toBe("completed");
    expect(next.finalAnswer).toBe("Fine again.");
  });

  it("cancels the run while the remote stage streams: the run ends cancelled and the server sees the connection close", async () => {
    server.behave({ kind: "hang", chunks: ["Half"] });
    const closed = server.nextEarlyClose();
    const controller = new AbortController();
    const session = await studio.run({
      input: "Once upon a time",
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === "stage-delta" && event.stageId === "polish") controller.abort();
      },
    });
    await closed;
    expect(session.status).toBe("cancelled");
    expect(session.stages.polish).toMatchObject({ status: "cancelled", error: { code: "cancelled" } });
  });
});
