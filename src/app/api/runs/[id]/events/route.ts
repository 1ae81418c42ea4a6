import { getAccessControl } from "@/server/auth/index";
import { getServer } from "@/server/instance";
import { clientAddress } from "@/server/client-address";
import { authorize, jsonError } from "@/server/http";
import { eventStream } from "@/server/sse";
import { assertRunId, sessionNotFound } from "@/store/index";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * The run's events as `text/event-stream`: `id:` is the event's sequence number, `event:` its type, `data:`
 * the event as JSON. A client that reconnects with `Last-Event-ID` (or `?lastEventId=`) gets what it
 * missed, then the live events. The stream ends after `run-end`. `?pace=recorded` replays a run that has
 * ended at the pace it ran.
 */
export async function GET(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  const identity = await authorize(request, "viewer");
  if (identity instanceof Response) return identity;
  const { id } = await context.params;
  const url = new URL(request.url);
  const last = request.headers.get("last-event-id") ?? url.searchParams.get("lastEventId");
  const afterSeq = last !== null && /^\d{1,12}$/.test(last) ? Number(last) : undefined;
  // `?pace=recorded` replays a run that has ended at the pace it ran.
  const pace = url.searchParams.get("pace") === "recorded" ? "recorded" : "instant";
  let server;
  let release: () => void;
  let revocation: { signal: AbortSignal; dispose: () => void } | undefined;
  try {
    assertRunId(id);
    server = await getServer();
    // Fails here, as JSON with a 404, for an unknown run, instead of inside the stream.
    if (!server.runs.has(id) && !(await server.studio.sessions.has(id))) throw sessionNotFound(id);
    // The stream ends when its user is revoked.
    revocation = await getAccessControl().watchRevocation(identity);
    // One of the client's stream places, given back when the stream ends or the client goes.
    const place = server.streams.open([`client ${clientAddress(request)}`], await server.streamsPerClient());
    const { dispose } = revocation;
    release = () => {
      place();
      dispose();
    };
  } catch (error) {
    revocation?.dispose();
    return jsonError(error);
  }
  const abort = new AbortController();
  abort.signal.addEventListener("abort", release, { once: true });
  request.signal.addEventListener("abort", () => abort.abort(), { once: true });
  revocation.signal.addEventListener("abort", () => abort.abort(), { once: true });
  const events = server.runs.events(id, { afterSeq, signal: abort.signal, pace });
  const stream = eventStream(releasing(events, release, revocation.signal), { onCancel: () => abort.abort() });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache, no-transform", connection: "keep-alive", "x-accel-buffering": "no" },
  });
}

/** The events, then `release` once they end (or their reader stops early); a revoked user's stream ends with an error that says so. */
async function* releasing<T>(events: AsyncIterable<T>, release: () => void, revoked: AbortSignal): AsyncGenerator<T> {
  try {
    yield* events;
    if (revoked.aborted) throw revoked.reason;
  } finally {
    release();
  }
}
