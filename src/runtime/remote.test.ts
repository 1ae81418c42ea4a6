import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerateRequest, InferencePort, RemoteModel, ResolvedModel } from "../engine/ports.js";
import { fakeRemoteModel, startFakeOpenAiServer, type FakeOpenAiServer } from "../testing/fake-openai-server.js";
import { projectError } from "../testing/loopback.js";
import { remoteBackendConformance } from "./remote.conformance.js";
import { parseRetryAfter, RemotePort, routeInference } from "./remote.js";

const modelOn = (baseUrl: string, remote: Partial<RemoteModel> = {}): ResolvedModel => ({
  name: "writer",
  path: "",
  load: { context_size: 2048, gpu_layers: 0, threads: "auto" },
  remote: { baseUrl, model: fakeRemoteModel, ...remote },
});

const request = (model: ResolvedModel, params: Partial<GenerateRequest["params"]> = {}): GenerateRequest => ({
  model,
  system: "Be brief.",
  prompt: "Say hello",
  params: { max_tokens: 32, temperature: 0.2, top_p: 0.9, seed: 42, stop: ["\n\n"], ...params },
});

remoteBackendConformance("the fake OpenAI-compatible server", async () => {
  const server = await startFakeOpenAiServer({ behaviour: { kind: "stream", chunks: ["Once", " there", " was", " a", " fox", "."], delayMs: 30 } });
  return { model: modelOn(server.baseUrl), nextEarlyClose: server.nextEarlyClose, cleanup: () => server.close() };
});

// A real server, when one is named: PROJECT_LLM_REMOTE_TEST_BASE_URL (up to /v1), PROJECT_LLM_REMOTE_TEST_MODEL
// and, if it wants a key, PROJECT_LLM_REMOTE_TEST_KEY_ENV (the variable's name). It cannot say whether it saw a cancel.
const realBaseUrl = process.env.PROJECT_LLM_REMOTE_TEST_BASE_URL;
if (realBaseUrl) {
  remoteBackendConformance(`the server at ${realBaseUrl}`, async () => ({
    model: modelOn(realBaseUrl, { model: process.env.PROJECT_LLM_REMOTE_TEST_MODEL ?? fakeRemoteModel, apiKeyEnv: process.env.PROJECT_LLM_REMOTE_TEST_KEY_ENV || undefined }),
    cleanup: async () => undefined,
  }));
}

describe("RemotePort against a fake OpenAI-compatible server", () => {
  let server: FakeOpenAiServer;
  const fast = new RemotePort({ backoffMs: () => 10 });
  beforeAll(async () => {
    server = await startFakeOpenAiServer();
  });
  afterAll(() => server.close());

  it("sends the call in the OpenAI wire format and returns the streamed text with the server's usage", async () => {
    server.behave({ kind: "stream", chunks: ["Hel", "lo", " there"] });
    const before = server.requests.length;
    const parts: string[] = [];
    const result = await fast.generate(request(modelOn(server.baseUrl)), { onText: (text) => parts.push(text) });
    expect(parts).toEqual(["Hel", "lo", " there"]);
    expect(result).toMatchObject({ text: "Hello there", stopReason: "eos", chat: true, tokensOut: 3, tokensIn: 4 });
    const sent = server.requests[before]!;
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.authorization).toBeUndefined();
    expect(sent.body).toEqual({
      model: fakeRemoteModel,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say hello" },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 32,
      temperature: 0.2,
      top_p: 0.9,
      seed: 42,
      stop: ["\n\n"],
    });
  });

  it("sends a conversation's earlier turns as messages between the system prompt and the prompt", async () => {
    server.behave({ kind: "stream", chunks: ["a"] });
    const history = [
      { role: "user" as const, content: "Hi" },
      { role: "assistant" as const, content: "Hello." },
    ];
    await fast.generate({ ...request(modelOn(server.baseUrl)), history });
    expect(server.requests.at(-1)!.body.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Say hello" },
    ]);
  });

  it("sends ignore_eos (vLLM's and llama-server's extension) only when it is on", async () => {
    server.behave({ kind: "stream", chunks: ["a"] });
    await fast.generate(request(modelOn(server.baseUrl), { ignore_eos: true }));
    expect(server.requests.at(-1)!.body.ignore_eos).toBe(true);
    await fast.generate(request(modelOn(server.baseUrl), { ignore_eos: false }));
    expect(server.requests.at(-1)!.body).not.toHaveProperty("ignore_eos");
  });

  it("asks a server not to answer from a cache of its own, by a header, only for a run whose stage cache is off", async () => {
    server.behave({ kind: "stream", chunks: ["a"] });
    await fast.generate({ ...request(modelOn(server.baseUrl)), fresh: true });
    expect(server.requests.at(-1)!.cacheHeader).toBe("off");
    // Never in the body: OpenAI's own API refuses a field it does not know.
    expect(server.requests.at(-1)!.body).not.toHaveProperty("cache");
    await fast.generate(request(modelOn(server.baseUrl)));
    expect(server.requests.at(-1)!.cacheHeader).toBeUndefined();
  });

  it("counts the stream's chunks when the server sends no usage, and says a length stop", async () => {
    server.behave({ kind: "stream", chunks: ["a", "b", "c", "d"], usage: false, finishReason: "length" });
    const result = await fast.generate(request(modelOn(server.baseUrl)));
    expect(result).toMatchObject({ text: "abcd", tokensOut: 4, tokensIn: 0, stopReason: "max-tokens" });
  });

  it("sends the key from the environment variable the model names, and says that variable (never the key) when refused", async () => {
    const keyed = await startFakeOpenAiServer({ key: "sk-right-key" });
    try {
      const good = new RemotePort({ env: { FLEET_KEY: "sk-right-key" } });
      expect((await good.generate(request(modelOn(keyed.baseUrl, { apiKeyEnv: "FLEET_KEY" })))).text).toBe("Hello from the remote.");
      expect(keyed.requests.at(-1)!.authorization).toBe("Bearer sk-right-key");

      const wrong = new RemotePort({ env: { FLEET_KEY: "sk-wrong-secret-123" } });
      const error = await projectError(wrong.generate(request(modelOn(keyed.baseUrl, { apiKeyEnv: "FLEET_KEY" }))));
      expect(error.code).toBe("remote-failed");
      expect(error.details?.params).toMatchObject({ reason: "unauthorized", status: 401, keyEnv: "FLEET_KEY", model: "writer" });
      expect(error.message).toContain("FLEET_KEY");
      expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain("sk-wrong-secret-123");
      expect(keyed.requests).toHaveLength(2);

      const unset = await projectError(new RemotePort({ env: {} }).generate(request(modelOn(keyed.baseUrl, { apiKeyEnv: "FLEET_KEY" }))));
      expect(unset.details?.params).toMatchObject({ reason: "no-key", keyEnv: "FLEET_KEY" });
      expect(keyed.requests).toHaveLength(2);
    } finally {
      await keyed.close();
    }
  });

  it("says a model the server does not have (404) with the model's name", async () => {
    const error = await projectError(fast.generate(request(modelOn(server.baseUrl, { model: "no-such-model" }))));
    expect(error.details?.params).toMatchObject({ reason: "not-found", status: 404, remoteModel: "no-such-model" });
    expect(error.message).toContain("no-such-model");
  });

  it("retries 429 after its Retry-After, then streams", async () => {
    server.behave({ kind: "status", status: 429, retryAfter: "1" }, { kind: "stream", chunks: ["late", " but", " here"] });
    const before = server.requests.length;
    const started = Date.now();
    const result = await fast.generate(request(modelOn(server.baseUrl)));
    expect(result.text).toBe("late but here");
    expect(server.requests.length - before).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("fails at once on a 429 whose Retry-After is past the cap, saying when to try again", async () => {
    server.behave({ kind: "status", status: 429, retryAfter: "120" });
    const before = server.requests.length;
    const error = await projectError(fast.generate(request(modelOn(server.baseUrl))));
    expect(error.details?.params).toMatchObject({ reason: "rate-limited", status: 429, retryAfter: 120 });
    expect(server.requests.length - before).toBe(1);
  });

  it("retries 502, 503 and 504 before any text, then streams", async () => {
    server.behave({ kind: "status", status: 502 }, { kind: "status", status: 503 }, { kind: "status", status: 504 }, { kind: "stream", chunks: ["ok"] });
    const before = server.requests.length;
    expect((await fast.generate(request(modelOn(server.baseUrl)))).text).toBe("ok");
    expect(server.requests.length - before).toBe(4);
  });

  it("gives up after max_retries, and never retries a 500", async () => {
    server.behave({ kind: "status", status: 503, message: "overloaded" });
    let before = server.requests.length;
    const busy = await projectError(fast.generate(request(modelOn(server.baseUrl, { maxRetries: 2 }))));
    expect(busy.details?.params).toMatchObject({ reason: "server-error", status: 503, detail: "overloaded" });
    expect(server.requests.length - before).toBe(3);

    server.behave({ kind: "status", status: 500, message: "CUDA error: out of memory" });
    before = server.requests.length;
    const broken = await projectError(fast.generate(request(modelOn(server.baseUrl))));
    expect(broken.details?.params).toMatchObject({ reason: "server-error", status: 500, detail: "CUDA error: out of memory" });
    expect(server.requests.length - before).toBe(1);
  });

  it("fails a stream cut mid-way, without a retry once text has come", async () => {
    server.behave({ kind: "cut", chunks: ["half", " an"] }, { kind: "stream", chunks: ["never", " sent"] });
    const before = server.requests.length;
    const parts: string[] = [];
    const error = await projectError(fast.generate(request(modelOn(server.baseUrl)), { onText: (text) => parts.push(text) }));
    expect(error.code).toBe("remote-failed");
    expect(error.details?.params).toMatchObject({ reason: "stream-cut", characters: 7 });
    expect(parts.join("")).toBe("half an");
    expect(server.requests.length - before).toBe(1);
  });

  it("fails on an error event in the stream", async () => {
    server.behave({ kind: "stream-error", chunks: ["begun"], message: "engine dead" });
    const error = await projectError(fast.generate(request(modelOn(server.baseUrl))));
    expect(error.details?.params).toMatchObject({ reason: "stream-error", detail: "engine dead" });
  });

  it("cuts off a stream event that never ends, instead of buffering it without bound", async () => {
    server.behave({ kind: "flood", bytes: 3 * 1024 * 1024 });
    const error = await projectError(fast.generate(request(modelOn(server.baseUrl))));
    expect(error.code).toBe("remote-failed");
    expect(error.details?.params).toMatchObject({ reason: "stream-error", detail: "sent over 1 MiB without a line end" });
  });

  it("takes a whole JSON completion from a server that does not stream", async () => {
    server.behave({ kind: "whole", text: "All at once." });
    const parts: string[] = [];
    const result = await fast.generate(request(modelOn(server.baseUrl)), { onText: (text) => parts.push(text) });
    expect(parts).toEqual(["All at once."]);
    expect(result).toMatchObject({ text: "All at once.", tokensIn: 5, tokensOut: 9, stopReason: "max-tokens" });
  });

  it("says an answer that is not JSON (a wrong address)", async () => {
    server.behave({ kind: "not-json" });
    const error = await projectError(fast.generate(request(modelOn(server.baseUrl))));
    expect(error.details?.params).toMatchObject({ reason: "not-json" });
    expect(error.message).toContain("/v1");
  });

  it("says an unreachable host, after retrying the refused connection", async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    let attempts = 0;
    const counting = new RemotePort({
      backoffMs: () => {
        attempts++;
        return 10;
      },
    });
    const error = await projectError(counting.generate(request(modelOn(`http://127.0.0.1:${port}/v1`, { maxRetries: 2 }))));
    expect(error.details?.params).toMatchObject({ reason: "unreachable", detail: "ECONNREFUSED", host: `127.0.0.1:${port}` });
    expect(attempts).toBe(2);
  });

  it("times out a server that goes silent mid-stream, and closes the connection", async () => {
    server.behave({ kind: "hang", chunks: ["and then"] });
    const closed = server.nextEarlyClose();
    const error = await projectError(fast.generate(request(modelOn(server.baseUrl, { timeoutMs: 300 }))));
    expect(error.details?.params).toMatchObject({ reason: "timeout", seconds: 0.3 });
    await closed;
  });

  it("times out a server that never answers (connect_timeout)", async () => {
    server.behave({ kind: "silent" });
    const closed = server.nextEarlyClose();
    const error = await projectError(fast.generate(request(modelOn(server.baseUrl, { connectTimeoutMs: 300, maxRetries: 0 }))));
    expect(error.details?.params).toMatchObject({ reason: "connect-timeout", seconds: 0.3 });
    await closed;
  });

  it("cancels while it waits to retry", async () => {
    server.behave({ kind: "status", status: 503 });
    const controller = new AbortController();
    const slow = new RemotePort({ backoffMs: () => 60_000 });
    const call = slow.generate(request(modelOn(server.baseUrl)), { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    expect((await projectError(call)).code).toBe("cancelled");
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates, and nothing else", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("routeInference", () => {
  it("sends a remote model's call to the remote port and any other to the local one, which it creates only then", async () => {
    const calls: string[] = [];
    const port = (name: string): InferencePort => ({
      generate: async (generateRequest) => {
        calls.push(`${name}:${generateRequest.model.name}`);
        return { text: name, stopReason: "eos", chat: false, tokensIn: 0, tokensOut: 0, timeToFirstTokenMs: 0, tokensPerSecond: 0, durationMs: 0, load: { loaded: false, loadMs: 0, gpuLayers: 0, threads: 1 } };
      },
    });
    let localsMade = 0;
    const router = routeInference({ local: async () => (localsMade++, port("local")), remote: port("remote") });
    await router.generate(request(modelOn("http://127.0.0.1:9/v1")));
    expect(localsMade).toBe(0);
    await router.generate({ ...request(modelOn("")), model: { name: "tiny", path: "/m/tiny.gguf", load: { context_size: 256, gpu_layers: 0, threads: 1 } } });
    expect(calls).toEqual(["remote:writer", "local:tiny"]);
    expect(localsMade).toBe(1);
  });
});
