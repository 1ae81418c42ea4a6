/**
 * A fake OpenAI-compatible server on loopback, for tests of remote models: a real HTTP server that speaks
 * the wire format of `POST /v1/chat/completions` (server-sent events of `chat.completion.chunk`, then
 * `[DONE]`), streams the text it is told to, and fails on demand in each way a real fleet does. It is a
 * fake because no real vLLM or llama-server runs here; it records what it was sent, and whether the client
 * closed a connection before the answer ended (a cancel).
 */
import http from "node:http";
import { listenOnLoopback } from "./loopback.js";

export type FakeOpenAiBehaviour =
  /** Streams `chunks` (one SSE event each), `delayMs` apart, then the finish reason, usage (when asked) and `[DONE]`. */
  | { kind: "stream"; chunks: string[]; delayMs?: number; finishReason?: "stop" | "length"; usage?: boolean }
  /** Answers `status` with an OpenAI-style JSON error body (and a Retry-After header when given). */
  | { kind: "status"; status: number; message?: string; retryAfter?: string }
  /** Streams `chunks`, then breaks the connection without a finish reason or `[DONE]`. */
  | { kind: "cut"; chunks: string[] }
  /** Streams `chunks`, then an error event in the stream (as vLLM does when its engine fails). */
  | { kind: "stream-error"; chunks: string[]; message: string }
  /** Sends the stream's headers and `chunks`, then nothing: keeps the connection open until the client closes it. */
  | { kind: "hang"; chunks?: string[] }
  /** Accepts the connection and never answers (no headers). */
  | { kind: "silent" }
  /** 200 with an HTML page, as a wrong address (a web UI, a proxy's page) answers. */
  | { kind: "not-json" }
  /** One whole `chat.completion` JSON, as a server that ignores `stream: true` answers. */
  | { kind: "whole"; text: string }
  /** `bytes` after `data: ` and no line end, then nothing: a broken server or proxy that never ends an event. */
  | { kind: "flood"; bytes: number };

export interface FakeOpenAiRequest {
  path: string;
  authorization?: string;
  /** The `x-project-llm-cache` header (see `freshHeader`), when sent. */
  cacheHeader?: string;
  body: {
    model?: string;
    messages?: Array<{ role: string; content: string }>;
    stream?: boolean;
    max_tokens?: number;
    temperature?: number;
    top_p?: number;
    seed?: number;
    stop?: string[];
    ignore_eos?: boolean;
    stream_options?: { include_usage?: boolean };
  };
}

export interface FakeOpenAiServer {
  /** `http://127.0.0.1:PORT/v1`: what a model's `base_url` names. */
  baseUrl: string;
  /** How the next requests are answered: one behaviour per request in turn, the last one for every later request. */
  behave(...behaviours: FakeOpenAiBehaviour[]): void;
  /** Every request to /v1/chat/completions, in order. */
  requests: FakeOpenAiRequest[];
  /** Requests whose connection the client closed before the answer ended. */
  readonly closedEarly: number;
  /** Resolves when a request's connection is closed by the client before the answer ended (a cancel seen). */
  nextEarlyClose(): Promise<void>;
  close(): Promise<void>;
}

/** The model name the fake serves; any other gets 404 as vLLM answers it. */
export const fakeRemoteModel = "fake-remote-model";

function chunkEvent(content: string | null, finishReason: string | null, extra: Record<string, unknown> = {}): string {
  const chunk = {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: fakeRemoteModel,
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finishReason }],
    ...extra,
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** Starts the fake on a free loopback port; `key`, when given, is the only bearer token it accepts (401 otherwise). */
export async function startFakeOpenAiServer(options: { key?: string; behaviour?: FakeOpenAiBehaviour } = {}): Promise<FakeOpenAiServer> {
  let queue: FakeOpenAiBehaviour[] = [options.behaviour ?? { kind: "stream", chunks: ["Hello", " from", " the", " remote", "."] }];
  const requests: FakeOpenAiRequest[] = [];
  let closedEarly = 0;
  let waiters: Array<() => void> = [];
  const timers = new Set<NodeJS.Timeout>();

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const server = http.createServer(async (request, response) => {
    let ended = false;
    response.on("finish", () => (ended = true));
    response.on("close", () => {
      if (ended) return;
      closedEarly++;
      for (const waiter of waiters) waiter();
      waiters = [];
    });
    const parts: Buffer[] = [];
    for await (const part of request) parts.push(part as Buffer);
    const url = new URL(request.url ?? "/", "http://fake");
    if (request.method !== "POST" || url.pathname !== "/v1/chat/completions") {
      response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `no route ${request.method} ${url.pathname}` } }));
      return;
    }
    let body: FakeOpenAiRequest["body"];
    try {
      body = JSON.parse(Buffer.concat(parts).toString("utf8")) as FakeOpenAiRequest["body"];
    } catch {
      response.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "the body is not JSON" } }));
      return;
    }
    const cacheHeader = request.headers["x-project-llm-cache"];
    requests.push({ path: url.pathname, authorization: request.headers.authorization, ...(typeof cacheHeader === "string" ? { cacheHeader } : {}), body });
    const behaviour = queue.length > 1 ? queue.shift()! : queue[0]!;

    if (options.key !== undefined && request.headers.authorization !== `Bearer ${options.key}`) {
      // Real servers echo (part of) a wrong key: the client must not pass it on.
      response.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `Incorrect API key provided: ${request.headers.authorization ?? "none"}` } }));
      return;
    }
    if (body.model !== fakeRemoteModel) {
      response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `The model \`${body.model}\` does not exist.`, type: "NotFoundError" } }));
      return;
    }
    const streamHead = () => response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    switch (behaviour.kind) {
      case "status": {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (behaviour.retryAfter !== undefined) headers["retry-after"] = behaviour.retryAfter;
        response.writeHead(behaviour.status, headers).end(JSON.stringify({ error: { message: behaviour.message ?? `fake status ${behaviour.status}` } }));
        return;
      }
      case "not-json":
        response.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>Sign in</title><p>Welcome</p>");
        return;
      case "silent":
        return;
      case "whole":
        response.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            id: "chatcmpl-fake",
            object: "chat.completion",
            model: fakeRemoteModel,
            choices: [{ index: 0, message: { role: "assistant", content: behaviour.text }, finish_reason: "length" }],
            usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 },
          }),
        );
        return;
      case "hang":
        streamHead();
        for (const text of behaviour.chunks ?? []) response.write(chunkEvent(text, null));
        return;
      case "flood":
        streamHead();
        response.write("data: ");
        for (let sent = 0; sent < behaviour.bytes; sent += 64 * 1024) response.write("x".repeat(Math.min(64 * 1024, behaviour.bytes - sent)));
        return;
      case "cut":
        streamHead();
        for (const text of behaviour.chunks) response.write(chunkEvent(text, null));
        await wait(20);
        request.socket.destroy();
        return;
      case "stream-error":
        streamHead();
        for (const text of behaviour.chunks) response.write(chunkEvent(text, null));
        response.write(`data: ${JSON.stringify({ error: { message: behaviour.message, code: 500 } })}\n\n`);
        response.end();
        return;
      case "stream": {
        streamHead();
        for (const text of behaviour.chunks) {
          if (response.destroyed) return;
          response.write(chunkEvent(text, null));
          if (behaviour.delayMs) await wait(behaviour.delayMs);
        }
        if (response.destroyed) return;
        response.write(chunkEvent(null, behaviour.finishReason ?? "stop"));
        if (body.stream_options?.include_usage && behaviour.usage !== false) {
          const promptWords = (body.messages ?? []).map((message) => message.content).join(" ").split(/\s+/).filter(Boolean).length;
          response.write(`data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", model: fakeRemoteModel, choices: [], usage: { prompt_tokens: promptWords, completion_tokens: behaviour.chunks.length, total_tokens: promptWords + behaviour.chunks.length } })}\n\n`);
        }
        response.end("data: [DONE]\n\n");
        return;
      }
    }
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    behave(...behaviours) {
      if (behaviours.length === 0) throw new Error("behave needs at least one behaviour");
      queue = behaviours;
    },
    requests,
    get closedEarly() {
      return closedEarly;
    },
    nextEarlyClose: () => new Promise<void>((resolve) => waiters.push(resolve)),
    async close() {
      for (const timer of timers) clearTimeout(timer);
      await close();
    },
  };
}
