/**
 * A pipeline with a local and a remote stage, in a studio of its own (on E2E_PORT + 4): the first stage
 * runs stories260K through the real runtime, the second is served by an OpenAI-compatible server on
 * loopback (src/testing/fake-openai-server.ts, a fake since no vLLM runs here; its address is all there is
 * to change for a real one). The Run page shows both stages' text; the Models page shows the remote model
 * as remote, in English and Russian. A second remote model, `peer`, is the suite's own studio (on
 * E2E_PORT) serving its OpenAI-compatible API: a studio sends a stage to another studio over real HTTP,
 * and a cancel reaches the other studio's run.
 */
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { fakeRemoteModel, startFakeOpenAiServer, type FakeOpenAiServer } from "../src/testing/fake-openai-server";
import { shootEveryWay, watchConsole } from "./page-checks";
import { spawnStudio, work, type StudioProcess } from "./studio-process";

const configDir = path.join(work, "config-remote");
const key = "sk-e2e-remote-key";
/** The suite's studio (see playwright.config.ts): loopback, so its API asks for no key. */
const peerBase = `http://127.0.0.1:${Number(process.env.E2E_PORT ?? 3123)}`;
const remoteText = ["The ", "remote ", "stage ", "polished ", "it."];
let server: FakeOpenAiServer;
let studio: StudioProcess;

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  test.setTimeout(240_000);
  server = await startFakeOpenAiServer({ key, behaviour: { kind: "stream", chunks: remoteText, delayMs: 150 } });
  await rm(configDir, { recursive: true, force: true });
  await mkdir(path.join(configDir, "pipelines"), { recursive: true });
  const models = (await readFile("config/models.example.yaml", "utf8")).trimEnd();
  await writeFile(
    path.join(configDir, "models.yaml"),
    `${models}\n  fleet:\n    backend: openai\n    base_url: ${server.baseUrl}\n    model: ${fakeRemoteModel}\n    api_key_env: FLEET_KEY\n    description: an OpenAI-compatible server on loopback\n` +
      `  peer:\n    backend: openai\n    base_url: ${peerBase}/v1\n    model: storyteller\n    description: another studio's API\n`,
  );
  await copyFile("config/pipeline.example.yaml", path.join(configDir, "pipeline.yaml"));
  await writeFile(
    path.join(configDir, "pipelines", "mixed.yaml"),
    `pipeline:
  name: Local then remote
  stages:
    - id: draft
      type: single
      model: storyteller
      params: { max_tokens: 40 }
    - id: polish
      type: single
      model: fleet
      input_from: draft
      prompt: "Polish this story: {{input}}"
`,
  );
  // The peer's stage names a mark of its own, to find the peer's session by its input.
  const peerPipeline = (name: string, tokens: number, draftParams = "max_tokens: 24") =>
    writeFile(
      path.join(configDir, "pipelines", `${name}.yaml`),
      `pipeline:
  stages:
    - id: draft
      type: single
      model: storyteller
      params: { ${draftParams} }
    - id: polish
      type: single
      model: peer
      input_from: draft
      prompt: "${name} mark: {{input}}"
      params: { max_tokens: ${tokens}, temperature: 0 }
`,
    );
  await peerPipeline("peerchain", 40);
  // Long enough that the peer still writes when the cancel comes, however late a busy machine sends it.
  await peerPipeline("peerlong", 8000);
  // Deterministic end to end: a rerun of the same input may be served from either studio's stage cache.
  await peerPipeline("peerfresh", 16, "max_tokens: 24, temperature: 0");
  studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 4, sessions: "sessions-remote", env: { PROJECT_LLM_CONFIG_DIR: configDir, FLEET_KEY: key } });
  await expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 180_000 }).toBe(200);
});

test.afterAll(async () => {
  studio?.server.kill("SIGTERM");
  await studio?.exited;
  await server?.close();
});

/** Shoots the page in every language, scheme and size (see `shootEveryWay`). */
const shootAll = (page: Page, name: string, ready: () => Promise<void>) => shootEveryWay(page, { base: studio.base, name: `remote-${name}`, ready });

test("runs a local stage then a remote one in the browser, and shows both stages' text as it streams", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto(`${studio.base}/?pipeline=mixed`);
  await expect(page.getByLabel("Pipeline", { exact: true })).toHaveValue("mixed");
  await page.getByLabel("Input", { exact: true }).fill("Once upon a time");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/run=\d{8}-\d{6}-[0-9a-f]{6}/);
  const draft = page.getByTestId("stage-draft");
  const polish = page.getByTestId("stage-polish");
  // The remote text arrives in parts, 150 ms apart: the page shows a part before the whole.
  await expect(polish).toContainText("The remote", { timeout: 60_000 });
  await expect(page.getByTestId("final-answer")).toHaveText(remoteText.join(""), { timeout: 30_000 });
  await expect(draft).toHaveAttribute("data-state", "done");
  await expect(polish).toHaveAttribute("data-state", "done");
  const draftText = (await draft.innerText()).trim();
  expect(draftText.length).toBeGreaterThan(0);
  // The remote server got the local stage's answer in the stage's prompt, with the key from the environment.
  const sent = server.requests.at(-1)!;
  expect(sent.authorization).toBe(`Bearer ${key}`);
  expect(sent.body.messages?.at(-1)?.content).toMatch(/^Polish this story: \S/);
  expect(draftText).toContain(sent.body.messages!.at(-1)!.content.replace("Polish this story: ", "").trim().slice(0, 20));
  expect(errors).toEqual([]);
  await shootAll(page, "run", async () => {
    await expect(page.getByTestId("final-answer")).toHaveText(remoteText.join(""));
  });
});

test("the plan lists the remote call as not estimated, and says the time of the local calls is partial", async ({ page }) => {
  // The run above measured storyteller's rates; the remote model has none.
  await page.goto(`${studio.base}/?pipeline=mixed`);
  const plan = page.getByTestId("run-plan");
  const remoteStep = plan.getByTestId("plan-step").filter({ has: page.locator('[data-action="remote"]') });
  await expect(remoteStep).toContainText("time not estimated");
  await expect(plan.getByTestId("plan-time")).toContainText(/^partial: up to .+ for the local stages, .+; fleet \(remote\) not estimated$/);
  await shootAll(page, "plan", async () => {
    await expect(page.getByTestId("run-plan").getByTestId("plan-time")).toContainText("fleet");
  });
});

test("fails the remote stage with a clear message when the server refuses, and the studio serves on", async ({ page }) => {
  server.behave({ kind: "status", status: 404 });
  // A wrong model name is what makes a server answer 404: the fake answers so for every call now.
  await page.goto(`${studio.base}/?pipeline=mixed`);
  await page.getByLabel("Input", { exact: true }).fill("Once upon a time");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  const polish = page.getByTestId("stage-polish");
  await expect(polish).toHaveAttribute("data-state", "failed", { timeout: 60_000 });
  await expect(polish).toContainText("The remote model's server failed.");
  await expect(polish).toContainText("127.0.0.1");
  // The local draft is the first test's again: computed, or served from the stage cache.
  await expect(page.getByTestId("stage-draft")).toHaveAttribute("data-state", /^(done|cached)$/);
  server.behave({ kind: "stream", chunks: remoteText });
  const health = await page.request.get(`${studio.base}/api/health`);
  expect(health.status()).toBe(200);
});

test("lists the remote model as remote on the Models page: where it is served, no file, no memory", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto(`${studio.base}/models`);
  const card = page.getByTestId("model-fleet");
  await expect(card).toContainText("remote");
  await expect(card).toContainText(server.baseUrl);
  await expect(card).toContainText(fakeRemoteModel);
  await expect(card).toContainText("FLEET_KEY");
  await expect(card).not.toContainText("RAM");
  await expect(card.getByRole("meter")).toHaveCount(0);
  await shootAll(page, "models", async () => {
    await expect(page.getByTestId("model-fleet")).toBeVisible();
  });
  expect(errors).toEqual([]);
});

interface PeerSession {
  id: string;
  status: string;
  input: string;
  finalAnswer?: string;
  stages: Record<string, { cached?: boolean }>;
}

/** The peer studio's newest session whose input holds `mark`. */
async function peerSession(request: APIRequestContext, mark: string): Promise<PeerSession | undefined> {
  const list = await request.get(`${peerBase}/api/trpc/sessions.list?input=${encodeURIComponent(JSON.stringify({ query: mark }))}`);
  const { items } = ((await list.json()) as { result: { data: { items: { id: string }[] } } }).result.data;
  if (items.length === 0) return undefined;
  return (await (await request.get(`${peerBase}/api/sessions/${items[0]!.id}`)).json()) as PeerSession;
}

test("sends a stage to another studio's OpenAI-compatible API: its answer is the stage's, kept as a session there", async ({ page, request }) => {
  await page.goto(`${studio.base}/?pipeline=peerchain`);
  await page.getByLabel("Input", { exact: true }).fill("Once upon a time");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  const polish = page.getByTestId("stage-polish");
  await expect(polish).toHaveAttribute("data-state", "done", { timeout: 90_000 });
  const final = (await page.getByTestId("final-answer").innerText()).trim();
  expect(final.length).toBeGreaterThan(10);
  // The other studio ran stories260K on the draft, and kept the call as a completed session whose answer is this stage's.
  const stored = await peerSession(request, "peerchain mark:");
  expect(stored?.status).toBe("completed");
  expect(stored?.input).toMatch(/^peerchain mark: \S/);
  expect(stored?.finalAnswer?.trim()).toBe(final);
});

test("a run with the stage cache off has the other studio compute its stage too, where a rerun with it on is served from that studio's cache", async ({ request }) => {
  const input = `Once upon a time ${Date.now()}`;
  const run = async (cache: boolean) => {
    const started = await request.post(`${studio.base}/api/runs`, { data: { pipeline: "peerfresh", input, cache } });
    expect(started.status()).toBe(202);
    const { id } = (await started.json()) as { id: string };
    const status = async () => ((await (await request.get(`${studio.base}/api/sessions/${id}`)).json()) as { status?: string }).status;
    await expect.poll(status, { timeout: 60_000 }).toMatch(/^(completed|failed|cancelled|interrupted)$/);
    expect(await status()).toBe("completed");
    return (await peerSession(request, "peerfresh mark:"))!;
  };
  const first = await run(true);
  expect(first.stages.chat!.cached).toBeFalsy();
  // The same call again: this studio asks the other (a remote stage is not kept here), which answers from its cache.
  const again = await run(true);
  expect(again.id).not.toBe(first.id);
  expect(again.stages.chat!.cached).toBe(true);
  // With the cache off here, the call says so (a header), and the other studio computes it.
  const fresh = await run(false);
  expect(fresh.id).not.toBe(again.id);
  expect(fresh.stages.chat!.cached).toBeFalsy();
  expect(fresh.finalAnswer).toBe(first.finalAnswer);
});

test("cancelling a run cancels its stage's run on the other studio", async ({ page, request }) => {
  await page.goto(`${studio.base}/?pipeline=peerlong`);
  await page.getByLabel("Input", { exact: true }).fill("Once upon a time");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  const polish = page.getByTestId("stage-polish");
  // 8,000 tokens asked of the peer: it is still writing when the page has shown some of its text.
  await expect.poll(async () => (await polish.innerText()).trim().length, { timeout: 90_000 }).toBeGreaterThan(40);
  await expect.poll(async () => (await peerSession(request, "peerlong mark:"))?.status, { timeout: 30_000 }).toBe("running");
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(polish).toHaveAttribute("data-state", "cancelled", { timeout: 30_000 });
  await expect.poll(async () => (await peerSession(request, "peerlong mark:"))?.status, { timeout: 30_000 }).toBe("cancelled");
});
