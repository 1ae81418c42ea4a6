/**
 * tRPC over HTTP: the route handler's work, apart from Next.js. Before tRPC sees a request, its body is
 * read with the limit of the procedures it calls (nothing past the limit is buffered), and a subscription
 * (a run's event stream) takes one of its client's stream places. Errors that say when to try again set
 * `Retry-After`.
 */
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { ProjectLlmError, mergeSignals } from "../../common/index.js";
import { pipelineBodyLimit, readBody, runBodyLimit } from "../body-limit.js";
import { clientAddress } from "../client-address.js";
import type { StreamLimiter } from "../stream-limit.js";
import { toTRPCError, type Context } from "./init.js";
import { appRouter } from "./router.js";

export const trpcEndpoint = "/api/trpc";

/** The procedures a request calls: `runs.start`, or several for a batch (`a,b,c`). */
function procedurePaths(url: URL): string[] {
  const rest = url.pathname.slice(url.pathname.indexOf(trpcEndpoint) + trpcEndpoint.length + 1);
  return decodeURIComponent(rest).split(",").filter(Boolean);
}

/** A pipeline being saved or checked may be larger than what starts a run. */
function bodyLimitOf(paths: readonly string[]): number {
  return paths.some((path) => path.startsWith("pipelines.")) ? pipelineBodyLimit : runBodyLimit;
}

/** Seconds to wait before trying again, from the errors that say so (the longest). */
function retryAfter(errors: readonly { cause?: unknown }[]): number | undefined {
  let seconds: number | undefined;
  for (const error of errors) {
    const value = ProjectLlmError.isInstance(error.cause) ? error.cause.details?.retryAfterSeconds : undefined;
    if (typeof value === "number") seconds = Math.max(seconds ?? 0, value);
  }
  return seconds;
}

export interface TrpcServer extends Pick<Context, "studio" | "runs" | "downloads"> {
  streams: StreamLimiter;
  /** Event streams one client may hold open (models.yaml's `runtime.streams_per_client`). */
  streamsPerClient(): Promise<number>;
}

/**
 * Answers a tRPC request with `context` (its identity already known: see `createContext`). Each procedure
 * refuses a context without the identity its role needs (see trpc/init.ts).
 */
export async function handleTrpcRequest(request: Request, server: TrpcServer, context: Context): Promise<Response> {
  const url = new URL(request.url);
  const paths = procedurePaths(url);
  let refusal: unknown;
  let body: Uint8Array | undefined;
  if (!context.identity) {
    // Every procedure needs an identity (see trpc/init.ts): an anonymous body is never read.
    refusal = new ProjectLlmError("unauthenticated", "log in first: open /login with your token, or send Authorization: Bearer TOKEN");
  } else if (request.method === "POST") {
    try {
      body = await readBody(request, bodyLimitOf(paths));
    } catch (error) {
      refusal = error;
    }
  }
  let release: (() => void) | undefined;
  let signal = request.signal;
  // Subscriptions come as GET (an EventSource), or as POST with the method override; runs.events is the
  // only one.
  if (paths.includes("runs.events")) {
    let revocation: { signal: AbortSignal; dispose: () => void } | undefined;
    try {
      // A stream answers 200 before its first event, so a refusal inside it would come as an event of a
      // stream that opened: a refused request for one (anonymous, too large) is answered here, with a status.
      if (refusal !== undefined) throw refusal;
      // The stream ends when its user is revoked (tRPC ends a subscription when its request's signal aborts;
      // the client's reconnection is then refused with 401).
      revocation = context.access && context.identity ? await context.access.watchRevocation(context.identity) : { signal: new AbortController().signal, dispose: () => undefined };
      const place = server.streams.open([`client ${clientAddress(request)}`], await server.streamsPerClient());
      const { dispose } = revocation;
      const merged = mergeSignals(request.signal, revocation.signal);
      signal = merged.signal;
      release = () => {
        place();
        dispose();
        merged.dispose();
      };
      signal.addEventListener("abort", release, { once: true });
    } catch (error) {
      revocation?.dispose();
      // Answered here: tRPC answers a subscription's error inside a stream with status 200, and an
      // EventSource would take that for a stream to reconnect to.
      return refusedSubscription(error, "runs.events");
    }
  }
  const response = await fetchRequestHandler({
    endpoint: trpcEndpoint,
    // The body as read (or none, for a request refused here: tRPC answers the refusal in its own shape).
    req: new Request(request.url, {
      method: request.method,
      headers: request.headers,
      signal,
      ...(request.method === "POST" ? { body: refusal === undefined ? (body as BodyInit) : "{}" } : {}),
    }),
    router: appRouter,
    // Queries come as POST (a pipeline being validated can be longer than a URL may be).
    allowMethodOverride: true,
    createContext: () => {
      if (refusal !== undefined) throw toTRPCError(refusal);
      return context;
    },
    responseMeta({ errors }) {
      const seconds = retryAfter(errors);
      const headers: Record<string, string> = {};
      if (seconds !== undefined) headers["retry-after"] = String(seconds);
      // The rest of a body too large is not read: the connection cannot carry another request.
      if (errors.some((error) => error.code === "PAYLOAD_TOO_LARGE")) headers.connection = "close";
      return { headers };
    },
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`tRPC ${path ?? "?"}:`, error.cause ?? error);
    },
  });
  if (!release || !response.body) {
    release?.();
    return response;
  }
  // The stream's place is given back when it ends, or when its client goes (the abort above).
  const done = release;
  return new Response(response.body.pipeThrough(new TransformStream({ flush: done })), { status: response.status, headers: response.headers });
}

/** A refused subscription as tRPC's error shape (with our `appCode` and `params`), its status and `Retry-After`. */
function refusedSubscription(error: unknown, path: string): Response {
  const trpcError = toTRPCError(error);
  const project = ProjectLlmError.isInstance(error) ? error : undefined;
  const status = getHTTPStatusCodeFromError(trpcError);
  const seconds = project?.details?.retryAfterSeconds;
  return Response.json(
    {
      error: {
        message: trpcError.message,
        code: TRPC_ERROR_CODES_BY_KEY[trpcError.code],
        data: { code: trpcError.code, httpStatus: status, path, appCode: project?.code ?? null, issues: null, params: project?.details?.params ?? null },
      },
    },
    { status, headers: typeof seconds === "number" ? { "retry-after": String(seconds) } : {} },
  );
}
