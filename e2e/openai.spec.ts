/**
 * The OpenAI-compatible API through the official `openai` client, against the real studio and real
 * inference on stories260K: the list of pipelines and models, chat completions of a model and of a
 * pipeline, whole and streamed, with usage, stop, max_tokens, temperature and seed; a repeated call served
 * from the stage cache, and `cache: false`; errors in the client's error classes; and, on a studio of its
 * own that listens on every address (access control on) with a small run queue: bearer tokens, the queue's
 * caps, the cap on a client's streams, cancel by aborting the request, and a revoked user's answer ended.
 */
import { expect, test, type APIRequestContext } from "@playwright/test";
import OpenAI from "openai";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { shootEveryWay, watchConsole } from "./page-checks";
import { spawnStudio, work, type StudioProcess } from "./studio-process";

const base = `http://127.0.0.1:${Number(process.env.E2E_PORT ?? 3123)}`;
// On loopback with access control off, any key (or none) will do.
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "any key will do", maxRetries: 0 });
const prompt = [{ role: "user" as const, content: "Once upon a time" }];

/**
 * The params with the studio's extension `cache: false`: every stage computed, none served from the stage
 * cache, for the tests of what the model does. The client sends fields it does not know as they are (its
 * README's "undocumented request params"); the type stays the params' own, so the call's overload (whole
 * or streamed) is kept.
 */
const uncached = <Params extends OpenAI.ChatCompletionCreateParams>(params: Params): Params => ({ ...params, cache: false });

interface StoredSession {
  id: string;
  user: string;
  status: string;
  pipelineName: string;
  inlinePipeline?: boolean;
  api?: { model: string };
  input: string;
  finalAnswer?: string;
  pipeline: { stages: { id: string; params: Record<string, unknown>; history?: { role: string; content: string }[] }[] };
  stages: Record<string, { status: string; cached?: boolean; metrics?: { tokensIn: number; tokensOut: number } }>;
}

async function session(request: APIRequestContext, id: string, origin = base, headers: Record<string, string> = {}): Promise<StoredSession> {
  const response = await request.get(`${origin}/api/sessions/${id}`, { headers });
  expect(response.status(), await response.text()).toBe(200);
  return (await response.json()) as StoredSession;
}

/** The run id in a completion's id (`chatcmpl-RUNID`). */
const runIdOf = (completionId: string) => completionId.replace(/^chatcmpl-/, "");

test.describe.configure({ mode: "serial" });

test("lists the pipelines as pipeline/NAME and the models by name", async () => {
  const ids: string[] = [];
  for await (const model of client.models.list()) {
    expect(model).toMatchObject({ object: "model", owned_by: "project-llm", created: expect.any(Number) });
    ids.push(model.id);
  }
  expect(ids).toEqual(expect.arrayContaining(["pipeline/base", "pipeline/story", "storyteller", "dreamer"]));
  expect(ids).not.toContain("base");
  expect(await client.models.retrieve("pipeline/story")).toMatchObject({ id: "pipeline/story", object: "model" });
  expect(await client.models.retrieve("storyteller")).toMatchObject({ id: "storyteller" });
  await expect(client.models.retrieve("pipeline/nothing")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
});

test("a model answers whole and streamed, with usage and max_tokens, and each call is a session", async ({ request }) => {
  const { data: whole, response } = await client.chat.completions.create(uncached({ model: "storyteller", messages: prompt, max_tokens: 24, temperature: 0 })).withResponse();
  const text = whole.choices[0]!.message.content!;
  expect(response.headers.get("x-project-llm-cached-stages")).toBe("0");
  expect(whole.object).toBe("chat.completion");
  expect(whole.choices[0]!.message.role).toBe("assistant");
  expect(text.length).toBeGreaterThan(20);
  expect(whole.choices[0]!.finish_reason).toBe("length");
  // Every token written now; of the prompt, those the loaded model kept from an earlier call are counted apart.
  expect(whole.usage).toEqual({
    prompt_tokens: expect.any(Number),
    completion_tokens: 24,
    total_tokens: whole.usage!.prompt_tokens + 24,
    prompt_tokens_details: { cached_tokens: expect.any(Number) },
    completion_tokens_details: { cached_tokens: 0 },
  });
  expect(whole.usage!.prompt_tokens).toBeGreaterThan(0);
  expect(whole.usage!.prompt_tokens_details!.cached_tokens).toBeLessThan(whole.usage!.prompt_tokens);
  const stored = await session(request, runIdOf(whole.id));
  // Marked as a call of the API, for the model the client named (History names it so).
  expect(stored).toMatchObject({ status: "completed", user: "local", finalAnswer: text, inlinePipeline: true, api: { model: "storyteller" } });
  expect(stored.pipeline.stages[0]!.params).toMatchObject({ max_tokens: 24, temperature: 0 });

  // The same call streamed: a first chunk with the role, the same text in pieces, the finish reason, the usage.
  // Computed again (cache: false), so its text comes as the model writes it.
  const stream = await client.chat.completions.create(uncached({ model: "storyteller", messages: prompt, max_completion_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } }));
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
  expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk" && chunk.id === chunks[0]!.id)).toBe(true);
  expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")).toBe(text);
  expect(chunks.filter((chunk) => chunk.choices[0]?.delta.content).length).toBeGreaterThan(1);
  expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("length");
  expect(chunks.at(-1)!.choices).toEqual([]);
  expect(chunks.at(-1)!.usage).toMatchObject({ completion_tokens: 24, prompt_tokens: whole.usage!.prompt_tokens, completion_tokens_details: { cached_tokens: 0 } });
  expect(chunks.at(-2)).toMatchObject({ cached_stages: 0 });
  expect(runIdOf(chunks[0]!.id)).not.toBe(runIdOf(whole.id));
  const streamed = await session(request, runIdOf(chunks[0]!.id));
  expect(streamed).toMatchObject({ status: "completed", finalAnswer: text });
  expect(streamed.stages.chat!.cached).toBeFalsy();
});

test("a repeated deterministic call is served from the stage cache, and the answer says so", async ({ request }) => {
  // An input of this run's own, so that the first call is computed whatever ran before.
  const messages = [{ role: "user" as const, content: `Once upon a time, ${Date.now()} ` }];
  const params = { model: "storyteller", messages, max_tokens: 20, temperature: 0 };
  const { data: first, response: firstResponse } = await client.chat.completions.create(params).withResponse();
  expect(firstResponse.headers.get("x-project-llm-cached-stages")).toBe("0");
  expect((await session(request, runIdOf(first.id))).stages.chat!.cached).toBeFalsy();

  const { data: again, response } = await client.chat.completions.create(params).withResponse();
  expect(response.headers.get("x-project-llm-cached-stages")).toBe("1");
  expect(again).toMatchObject({ cached_stages: 1 });
  expect(again.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
  const stored = await session(request, runIdOf(again.id));
  expect(stored).toMatchObject({ status: "completed", finalAnswer: first.choices[0]!.message.content });
  expect(stored.stages.chat!.cached).toBe(true);
  // The stored counts, marked as not computed now: the whole prompt and every token written came from the cache.
  expect(again.usage).toEqual({ ...first.usage, prompt_tokens_details: { cached_tokens: first.usage!.prompt_tokens }, completion_tokens_details: { cached_tokens: first.usage!.completion_tokens } });

  // Streamed, the headers leave before the run starts: the last chunk and the usage say it.
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } })) chunks.push(chunk);
  expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")).toBe(first.choices[0]!.message.content);
  expect(chunks.at(-2)).toMatchObject({ cached_stages: 1, choices: [{ finish_reason: "length" }] });
  expect(chunks.at(-1)!.usage).toMatchObject({ completion_tokens: first.usage!.completion_tokens, completion_tokens_details: { cached_tokens: first.usage!.completion_tokens } });
  expect((await session(request, runIdOf(chunks[0]!.id))).stages.chat!.cached).toBe(true);

  // The header another studio sends for a run whose cache is off: computed again, as with `cache: false`.
  const { data: fresh, response: freshResponse } = await client.chat.completions.create(params, { headers: { "x-project-llm-cache": "off" } }).withResponse();
  expect(freshResponse.headers.get("x-project-llm-cached-stages")).toBe("0");
  expect(fresh.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
  expect((await session(request, runIdOf(fresh.id))).stages.chat!.cached).toBeFalsy();
});

test("a conversation's earlier messages are its turns: the model reads them, the session keeps them, its page shows them", async ({ page, request }) => {
  const errors = watchConsole(page);
  const earlier = [
    { role: "user" as const, content: "Once upon a time" },
    { role: "assistant" as const, content: "there was a little cat named Tom." },
  ];
  const messages = [...earlier, { role: "user" as const, content: "What did Tom do?" }];
  const data = await client.chat.completions.create(uncached({ model: "storyteller", messages, max_tokens: 16, temperature: 0 }));
  const stored = await session(request, runIdOf(data.id));
  expect(stored.input).toBe("What did Tom do?");
  expect(stored.pipeline.stages[0]!.history).toEqual(earlier);
  // stories260K has no chat template: it reads the conversation as a transcript, as one message holding it.
  const transcript = "User: Once upon a time\n\nAssistant: there was a little cat named Tom.\n\nUser: What did Tom do?\n\nAssistant:";
  const flat = await client.chat.completions.create(uncached({ model: "storyteller", messages: [{ role: "user", content: transcript }], max_tokens: 16, temperature: 0 }));
  expect(data.usage!.prompt_tokens).toBe(flat.usage!.prompt_tokens);
  expect(data.choices[0]!.message.content).toBe(flat.choices[0]!.message.content);

  await page.goto(`/history/${stored.id}`);
  const conversation = page.getByRole("region", { name: "Earlier in the conversation" });
  await expect(conversation.getByRole("listitem")).toHaveText(["UserOnce upon a time", "Assistantthere was a little cat named Tom."]);
  await expect(page.getByRole("region", { name: "Input", exact: true })).toContainText("What did Tom do?");
  // The header says what ran: a call of the API on the model it named, not an unsaved pipeline.
  const header = page.locator("h1").locator("..");
  await expect(header.getByText("API call", { exact: true })).toBeVisible();
  await expect(header.getByText("storyteller", { exact: true })).toBeVisible();
  await expect(header.getByText("unsaved pipeline")).toHaveCount(0);
  // History lists the calls the same way.
  await page.goto("/history");
  const row = page.getByRole("row").filter({ hasText: "API call" }).first();
  await expect(row.getByText("storyteller", { exact: true })).toBeVisible();
  await expect(row.getByText("unsaved pipeline")).toHaveCount(0);
  await page.goto(`/history/${stored.id}`);
  await shootEveryWay(page, { base, name: "session-conversation", ready: () => expect(page.locator("section ol li").first()).toBeVisible() });
  expect(errors).toEqual([]);
});

test("stop ends the text before the stop string, and the reason is stop", async () => {
  const full = (await client.chat.completions.create({ model: "storyteller", messages: prompt, max_tokens: 30, temperature: 0 })).choices[0]!.message.content!;
  // A word well inside the text, chosen from it (the model's text is not written into the test).
  const word = full.split(/\s+/).filter((candidate) => /^[a-z]{3,}$/.test(candidate))[2]!;
  expect(word).toBeTruthy();
  const stopped = await client.chat.completions.create({ model: "storyteller", messages: prompt, max_tokens: 30, temperature: 0, stop: [word] });
  const text = stopped.choices[0]!.message.content!;
  // The text up to the stop string (the space before it belongs to the stop string's token).
  expect(text.trimEnd()).toBe(full.slice(0, full.indexOf(word)).trimEnd());
  expect(text.length).toBeGreaterThan(0);
  expect(text).not.toContain(word);
  expect(stopped.choices[0]!.finish_reason).toBe("stop");
  expect(stopped.usage!.completion_tokens).toBeLessThan(30);
});

test("temperature 0 with a seed gives the same text twice; a sampled seed repeats too, and another seed differs", async () => {
  const call = async (temperature: number, seed: number) =>
    (await client.chat.completions.create(uncached({ model: "dreamer", messages: prompt, max_tokens: 40, temperature, seed }))).choices[0]!.message.content!;
  const greedy = await call(0, 5);
  expect(await call(0, 5)).toBe(greedy);
  const sampled = await call(1, 11);
  expect(await call(1, 11)).toBe(sampled);
  expect(await call(1, 12)).not.toBe(sampled);
});

test("a pipeline streams its final stage; sampling goes to every stage, max_tokens to the final one", async ({ request }) => {
  const stream = await client.chat.completions.create(
    uncached({
      model: "pipeline/base",
      messages: [{ role: "system", content: "not read by a pipeline" }, { role: "user", content: "earlier turn" }, { role: "assistant", content: "ok" }, ...prompt],
      max_tokens: 16,
      temperature: 0,
      seed: 3,
      stream: true,
      stream_options: { include_usage: true },
    }),
  );
  let text = "";
  let id = "";
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined | null;
  for await (const chunk of stream) {
    id = chunk.id;
    text += chunk.choices[0]?.delta.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  const stored = await session(request, runIdOf(id));
  expect(stored).toMatchObject({ status: "completed", pipelineName: "base", finalAnswer: text, api: { model: "pipeline/base" } });
  expect(text.length).toBeGreaterThan(0);
  expect(finish).toBe("length");
  const stages = stored.pipeline.stages;
  const final = stages.at(-1)!;
  expect(final.params).toMatchObject({ max_tokens: 16, temperature: 0, seed: 3 });
  for (const stage of stages.slice(0, -1)) {
    expect(stage.params).toMatchObject({ temperature: 0, seed: 3 });
    expect(stage.params.max_tokens).not.toBe(16);
  }
  expect(stored.stages[final.id]!.metrics!.tokensOut).toBeLessThanOrEqual(16);
  // Usage counts every model call of the run, not the final stage alone.
  const written = Object.values(stored.stages).reduce((sum, stage) => sum + (stage.metrics?.tokensOut ?? 0), 0);
  expect(usage!.completion_tokens).toBe(written);
  expect(written).toBeGreaterThan(16);

  // Whole, the same run gives the same answer (every stage greedy).
  const whole = await client.chat.completions.create(uncached({ model: "pipeline/base", messages: prompt, max_tokens: 16, temperature: 0, seed: 3 }));
  expect(whole.choices[0]!.message.content).toBe(text);
});

test("errors come back in the client's error classes", async ({ request }) => {
  const unknown = await client.chat.completions.create({ model: "no-such-model", messages: prompt }).catch((error: unknown) => error);
  expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
  expect(unknown).toMatchObject({ status: 404, code: "model_not_found", param: "model" });
  const pipeline = await client.chat.completions.create({ model: "pipeline/nothing", messages: prompt }).catch((error: unknown) => error);
  expect(pipeline).toBeInstanceOf(OpenAI.NotFoundError);
  const several = await client.chat.completions.create({ model: "storyteller", messages: prompt, n: 2 }).catch((error: unknown) => error);
  expect(several).toBeInstanceOf(OpenAI.BadRequestError);
  expect(several).toMatchObject({ status: 400, param: "n" });
  const badType = await request.post(`${base}/v1/chat/completions`, { headers: { "content-type": "application/json" }, data: { model: "storyteller", messages: prompt, temperature: "warm" } });
  expect(badType.status()).toBe(400);
  expect(await badType.json()).toEqual({ error: { message: expect.stringContaining("temperature"), type: "invalid_request_error", param: "temperature", code: "invalid_value" } });
  const tooLarge = await request.post(`${base}/v1/chat/completions`, {
    headers: { "content-type": "application/json" },
    data: JSON.stringify({ model: "storyteller", messages: [{ role: "user", content: "x".repeat(1_100_000) }] }),
  });
  expect(tooLarge.status()).toBe(413);
  expect(await tooLarge.json()).toMatchObject({ error: { type: "invalid_request_error", code: "body-too-large" } });
  // What a web page elsewhere could send is refused: a body that is not JSON (a form's), a host name the
  // studio does not answer to (a DNS rebinding).
  const form = await request.post(`${base}/v1/chat/completions`, { headers: { "content-type": "text/plain" }, data: JSON.stringify({ model: "storyteller", messages: prompt }) });
  expect(form.status()).toBe(415);
  const rebound = await request.get(`${base}/v1/models`, { headers: { host: "attacker.example" } });
  expect(rebound.status()).toBe(403);
  expect(await rebound.json()).toMatchObject({ error: { type: "permission_error", code: "forbidden-host" } });
  // A stage that fails fails the request with the studio's reason, whole or streamed.
  const failed = await client.chat.completions.create({ model: "pipeline/fails", messages: prompt }).catch((error: unknown) => error);
  // An input too long for a model's context is the caller's to shorten: 400, which clients do not retry.
  expect(failed).toBeInstanceOf(OpenAI.BadRequestError);
  expect(failed).toMatchObject({ status: 400, code: "context-overflow", message: expect.stringMatching(/stage cramped failed: .*context/) });
  const streamed = async () => {
    for await (const chunk of await client.chat.completions.create({ model: "pipeline/fails", messages: prompt, stream: true })) void chunk;
  };
  await expect(streamed()).rejects.toThrow(/stage cramped failed: .*context/);
});

test.describe("on a studio with access control and a small run queue", () => {
  const config = path.join(work, "openai-config");
  let studio: StudioProcess;
  let adminToken: string;

  test.beforeAll(async ({ request }) => {
    test.setTimeout(180_000);
    await rm(config, { recursive: true, force: true });
    await rm(path.join(work, "data-openai"), { recursive: true, force: true });
    await mkdir(path.join(config, "pipelines"), { recursive: true });
    const models = (await readFile("config/models.example.yaml", "utf8")).replace(/^runtime:\n(?: {2}.*\n)+/m, "runtime:\n  gpu: false\n  runs_in_flight: 1\n  runs_waiting: 1\n  runs_per_user: 2\n  streams_per_client: 3\n");
    await writeFile(path.join(config, "models.yaml"), models);
    await copyFile("config/pipeline.example.yaml", path.join(config, "pipeline.yaml"));
    // Ten stages of 1500 tokens: a run that holds the one place until it is cancelled.
    await writeFile(
      path.join(config, "pipelines", "long.yaml"),
      `pipeline:\n  stages:\n${Array.from({ length: 10 }, (_, index) => `    - id: s${index}\n      type: single\n      model: storyteller\n      params: { max_tokens: 1500 }\n`).join("")}`,
    );
    studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 4, sessions: "sessions-openai", env: { HOST: "0.0.0.0", PROJECT_LLM_CONFIG_DIR: config, PROJECT_LLM_DATA_DIR: path.join(work, "data-openai") } });
    await expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 150_000 }).toBe(200);
    const line = /\/login\?token=([A-Za-z0-9_-]{20,})/.exec(studio.output());
    expect(line, studio.output()).not.toBeNull();
    adminToken = line![1]!;
  });

  test.afterAll(async () => {
    studio?.server.kill("SIGTERM");
    await studio?.exited;
  });

  const clientWith = (apiKey: string) => new OpenAI({ baseURL: `${studio.base}/v1`, apiKey, maxRetries: 0 });

  test("a bad key is refused with 401, the right one works, and /v1 never redirects to the login page", async ({ request }) => {
    const refused = await clientWith("not-a-token-of-anyone").models.list().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(refused).toMatchObject({ status: 401, type: "authentication_error" });
    const chat = await clientWith("A".repeat(44)).chat.completions.create({ model: "storyteller", messages: prompt }).catch((error: unknown) => error);
    expect(chat).toBeInstanceOf(OpenAI.AuthenticationError);
    const anonymous = await request.get(`${studio.base}/v1/models`, { maxRedirects: 0 });
    expect(anonymous.status()).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { type: "authentication_error", code: "unauthenticated" } });
    const ids = (await clientWith(adminToken).models.list()).data.map((model) => model.id);
    expect(ids).toContain("pipeline/long");
    // A viewer may list, and may not run.
    const added = await request.post(`${studio.base}/api/trpc/users.add`, { headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, data: { name: "vic", role: "viewer" } });
    const viewer = clientWith(((await added.json()) as { result: { data: { token: string } } }).result.data.token);
    expect((await viewer.models.list()).data.length).toBe(ids.length);
    const run = await viewer.chat.completions.create({ model: "storyteller", messages: prompt }).catch((error: unknown) => error);
    expect(run).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  test("a queued request streams nothing until its run starts; past the caps 429 and 503; aborting cancels the run", async ({ request }) => {
    test.setTimeout(120_000);
    const auth = { authorization: `Bearer ${adminToken}` };
    const admin = clientWith(adminToken);
    const added = await request.post(`${studio.base}/api/trpc/users.add`, { headers: { ...auth, "content-type": "application/json" }, data: { name: "rita", role: "runner" } });
    expect(added.status(), await added.text()).toBe(200);
    const rita = clientWith(((await added.json()) as { result: { data: { token: string } } }).result.data.token);

    // The long runs are computed (cache: false): stages the stage cache served would end them early.
    // The first run takes the one place: its first chunk comes once it starts.
    const first = new AbortController();
    const running = await admin.chat.completions.create(uncached({ model: "pipeline/long", messages: prompt, stream: true }), { signal: first.signal });
    const runningChunks = running[Symbol.asyncIterator]();
    const firstChunk = (await runningChunks.next()).value as OpenAI.ChatCompletionChunk;
    expect(firstChunk.choices[0]!.delta.role).toBe("assistant");
    const firstId = runIdOf(firstChunk.id);

    // The second waits: the response is there, its first chunk is not, while the first run goes on.
    const second = new AbortController();
    const waiting = await admin.chat.completions.create(uncached({ model: "pipeline/long", messages: prompt, stream: true }), { signal: second.signal });
    const waitingChunks = waiting[Symbol.asyncIterator]();
    const waitingNext = waitingChunks.next();
    const early = await Promise.race([waitingNext.then(() => "a chunk"), new Promise((resolve) => setTimeout(() => resolve("nothing yet"), 1500))]);
    expect(early).toBe("nothing yet");
    expect((await session(request, firstId, studio.base, auth)).status).toBe("running");

    // Past the caps: the admin has two runs (429), and the queue's one waiting place is taken (503).
    const perUser = await admin.chat.completions.create({ model: "storyteller", messages: prompt }).withResponse().catch((error: unknown) => error);
    expect(perUser).toBeInstanceOf(OpenAI.RateLimitError);
    expect((perUser as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("retry-after")).toMatch(/^\d+$/);
    const full = await rita.chat.completions.create({ model: "storyteller", messages: prompt }).catch((error: unknown) => error);
    expect(full).toMatchObject({ status: 503 });
    expect((full as InstanceType<typeof OpenAI.APIError>).headers?.get("retry-after")).toMatch(/^\d+$/);

    // Aborting the first request cancels its run: its session ends cancelled, mid-way, and the second starts.
    first.abort();
    await expect.poll(async () => (await session(request, firstId, studio.base, auth)).status, { timeout: 30_000 }).toBe("cancelled");
    const cancelled = await session(request, firstId, studio.base, auth);
    expect(cancelled.user).toBe("admin");
    // The stage that was generating was cancelled, and the last one never ran.
    expect(Object.values(cancelled.stages).map((stage) => stage.status)).toContain("cancelled");
    expect(cancelled.stages.s9?.status).not.toBe("completed");
    const started = (await waitingNext).value as OpenAI.ChatCompletionChunk;
    expect(started.choices[0]!.delta.role).toBe("assistant");
    const secondId = runIdOf(started.id);
    expect((await session(request, secondId, studio.base, auth)).status).toBe("running");

    // A whole (non-streamed) request aborted by its client cancels its run as well.
    second.abort();
    await expect.poll(async () => (await session(request, secondId, studio.base, auth)).status, { timeout: 30_000 }).toBe("cancelled");
    const aborted = new AbortController();
    const whole = rita.chat.completions.create(uncached({ model: "pipeline/long", messages: prompt }), { signal: aborted.signal }).catch((error: unknown) => error);
    let wholeId = "";
    await expect
      .poll(async () => {
        const runs = (await (await request.get(`${studio.base}/api/trpc/runs.list`, { headers: auth })).json()) as { result: { data: { id: string; done: boolean }[] } };
        wholeId = runs.result.data.find((run) => !run.done)?.id ?? "";
        return wholeId;
      })
      .not.toBe("");
    await expect.poll(async () => (await session(request, wholeId, studio.base, auth)).status).toBe("running");
    aborted.abort();
    expect(await whole).toBeInstanceOf(OpenAI.APIUserAbortError);
    await expect.poll(async () => (await session(request, wholeId, studio.base, auth)).status, { timeout: 30_000 }).toBe("cancelled");
    expect((await session(request, wholeId, studio.base, auth)).user).toBe("rita");
  });

  test("a streamed answer takes one of its client's stream places, and a revoked user's answers end and their runs are cancelled", async ({ request }) => {
    test.setTimeout(120_000);
    const auth = { authorization: `Bearer ${adminToken}` };
    const added = await request.post(`${studio.base}/api/trpc/users.add`, { headers: { ...auth, "content-type": "application/json" }, data: { name: "rex", role: "runner" } });
    expect(added.status(), await added.text()).toBe(200);
    const rex = clientWith(((await added.json()) as { result: { data: { token: string } } }).result.data.token);
    const runs = async () => ((await (await request.get(`${studio.base}/api/trpc/runs.list`, { headers: auth })).json()) as { result: { data: { id: string; done: boolean }[] } }).result.data;

    // Rex's answer is written: a long run, computed (not served from the stage cache) so that it lasts.
    const answer = await rex.chat.completions.create(uncached({ model: "pipeline/long", messages: prompt, stream: true }));
    const chunks = answer[Symbol.asyncIterator]();
    const runId = runIdOf(((await chunks.next()).value as OpenAI.ChatCompletionChunk).id);
    expect((await session(request, runId, studio.base, auth)).status).toBe("running");
    // And a whole answer, whose run waits in the queue behind the first (a whole answer holds no stream place).
    const whole = rex.chat.completions.create(uncached({ model: "pipeline/long", messages: prompt })).catch((error: unknown) => error);
    await expect.poll(async () => (await runs()).filter((run) => !run.done).length).toBe(2);
    const waitingId = (await runs()).find((run) => !run.done && run.id !== runId)!.id;

    // With two event streams of the same client, its cap of three is reached: one more stream is refused,
    // a /v1 one before any run starts, and a run's event stream alike.
    const followers = [new AbortController(), new AbortController()];
    for (const follower of followers) expect((await fetch(`${studio.base}/api/runs/${runId}/events`, { headers: auth, signal: follower.signal })).status).toBe(200);
    const before = (await runs()).length;
    const refused = await clientWith(adminToken)
      .chat.completions.create({ model: "storyteller", messages: prompt, stream: true })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused).toMatchObject({ status: 429, message: expect.stringContaining("event streams open") });
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("retry-after")).toMatch(/^\d+$/);
    expect((await runs()).length).toBe(before);
    const plain = await fetch(`${studio.base}/api/runs/${runId}/events`, { headers: auth });
    expect(plain.status).toBe(429);
    await plain.text();

    // Rex is revoked: the answer ends with the reason, and the run rex started is cancelled.
    const rest = (async () => {
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) void next.value;
      return new Error("the answer ended without an error");
    })().catch((error: unknown) => error as Error);
    expect((await request.post(`${studio.base}/api/trpc/users.revoke`, { headers: { ...auth, "content-type": "application/json" }, data: { name: "rex" } })).status()).toBe(200);
    expect((await rest).message).toMatch(/user "rex" was revoked/);
    // The whole answer is refused as the revoked credentials are (401), and its run, which had not started, is cancelled.
    expect(await whole).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(await whole).toMatchObject({ status: 401, message: expect.stringContaining('user "rex" was revoked') });
    await expect.poll(async () => (await runs()).find((run) => run.id === waitingId)?.done).toBe(true);
    await expect.poll(async () => (await session(request, runId, studio.base, auth)).status, { timeout: 30_000 }).toBe("cancelled");
    const cancelled = await session(request, runId, studio.base, auth);
    expect(cancelled.user).toBe("rex");
    expect(cancelled.stages.s9?.status).not.toBe("completed");
    // The places are given back as the streams end: the admin's answer is let in.
    for (const follower of followers) follower.abort();
    const admitted = async () => {
      try {
        for await (const chunk of await clientWith(adminToken).chat.completions.create({ model: "storyteller", messages: prompt, max_tokens: 8, stream: true })) void chunk;
        return "let in";
      } catch (error) {
        return (error as { status?: number }).status;
      }
    };
    await expect.poll(admitted, { timeout: 10_000 }).toBe("let in");
  });
});
