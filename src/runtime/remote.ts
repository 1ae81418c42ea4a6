/**
 * Inference on an OpenAI-compatible server (vLLM, llama-server, another studio): one streamed
 * `POST {base_url}/chat/completions` per call, read as server-sent events. It streams, cancels (the call's
 * signal aborts the request, so the server sees its connection close), times out, and retries what is safe
 * to retry: a refused connection, 429 (after its Retry-After, up to a cap), 502, 503 and 504, and only
 * before any text arrived. Every failure is a `remote-failed` error (or `cancelled`) that fails the stage.
 */
import { ProjectLlmError } from "../common/index.js";
import type { GenerateOptions, GenerateRequest, GenerateResult, InferencePort, RemoteModel } from "../engine/ports.js";

/**
 * Sent, as `off`, with the call of a run whose stage cache is off: a studio serving the call (its /v1 API)
 * then computes it rather than answering from its own stage cache. A header, not a body field: servers
 * that do not know it ignore it, where OpenAI's own API refuses a body field it does not know.
 */
export const freshHeader = "x-project-llm-cache";

/** What a remote call waits for when models.yaml does not say (see `remoteModelEntrySchema`). */
export const remoteDefaults = { timeoutMs: 300_000, connectTimeoutMs: 10_000, maxRetries: 3 } as const;

/** The longest Retry-After the port waits for; a server asking for more fails the call at once, saying when. */
export const maxRetryAfterMs = 30_000;

/** Why a remote call failed, as `remote-failed` errors carry it in `details.params.reason`. */
export type RemoteFailure =
  | "no-key"
  | "unauthorized"
  | "not-found"
  | "rate-limited"
  | "server-error"
  | "stream-error"
  | "bad-request"
  | "unreachable"
  | "connect-timeout"
  | "timeout"
  | "stream-cut"
  | "not-json";

export interface RemotePortOptions {
  /** Where API keys are read, by the names in `api_key_env` (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Waits between attempts, in ms, for the n-th retry (0-based) when the server sent no Retry-After. */
  backoffMs?: (retry: number) => number;
}

/** A retry's wait without Retry-After: 0.5 s, 1 s, 2 s, ... up to 8 s. */
const defaultBackoff = (retry: number) => Math.min(8_000, 500 * 2 ** retry);

/** What the body of an error answer is read up to: enough for a server's message, never a flood. */
const errorBodyLimit = 64 * 1024;
/** What a whole (not streamed) completion is read up to, and a streamed one's text. */
const completionBodyLimit = 16 * 1024 * 1024;
/** The longest stream event (its lines, its data) taken: a server or proxy that never ends one is cut off. */
const sseEventLimit = 1024 * 1024;

/** A stream event past `sseEventLimit`: what the server sent is not an answer the studio can hold. */
class SseLimitError extends Error {}

interface Failure {
  reason: RemoteFailure;
  message: string;
  status?: number;
  retryable?: boolean;
  retryAfterMs?: number;
  extra?: Record<string, string | number>;
}

class AttemptError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

/** The seconds or HTTP date of a Retry-After header, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The server's own words from an error body (`{"error":{"message":...}}`, `{"message":...}` or text), cut short. */
function serverDetail(body: string, key: string | undefined): string {
  let detail = body.trim();
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const found = typeof parsed.error === "string" ? parsed.error : (parsed.error?.message ?? parsed.message ?? parsed.detail);
    if (typeof found === "string") detail = found;
  } catch {
    // Not JSON: the text itself says it.
  }
  // A server may echo what it was sent: the key never goes further than the request.
  if (key) detail = detail.split(key).join("***");
  return detail.length > 300 ? `${detail.slice(0, 300)}…` : detail;
}

/** A body as text, up to `limit` characters; `onChunk` is told of each part that arrives (the silence timer). */
async function readLimited(response: Response, limit = errorBodyLimit, onChunk?: () => void): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk?.();
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

/**
 * Server-sent events from a byte stream: the small part of the SSE format the OpenAI wire format uses
 * (`data:` lines, a blank line ends an event, `:` comments). Written here rather than taken from a package:
 * it is some thirty lines, and it must stop at once when the call is aborted, which a reader we own does.
 */
async function* sseEvents(body: ReadableStream<Uint8Array>, onChunk: () => void): AsyncGenerator<{ event?: string; data: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  let event: string | undefined;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk();
      buffer += decoder.decode(value, { stream: true });
      if (buffer.length > sseEventLimit) {
        // No line end in over 1 MiB (lines are consumed below as they end): never buffer without bound.
        if (!/\r|\n/.test(buffer)) throw new SseLimitError(`sent over ${sseEventLimit / 1024 / 1024} MiB without a line end`);
      }
      let newline: RegExpExecArray | null;
      while ((newline = /\r\n|\r|\n/.exec(buffer)) !== null) {
        // A lone "\r" at the end may be the first half of "\r\n": wait for the next bytes.
        if (newline[0] === "\r" && newline.index === buffer.length - 1) break;
        const line = buffer.slice(0, newline.index);
        buffer = buffer.slice(newline.index + newline[0].length);
        if (line === "") {
          if (data.length > 0) yield { event, data: data.join("\n") };
          data = [];
          event = undefined;
        } else if (line.startsWith(":")) continue;
        else {
          const colon = line.indexOf(":");
          const field = colon === -1 ? line : line.slice(0, colon);
          const fieldValue = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") {
            data.push(fieldValue);
            if (data.reduce((sum, part) => sum + part.length, 0) > sseEventLimit) throw new SseLimitError(`sent an event of over ${sseEventLimit / 1024 / 1024} MiB`);
          }
          else if (field === "event") event = fieldValue;
        }
      }
    }
    // A last event without its blank line still counts (some servers end so).
    if (data.length > 0) yield { event, data: data.join("\n") };
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

interface ChatChunk {
  choices?: Array<{ delta?: { content?: string | null }; message?: { content?: string | null }; finish_reason?: string | null; stop_reason?: unknown }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string } | string;
}

function stopReasonOf(finish: string | null | undefined, stopReason: unknown): GenerateResult["stopReason"] {
  if (finish === "length") return "max-tokens";
  // vLLM names the stop string that matched; OpenAI's "stop" covers both an end token and a stop string.
  if (finish === "stop") return typeof stopReason === "string" ? "stop-string" : "eos";
  return "other";
}

/** A port that sends each call to the OpenAI-compatible server its model names (`request.model.remote`). */
export class RemotePort implements InferencePort {
  readonly #env: Record<string, string | undefined>;
  readonly #backoff: (retry: number) => number;

  constructor(options: RemotePortOptions = {}) {
    this.#env = options.env ?? process.env;
    this.#backoff = options.backoffMs ?? defaultBackoff;
  }

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    const remote = request.model.remote;
    if (!remote) throw new ProjectLlmError("usage", `${request.model.name} is not a remote model`);
    const { signal } = options;
    const host = hostOf(remote.baseUrl);
    const model = request.model.name;
    const cancelled = () => new ProjectLlmError("cancelled", `the generation on ${model} was cancelled`, { details: { params: { model } } });
    const fail = (failure: Failure) =>
      new ProjectLlmError("remote-failed", `${model}: ${failure.message}`, {
        // `model` set: the engine then adds no second prefix of the model's name.
        details: { model, params: { model, host, reason: failure.reason, ...(failure.status !== undefined ? { status: failure.status } : {}), ...failure.extra } },
      });
    let key: string | undefined;
    if (remote.apiKeyEnv) {
      key = this.#env[remote.apiKeyEnv];
      if (!key) throw fail({ reason: "no-key", message: `the environment variable ${remote.apiKeyEnv} (api_key_env) is not set: set it to the server's API key`, extra: { keyEnv: remote.apiKeyEnv } });
    }
    const started = performance.now();
    const maxRetries = remote.maxRetries ?? remoteDefaults.maxRetries;
    for (let retry = 0; ; retry++) {
      if (signal?.aborted) throw cancelled();
      const state = { textArrived: false };
      try {
        return await this.#attempt(request, remote, key, options, started, state);
      } catch (error) {
        if (signal?.aborted) throw cancelled();
        if (!(error instanceof AttemptError)) throw error;
        const failure = error.failure;
        if (!failure.retryable || state.textArrived || retry >= maxRetries || (failure.retryAfterMs ?? 0) > maxRetryAfterMs) {
          if (failure.reason === "rate-limited") failure.extra = { ...failure.extra, retryAfter: failure.retryAfterMs === undefined ? 0 : Math.ceil(failure.retryAfterMs / 1000) };
          if (failure.retryable && retry > 0) failure.message += ` (after ${retry + 1} attempts)`;
          throw fail(failure);
        }
        await sleep(failure.retryAfterMs ?? this.#backoff(retry), signal);
      }
    }
  }

  async #attempt(
    request: GenerateRequest,
    remote: RemoteModel,
    key: string | undefined,
    options: GenerateOptions,
    started: number,
    state: { textArrived: boolean },
  ): Promise<GenerateResult> {
    const { params } = request;
    const host = hostOf(remote.baseUrl);
    const timeoutMs = remote.timeoutMs ?? remoteDefaults.timeoutMs;
    const connectTimeoutMs = remote.connectTimeoutMs ?? remoteDefaults.connectTimeoutMs;
    const controller = new AbortController();
    let timedOut: "connect" | "idle" | undefined;
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let timer = setTimeout(() => {
      timedOut = "connect";
      controller.abort();
    }, connectTimeoutMs);
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = "idle";
        controller.abort();
      }, timeoutMs);
    };
    const timeoutFailure = (): Failure =>
      timedOut === "connect"
        ? { reason: "connect-timeout", message: `${host} did not answer within ${connectTimeoutMs / 1000} s (connect_timeout)`, extra: { seconds: connectTimeoutMs / 1000, setting: "connect_timeout" } }
        : { reason: "timeout", message: `${host} sent nothing for ${timeoutMs / 1000} s (timeout)`, extra: { seconds: timeoutMs / 1000, setting: "timeout" } };
    try {
      const messages = [
        ...(request.system ? [{ role: "system", content: request.system }] : []),
        ...(request.history ?? []).map((turn) => ({ role: turn.role, content: turn.content })),
        { role: "user", content: request.prompt },
      ];
      const body = {
        model: remote.model,
        messages,
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: params.max_tokens,
        temperature: params.temperature,
        ...(params.top_p !== undefined ? { top_p: params.top_p } : {}),
        ...(params.seed !== undefined ? { seed: params.seed } : {}),
        ...(params.stop && params.stop.length > 0 ? { stop: params.stop } : {}),
        // vLLM's and llama-server's extension: sent only when on, so that OpenAI itself never sees it.
        ...(params.ignore_eos ? { ignore_eos: true } : {}),
      };
      let response: Response;
      try {
        response = await fetch(`${remote.baseUrl}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "text/event-stream", ...(key ? { authorization: `Bearer ${key}` } : {}), ...(request.fresh ? { [freshHeader]: "off" } : {}) },
          body: JSON.stringify(body),
          signal: controller.signal,
        });
      } catch (error) {
        if (timedOut) throw new AttemptError(timeoutFailure());
        if (options.signal?.aborted) throw error;
        const code = causeCode(error);
        throw new AttemptError({
          reason: "unreachable",
          message: `cannot reach ${host} (${code ?? (error instanceof Error ? error.message : String(error))}): is the server running, and is base_url right?`,
          retryable: code === "ECONNREFUSED",
          extra: { detail: code ?? "error" },
        });
      }
      idle();
      if (!response.ok) {
        let failure: Failure;
        try {
          failure = await this.#statusFailure(response, remote, key, idle);
        } catch (error) {
          if (options.signal?.aborted) throw error;
          failure = timedOut ? timeoutFailure() : { reason: "stream-cut", status: response.status, message: `${host} answered ${response.status}, then broke the connection`, extra: { characters: 0 } };
        }
        throw new AttemptError(failure);
      }

      const contentType = response.headers.get("content-type") ?? "";
      if (!contentType.includes("text/event-stream")) {
        // A server that ignored `stream: true` answers one JSON completion: taken as it is.
        let text: string;
        try {
          text = await readLimited(response, completionBodyLimit, idle);
        } catch (error) {
          if (timedOut) throw new AttemptError(timeoutFailure());
          if (options.signal?.aborted) throw error;
          throw new AttemptError({ reason: "stream-cut", message: `the answer from ${host} broke off`, extra: { characters: 0 } });
        }
        let parsed: ChatChunk;
        try {
          parsed = JSON.parse(text) as ChatChunk;
        } catch {
          throw new AttemptError({ reason: "not-json", message: `${host} answered with something that is not JSON (${contentType || "no content type"}): is base_url the API's address, up to /v1?`, extra: { suffix: "/v1" } });
        }
        const choice = parsed.choices?.[0];
        const content = choice?.message?.content;
        if (typeof content !== "string") throw new AttemptError({ reason: "not-json", message: `${host} answered JSON without a completion in it: is base_url the API's address, up to /v1?`, extra: { suffix: "/v1" } });
        const now = performance.now();
        if (content) {
          state.textArrived = true;
          options.onText?.(content);
        }
        return result(content, parsed.usage, 1, stopReasonOf(choice?.finish_reason, choice?.stop_reason), started, now, now, now);
      }
      if (!response.body) throw new AttemptError({ reason: "stream-cut", message: `${host} answered with no stream`, extra: { characters: 0 } });

      let text = "";
      let chunks = 0;
      let finish: string | null | undefined;
      let stopReason: unknown;
      let usage: ChatChunk["usage"];
      let done = false;
      let firstAt: number | undefined;
      let lastAt: number | undefined;
      try {
        for await (const message of sseEvents(response.body, idle)) {
          if (message.data === "[DONE]") {
            done = true;
            break;
          }
          let chunk: ChatChunk;
          try {
            chunk = JSON.parse(message.data) as ChatChunk;
          } catch {
            throw new AttemptError({ reason: "not-json", message: `${host} sent a stream event that is not JSON`, extra: { suffix: "/v1" } });
          }
          if (chunk.error !== undefined || message.event === "error") {
            const detail = serverDetail(message.data, key);
            throw new AttemptError({ reason: "stream-error", message: `${host} reported an error in the stream: ${detail}`, extra: { detail } });
          }
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          const delta = choice.delta?.content;
          if (typeof delta === "string" && delta.length > 0) {
            const now = performance.now();
            firstAt ??= now;
            lastAt = now;
            chunks++;
            text += delta;
            if (text.length > completionBodyLimit) throw new SseLimitError(`sent over ${completionBodyLimit / 1024 / 1024} MiB of text`);
            state.textArrived = true;
            options.onText?.(delta);
          }
          if (choice.finish_reason) {
            finish = choice.finish_reason;
            stopReason = choice.stop_reason;
          }
        }
      } catch (error) {
        if (error instanceof AttemptError) throw error;
        if (error instanceof SseLimitError) throw new AttemptError({ reason: "stream-error", message: `${host} ${error.message}`, extra: { detail: error.message } });
        if (timedOut) throw new AttemptError(timeoutFailure());
        if (options.signal?.aborted) throw error;
        throw new AttemptError({ reason: "stream-cut", message: `the stream from ${host} broke after ${text.length} characters (${causeCode(error) ?? (error instanceof Error ? error.message : String(error))})`, extra: { characters: text.length } });
      }
      // A stream that ends with neither [DONE] nor a finish reason was cut: its text is not the whole answer.
      if (!done && !finish) throw new AttemptError({ reason: "stream-cut", message: `the stream from ${host} ended after ${text.length} characters without finishing`, extra: { characters: text.length } });
      const end = performance.now();
      return result(text, usage, chunks, stopReasonOf(finish, stopReason), started, firstAt ?? end, lastAt ?? end, end);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      // Whatever happened, the request is over: an abort closes its connection if it is still open.
      controller.abort();
    }
  }

  async #statusFailure(response: Response, remote: RemoteModel, key: string | undefined, onChunk: () => void): Promise<Failure> {
    const status = response.status;
    const host = hostOf(remote.baseUrl);
    const body = await readLimited(response, errorBodyLimit, onChunk);
    if (status === 401 || status === 403) {
      // The server's words are left out: some echo the key they were given.
      const check = remote.apiKeyEnv ? `check the key in the environment variable ${remote.apiKeyEnv}` : "it wants an API key: name its environment variable with api_key_env";
      return { reason: "unauthorized", status, message: `${host} refused the call (${status}): ${check}`, extra: { keyEnv: remote.apiKeyEnv ?? "", keyNamed: remote.apiKeyEnv ? "yes" : "no", setting: "api_key_env" } };
    }
    const detail = serverDetail(body, key);
    if (status === 404) return { reason: "not-found", status, message: `${host} has no model "${remote.model}" (404: ${detail}): check the model name, and that base_url ends at /v1`, extra: { remoteModel: remote.model, suffix: "/v1" } };
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      return { reason: "rate-limited", status, retryable: true, retryAfterMs, message: `${host} is busy (429)${retryAfterMs !== undefined ? `: it asks to try again in ${Math.ceil(retryAfterMs / 1000)} s` : ""}` };
    }
    if (status >= 500) return { reason: "server-error", status, retryable: status === 502 || status === 503 || status === 504, message: `${host} failed (${status}: ${detail})`, extra: { detail } };
    return { reason: "bad-request", status, message: `${host} refused the call (${status}: ${detail})`, extra: { detail } };
  }
}

function result(
  text: string,
  usage: ChatChunk["usage"],
  chunks: number,
  stopReason: GenerateResult["stopReason"],
  started: number,
  firstAt: number,
  lastAt: number,
  end: number,
): GenerateResult {
  // Without `usage` (a server that ignores stream_options) the output is counted in stream chunks, about
  // one token each on vLLM and llama-server, and the prompt's tokens are unknown: 0.
  const tokensOut = usage?.completion_tokens ?? chunks;
  const decodeSeconds = (lastAt - firstAt) / 1000;
  return {
    text,
    stopReason,
    chat: true,
    tokensIn: usage?.prompt_tokens ?? 0,
    tokensOut,
    timeToFirstTokenMs: firstAt - started,
    tokensPerSecond: tokensOut > 1 && decodeSeconds > 0 ? (tokensOut - 1) / decodeSeconds : 0,
    durationMs: end - started,
    load: { loaded: false, loadMs: 0, gpuLayers: 0, threads: 0 },
  };
}

function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return baseUrl;
  }
}

/** The system error code (ECONNREFUSED, ENOTFOUND, ...) under a fetch failure, if any. */
function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * One port over two: a call whose model is remote (`request.model.remote`) goes to `remote`, any other to
 * the local runtime, which is only created (its worker forked) when a local model is called.
 */
export function routeInference(ports: { local: () => Promise<InferencePort>; remote: InferencePort }): InferencePort {
  return {
    async generate(request, options) {
      return request.model.remote ? ports.remote.generate(request, options) : (await ports.local()).generate(request, options);
    },
  };
}
