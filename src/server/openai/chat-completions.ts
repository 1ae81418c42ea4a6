/**
 * `POST /v1/chat/completions`: the request checked as every API request is (the host, the caller's
 * identity with the runner role, JSON only, at most 1 MiB), the run started, and its answer sent whole
 * (`chat.completion`) or as server-sent events (`chat.completion.chunk`s, then `[DONE]`). A streamed
 * answer takes one of its client's stream places, as a run's event stream does. A client that goes away
 * (an aborted request, a closed stream) cancels its run, and its session ends `cancelled`; so does a user
 * revoked (or given a new token) while the answer is written, whose request ends with a 401.
 */
import { mergeSignals } from "../../common/index.js";
import { freshHeader } from "../../runtime/remote.js";
import { getAccessControl, type Identity } from "../auth/index.js";
import { readText, runBodyLimit } from "../body-limit.js";
import { clientAddress } from "../client-address.js";
import { authorize } from "../http.js";
import { getServer, type ServerInstance } from "../instance.js";
import { parseChatRequest, type ChatRequest } from "./chat-request.js";
import { completionParts, startCompletion, type CompletionPart, type FinishReason, type StartedCompletion, type Usage } from "./completion.js";
import { OpenAiError, openAiErrorBody, openAiErrorResponse, toOpenAiResponse } from "./errors.js";

/** A comment line this often keeps a stream that waits (in the queue, or for earlier stages) from being closed by a proxy. */
const pingMs = 10_000;

/** Names the stages served from the stage cache, by their count (0: every stage was computed). */
export const cachedStagesHeader = "x-project-llm-cached-stages";

/** A request let in: its run started, and what it holds until its answer ends (`release` gives it back). */
interface Accepted {
  chat: ChatRequest;
  server: ServerInstance;
  started: StartedCompletion;
  /** Aborts, with the reason, when the caller's user is revoked or given a new token. */
  revoked: AbortSignal;
  release: () => void;
}

export async function chatCompletions(request: Request): Promise<Response> {
  const identity = await authorize(request, "runner");
  if (identity instanceof Response) return toOpenAiResponse(identity);
  // JSON only, as OpenAI clients send it: a cross-site HTML form cannot send it without the browser asking first.
  if (!request.headers.get("content-type")?.toLowerCase().startsWith("application/json")) {
    return openAiErrorResponse(new OpenAiError(415, 'send the body as JSON with "Content-Type: application/json"', { code: "unsupported_media_type" }));
  }
  let accepted: Accepted;
  try {
    accepted = await accept(request, identity);
  } catch (error) {
    return openAiErrorResponse(error);
  }
  const { chat, server, started, revoked } = accepted;
  const { runId } = started;

  // Following the run stops when the client goes or its user is revoked; the run itself is cancelled then too.
  const follow = new AbortController();
  const runs = server.runs;
  const stops = mergeSignals(request.signal, revoked);
  const cancel = () => {
    follow.abort();
    runs.cancel(runId);
  };
  stops.signal.addEventListener("abort", cancel, { once: true });
  if (stops.signal.aborted) cancel();
  const done = () => {
    stops.signal.removeEventListener("abort", cancel);
    stops.dispose();
    accepted.release();
  };
  /** Why the events stopped before the run's end: the revocation's error, or the client that went. */
  const stopped = () => (revoked.aborted ? revoked.reason : new OpenAiError(499, "the request was cancelled", { code: "cancelled" }));
  const parts = completionParts(runs.events(runId, { signal: follow.signal }), started.pipeline);
  const created = Math.floor(Date.now() / 1000);
  // OpenAI's order of fields: what it is, then when and by what.
  const shaped = (object: string) => ({ id: `chatcmpl-${runId}`, object, created, model: chat.model });
  const headers = { "x-project-llm-session": runId };

  if (!chat.stream) {
    try {
      let content = "";
      for await (const part of parts) {
        if (part.type === "text") content += part.text;
        else if (part.type === "error") return await openAiErrorResponse(part.error);
        else if (part.type === "end") {
          return Response.json(
            {
              ...shaped("chat.completion"),
              choices: [{ index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: part.finishReason }],
              usage: part.usage,
              system_fingerprint: null,
              cached_stages: part.cachedStages,
            },
            { headers: { ...headers, [cachedStagesHeader]: String(part.cachedStages) } },
          );
        }
      }
      // The events stopped without an end: the client went away, or its user was revoked.
      return await openAiErrorResponse(stopped());
    } catch (error) {
      return await openAiErrorResponse(error);
    } finally {
      done();
    }
  }

  return new Response(chunkStream(parts, { head: shaped("chat.completion.chunk"), includeUsage: chat.stream_options?.include_usage === true, onCancel: cancel, onEnd: done, stopped: () => (revoked.aborted ? revoked.reason : undefined) }), {
    headers: { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache, no-transform", connection: "keep-alive", "x-accel-buffering": "no" },
  });
}

/**
 * Reads and checks the body; for a stream, takes one of its client's stream places (429 past the cap,
 * before any run starts); watches the caller's user for a revocation; then starts the run (which may wait
 * in the queue). What it took is given back when it throws.
 */
async function accept(request: Request, identity: Identity): Promise<Accepted> {
  const text = await readText(request, runBodyLimit);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new OpenAiError(400, "the body is not valid JSON", { code: "invalid_json" });
  }
  const chat = parseChatRequest(body);
  const server = await getServer();
  const place = chat.stream ? server.streams.open([`client ${clientAddress(request)}`], await server.streamsPerClient()) : () => undefined;
  let revocation: { signal: AbortSignal; dispose: () => void } | undefined;
  const release = () => {
    place();
    revocation?.dispose();
  };
  try {
    revocation = await getAccessControl().watchRevocation(identity);
    // Revoked between the request's check and now: no run starts.
    if (revocation.signal.aborted) throw revocation.signal.reason;
    const started = await startCompletion(server, chat, identity.user, { fresh: request.headers.get(freshHeader)?.trim().toLowerCase() === "off" });
    return { chat, server, started, revoked: revocation.signal, release };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * The parts as OpenAI's stream: a first chunk with the role once the run starts (nothing while it waits in
 * the queue but comment lines), a chunk per piece of text, a last chunk with the finish reason, a chunk with
 * the usage when asked for, then `[DONE]`. A run that fails, or a user revoked, sends an `error` object
 * (which OpenAI clients raise) and no `[DONE]`.
 */
function chunkStream(
  parts: AsyncGenerator<CompletionPart>,
  options: {
    head: { id: string; object: string; created: number; model: string };
    includeUsage: boolean;
    onCancel: () => void;
    onEnd: () => void;
    /** Why the parts stopped before the run's end, when the client should hear it (a revocation). */
    stopped: () => unknown;
  },
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const { head, includeUsage } = options;
  const usageField = includeUsage ? { usage: null } : {};
  const data = (value: unknown) => encoder.encode(`data: ${JSON.stringify(value)}\n\n`);
  const chunk = (delta: Record<string, string>, finishReason: FinishReason | null, extra: Record<string, unknown> = {}) =>
    data({ ...head, system_fingerprint: null, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }], ...usageField, ...extra });
  let ping: ReturnType<typeof setInterval> | undefined;
  const stop = () => {
    clearInterval(ping);
    options.onEnd();
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        ping = setInterval(() => {
          if ((controller.desiredSize ?? 0) > 0) controller.enqueue(encoder.encode(": ping\n\n"));
        }, pingMs);
      },
      async pull(controller) {
        try {
          const next = await parts.next();
          if (next.done) {
            const reason = options.stopped();
            if (reason !== undefined) controller.enqueue(data(await (await openAiErrorResponse(reason)).json()));
            stop();
            controller.close();
            return;
          }
          const part = next.value;
          if (part.type === "start") controller.enqueue(chunk({ role: "assistant", content: "" }, null));
          else if (part.type === "text") controller.enqueue(chunk({ content: part.text }, null));
          else if (part.type === "end") {
            // The headers left before the run started: the last chunk says how many stages the stage cache served.
            controller.enqueue(chunk({}, part.finishReason, { cached_stages: part.cachedStages }));
            if (includeUsage) controller.enqueue(data({ ...head, system_fingerprint: null, choices: [], usage: part.usage satisfies Usage }));
            controller.enqueue(encoder.encode("data: [DONE]\n\n"));
            stop();
            controller.close();
          } else {
            const response = await openAiErrorResponse(part.error);
            controller.enqueue(data(await response.json()));
            stop();
            controller.close();
          }
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          controller.enqueue(data(openAiErrorBody(500, message, "internal")));
          stop();
          controller.close();
        }
      },
      async cancel() {
        stop();
        options.onCancel();
        await parts.return(undefined);
      },
    },
    new CountQueuingStrategy({ highWaterMark: 16 }),
  );
}
