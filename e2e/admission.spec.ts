/**
 * Fair admission against a real server of its own (its own caps in models.yaml): the run queue's caps on
 * POST /api/runs and a tRPC batch (429 and 503, each with Retry-After), request bodies cut off at their
 * limit while they stream in, and the cap on event streams per client.
 */
import { expect, test, type APIRequestContext } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { spawnStudio, work, type StudioProcess } from "./studio-process";

const config = path.join(work, "admission-config");
const caps = (perUser: number) => `runtime:\n  gpu: false\n  runs_in_flight: 1\n  runs_waiting: 2\n  runs_per_user: ${perUser}\n  streams_per_client: 3\n`;
let studio: StudioProcess;
let modelsYaml: string;

async function setCaps(perUser: number): Promise<void> {
  await writeFile(path.join(config, "models.yaml"), modelsYaml.replace(/^runtime:\n(?: {2}.*\n)+/m, caps(perUser)));
}

test.beforeAll(async ({ request }) => {
  await mkdir(path.join(config, "pipelines"), { recursive: true });
  modelsYaml = await readFile("config/models.example.yaml", "utf8");
  await setCaps(3);
  await copyFile("config/pipeline.example.yaml", path.join(config, "pipeline.yaml"));
  // Ten stages of 1500 tokens: a run that keeps the one place busy until it is cancelled.
  await writeFile(
    path.join(config, "pipelines", "long.yaml"),
    `pipeline:\n  stages:\n${Array.from({ length: 10 }, (_, index) => `    - id: s${index}\n      type: single\n      model: storyteller\n      params: { max_tokens: 1500 }\n`).join("")}`,
  );
  studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 2, sessions: "sessions-admission", env: { PROJECT_LLM_CONFIG_DIR: config } });
  await expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 120_000 }).toBe(200);
});

test.afterAll(async () => {
  studio?.server.kill("SIGTERM");
  await studio?.exited;
});

/** Cancels every run of the studio and waits until none goes. */
async function cancelAll(request: APIRequestContext): Promise<void> {
  const list = async () => ((await (await request.get(`${studio.base}/api/trpc/runs.list`)).json()) as { result: { data: Array<{ id: string; done: boolean }> } }).result.data;
  for (const run of await list()) if (!run.done) await request.post(`${studio.base}/api/trpc/runs.cancel`, { data: { id: run.id } });
  await expect.poll(async () => (await list()).filter((run) => !run.done).length, { timeout: 30_000 }).toBe(0);
}

/** The resident memory of the Next.js server under `scripts/start.mjs`, in bytes. */
function serverRss(): number {
  const child = execFileSync("pgrep", ["-P", String(studio.server.pid)], { encoding: "utf8" }).trim().split("\n")[0]!;
  const status = execFileSync("cat", [`/proc/${child}/status`], { encoding: "utf8" });
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** GETs an event stream over node:http (which can choose the local address); `close` ends it. */
function followFrom(url: string, options: { headers?: Record<string, string>; localAddress?: string }): Promise<{ status: number; close(): void }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: options.headers, localAddress: options.localAddress }, (response) => {
      resolve({ status: response.statusCode ?? 0, close: () => request.destroy() });
      if (response.statusCode !== 200) response.resume();
    });
    request.on("error", reject);
  });
}

/**
 * POSTs a body of `total` bytes in 64 KiB chunks, without Content-Length (chunked), and stops sending
 * when the server answers or drops the connection. Nothing of the body is held whole here either.
 */
function streamBody(url: string, total: number): Promise<{ status: number; body: string; sent: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve) => {
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    let ended = false;
    const finish = (result: { status: number; body: string; headers: http.IncomingHttpHeaders }) => {
      if (ended) return;
      ended = true;
      resolve({ ...result, sent });
    };
    const request = http.request(url, { method: "POST", headers: { "content-type": "application/json" } });
    request.on("response", (response) => {
      let body = "";
      response.on("data", (data: Buffer) => (body += data.toString()));
      response.on("end", () => finish({ status: response.statusCode ?? 0, body, headers: response.headers }));
      response.on("error", () => finish({ status: response.statusCode ?? 0, body, headers: response.headers }));
    });
    request.on("error", () => finish({ status: 0, body: "", headers: {} }));
    request.write('{"pipeline":"base","input":"');
    const pump = () => {
      while (!ended && sent < total) {
        sent += chunk.length;
        if (!request.write(chunk)) {
          request.once("drain", pump);
          return;
        }
      }
      if (!ended) request.end('"}');
    };
    pump();
  });
}

test("the queue's caps: a tRPC batch gets in only as far as the caps allow, and each refusal says when to try again", async ({ request }) => {
  // Twelve starts in one batch: one place and two waiting for "local", who may have three.
  const batch = Object.fromEntries(Array.from({ length: 12 }, (_, index) => [String(index), { pipeline: "long", input: `Batch ${index}` }]));
  const response = await request.post(`${studio.base}/api/trpc/${Array(12).fill("runs.start").join(",")}?batch=1`, { data: batch });
  const results = (await response.json()) as Array<{ result?: { data: { id: string } }; error?: { data: { code: string; appCode: string; httpStatus: number } } }>;
  expect(results.filter((result) => result.result)).toHaveLength(3);
  const refused = results.filter((result) => result.error);
  expect(refused).toHaveLength(9);
  for (const result of refused) expect(result.error!.data).toMatchObject({ code: "TOO_MANY_REQUESTS", appCode: "busy", httpStatus: 429 });
  expect(Number(response.headers()["retry-after"])).toBeGreaterThanOrEqual(1);

  // One more start over plain HTTP: 429 with Retry-After and a message.
  const busy = await request.post(`${studio.base}/api/runs`, { data: { pipeline: "base", input: "One more" } });
  expect(busy.status()).toBe(429);
  expect(Number(busy.headers()["retry-after"])).toBeGreaterThanOrEqual(1);
  expect(await busy.json()).toMatchObject({ error: { code: "busy", message: expect.stringMatching(/local has 3 runs going or waiting/) } });
  await cancelAll(request);

  // With room per user, the box's own cap: 503 past the one going and the two waiting.
  await setCaps(10);
  const statuses: number[] = [];
  let unavailable: { headers: Record<string, string>; body: unknown } | undefined;
  for (let index = 0; index < 5; index++) {
    const started = await request.post(`${studio.base}/api/runs`, { data: { pipeline: "long", input: `Plain ${index}` } });
    statuses.push(started.status());
    if (started.status() === 503) unavailable = { headers: started.headers(), body: await started.json() };
  }
  expect(statuses).toEqual([202, 202, 202, 503, 503]);
  expect(Number(unavailable!.headers["retry-after"])).toBeGreaterThanOrEqual(1);
  expect(unavailable!.body).toMatchObject({ error: { code: "unavailable", message: expect.stringMatching(/2 runs waiting/), params: { reason: "queue-full", waiting: 2 } } });
  await cancelAll(request);
  await setCaps(3);
});

test("bodies past their limit are refused while they stream in, without buffering them", async ({ request }) => {
  // A 400 MB body sent in chunks without a length: cut off near its 1 MiB limit.
  const before = serverRss();
  // The server answers 413 and closes while the client still sends; the client's kernel may then take a
  // reset for the close and drop the answer unread (status 0, as curl would see it). Sent again then.
  let huge = await streamBody(`${studio.base}/api/runs`, 400 * 1024 * 1024);
  for (let attempt = 1; huge.status === 0 && attempt < 4; attempt++) {
    expect(huge.sent).toBeLessThan(64 * 1024 * 1024);
    huge = await streamBody(`${studio.base}/api/runs`, 400 * 1024 * 1024);
  }
  expect(huge.status).toBe(413);
  expect(JSON.parse(huge.body)).toMatchObject({ error: { code: "body-too-large", message: expect.stringContaining("1 MiB") } });
  expect(huge.headers.connection).toBe("close");
  expect(huge.sent).toBeLessThan(64 * 1024 * 1024);
  expect(serverRss() - before).toBeLessThan(100 * 1024 * 1024);

  // A body the server refuses may still be on its way when it closes: the client may then fail to write
  // it (EPIPE, a reset) before it reads the answer, as above. Sent again then.
  const refusable = async (url: string, options: Parameters<typeof request.post>[1]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request.post(url, options);
      } catch (error) {
        if (attempt >= 4 || !/EPIPE|ECONNRESET/.test(String(error))) throw error;
      }
    }
  };
  // A declared length past the limit: refused before a byte of the body is read.
  const declared = await refusable(`${studio.base}/api/runs`, { data: JSON.stringify({ pipeline: "base", input: "x".repeat(1024 * 1024) }), headers: { "content-type": "application/json" } });
  expect(declared.status()).toBe(413);

  // tRPC: a run's start has 1 MiB, a pipeline save 2 MiB.
  const bigStart = await refusable(`${studio.base}/api/trpc/runs.start`, { data: { pipeline: "base", input: "x".repeat(1_500_000) } });
  expect(bigStart.status()).toBe(413);
  expect(await bigStart.json()).toMatchObject({ error: { data: { appCode: "body-too-large", params: { limit: "1 MiB" } } } });
  // A pipeline file has at most 1 MiB: the bodies are padded with JSON's white space to their size.
  const pipeline = (size: number) => {
    const body = JSON.stringify({ name: "big", baseVersion: null, pipeline: { stages: [{ id: "a", type: "single", model: "storyteller" }] } });
    return { data: `${body.slice(0, -1)}${" ".repeat(size - body.length)}}`, headers: { "content-type": "application/json" } };
  };
  const saved = await request.post(`${studio.base}/api/trpc/pipelines.save`, pipeline(1_500_000));
  expect(saved.status()).toBe(200);
  const tooBig = await refusable(`${studio.base}/api/trpc/pipelines.save`, pipeline(2_500_000));
  expect(tooBig.status()).toBe(413);
  expect(await tooBig.json()).toMatchObject({ error: { message: expect.stringContaining("2 MiB"), data: { code: "PAYLOAD_TOO_LARGE", appCode: "body-too-large" } } });
  // A streamed tRPC body is cut off too.
  let streamedTrpc = await streamBody(`${studio.base}/api/trpc/pipelines.save`, 400 * 1024 * 1024);
  for (let attempt = 1; streamedTrpc.status === 0 && attempt < 4; attempt++) {
    expect(streamedTrpc.sent).toBeLessThan(64 * 1024 * 1024);
    streamedTrpc = await streamBody(`${studio.base}/api/trpc/pipelines.save`, 400 * 1024 * 1024);
  }
  expect(streamedTrpc.status).toBe(413);
  expect(streamedTrpc.sent).toBeLessThan(64 * 1024 * 1024);
  expect(serverRss() - before).toBeLessThan(100 * 1024 * 1024);
});

test("a client holds at most its cap of event streams, over both routes, and gets its place back when one closes", async ({ request }) => {
  const { id } = (await (await request.post(`${studio.base}/api/runs`, { data: { pipeline: "long", input: "Followed" } })).json()) as { id: string };
  const open: AbortController[] = [];
  const follow = async (url: string) => {
    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal });
    if (response.ok) open.push(controller);
    else await response.text();
    return response;
  };
  const plain = `${studio.base}/api/runs/${id}/events`;
  const subscription = `${studio.base}/api/trpc/runs.events?input=${encodeURIComponent(JSON.stringify({ id }))}`;
  expect((await follow(plain)).status).toBe(200);
  expect((await follow(subscription)).status).toBe(200);
  expect((await follow(plain)).status).toBe(200);
  const refused = await follow(plain);
  expect(refused.status).toBe(429);
  expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect((await follow(subscription)).status).toBe(429);
  // The address is the connection's: a header naming another is no way out, another address is counted alone.
  expect((await followFrom(plain, { headers: { "x-project-llm-peer": "10.9.8.7", "x-forwarded-for": "10.9.8.7" } })).status).toBe(429);
  const other = await followFrom(plain, { localAddress: "127.0.0.2" });
  expect(other.status).toBe(200);
  other.close();
  // One closes: its place is free again.
  open.shift()!.abort();
  await expect.poll(async () => (await follow(subscription)).status, { timeout: 10_000 }).toBe(200);
  for (const controller of open) controller.abort();
  await cancelAll(request);
});
