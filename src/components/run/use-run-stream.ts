"use client";
import { useLayoutEffect, useState } from "react";
import { flushSync } from "react-dom";
import { applyEvents, emptyRunView, type RunView } from "@/client/run-view";
import { useTRPCClient } from "@/client/trpc";
import type { RunEvent } from "@/engine/events";

type Client = ReturnType<typeof useTRPCClient>;

/** A run's event stream, opened before any component shows the run, and what it received so far. */
interface OpenStream {
  events: RunEvent[];
  error: unknown;
  onEvent?: (event: RunEvent) => void;
  onError?: (error: unknown) => void;
  close(): void;
}

const opened = new Map<string, OpenStream>();

/** `recorded`: a run that has ended is replayed at the pace it ran (else at once). */
export type Pace = "instant" | "recorded";

function open(client: Client, id: string, pace: Pace = "instant"): OpenStream {
  const stream: OpenStream = { events: [], error: undefined, close: () => undefined };
  const subscription = client.runs.events.subscribe(
    { id, ...(pace === "recorded" ? { pace } : {}) },
    {
      onData(envelope) {
        const event = envelope.data as RunEvent;
        if (stream.onEvent) stream.onEvent(event);
        else stream.events.push(event);
      },
      onError(error) {
        stream.error = error;
        stream.onError?.(error);
      },
    },
  );
  stream.close = () => subscription.unsubscribe();
  return stream;
}

/**
 * Starts following a run now, before the page shows it: the run page calls this the moment it names a
 * new run, so that the stream is open by the time the run's first token comes (opening it from an
 * effect after the next render costs tens of milliseconds). `useRunStream` adopts it.
 */
export function followRunEarly(client: Client, id: string, keepMs = 10_000): void {
  opened.get(id)?.close();
  const stream = open(client, id);
  opened.set(id, stream);
  // Not adopted in time (the page went elsewhere, or the run never came): let it go.
  setTimeout(() => stopFollowingEarly(id, stream), keepMs);
}

/** Closes a stream opened by `followRunEarly` that no view has adopted. */
export function stopFollowingEarly(id: string, stream = opened.get(id)): void {
  if (stream && opened.get(id) === stream && !stream.onEvent) {
    stream.close();
    opened.delete(id);
  }
}

/**
 * Calls `done` with the time the text just rendered was on screen: where the browser reports paints of
 * elements (Element Timing: each text block has `elementtiming`), the paint of the first new block; else
 * the time a task queued from inside the frame runs, once that frame's paint is done.
 */
function whenPainted(done: (at: number) => void): () => void {
  let frameDone: number | undefined;
  let reported = false;
  const timers: Array<ReturnType<typeof setTimeout>> = [];
  const report = (at: number) => {
    if (reported) return;
    reported = true;
    done(at);
  };
  if (typeof PerformanceObserver !== "undefined" && PerformanceObserver.supportedEntryTypes?.includes("element")) {
    const observer = new PerformanceObserver((list) => {
      const entry = list.getEntries().find((candidate) => (candidate as PerformanceEntry & { identifier?: string }).identifier === "run-text") as
        | (PerformanceEntry & { renderTime: number })
        | undefined;
      if (!entry) return;
      observer.disconnect();
      report(entry.renderTime || entry.startTime);
    });
    observer.observe({ type: "element" });
    // No report (the block was painted before, or the page is hidden): the end of the frame.
    timers.push(
      setTimeout(() => {
        observer.disconnect();
        report(frameDone ?? performance.now());
      }, 1000),
      setTimeout(() => (frameDone = performance.now()), 0),
    );
    return () => {
      observer.disconnect();
      timers.forEach(clearTimeout);
    };
  }
  timers.push(setTimeout(() => report(performance.now()), 0));
  return () => timers.forEach(clearTimeout);
}

/**
 * Follows a run's events over server-sent events. Events are queued and applied once per animation frame,
 * so that a fast stream (thousands of tokens a second) costs one render per frame, not one per token.
 * EventSource reconnects by itself after a network drop and resumes after the last event id it saw.
 * A change of `pace` for the same run keeps what was shown: a replay stopped with `instant` gets the
 * rest of the run at once. `error` is what the stream failed with (null while it has not).
 */
export function useRunStream(runId: string | null, pace: Pace = "instant"): { view: RunView; error: unknown; firstTextPaintedAt: number | null } {
  const client = useTRPCClient();
  const [state, setState] = useState<{ runId: string | null; view: RunView; error: unknown; firstTextPaintedAt: number | null }>({
    runId,
    view: emptyRunView,
    error: null,
    firstTextPaintedAt: null,
  });
  // A new run starts from an empty view (state derived from the prop, reset during render).
  if (state.runId !== runId) setState({ runId, view: emptyRunView, error: null, firstTextPaintedAt: null });

  // A layout effect: the stream is adopted in the commit that shows the run, not after its paint.
  useLayoutEffect(() => {
    if (!runId) return;
    let queue: RunEvent[] = [];
    let frame = 0;
    // Measured once per run: a stream opened again for the same run (another pace) keeps the first figure.
    let painted = state.firstTextPaintedAt !== null;
    let stopMeasuring = () => undefined as void;
    const flush = () => {
      frame = 0;
      const batch = queue;
      queue = [];
      // Rendered now, inside the animation frame, so that this frame paints it (not the next one).
      flushSync(() => setState((current) => (current.runId === runId ? { ...current, view: applyEvents(current.view, batch) } : current)));
      if (!painted && batch.some((event) => event.type === "stage-delta")) {
        painted = true;
        stopMeasuring = whenPainted((at) => {
          setState((current) => (current.runId === runId && current.firstTextPaintedAt === null ? { ...current, firstTextPaintedAt: at } : current));
        });
      }
    };
    const onEvent = (event: RunEvent) => {
      queue.push(event);
      if (!frame) frame = requestAnimationFrame(flush);
    };
    const onError = (error: unknown) => setState((current) => (current.runId === runId ? { ...current, error } : current));

    const stream = opened.get(runId) ?? open(client, runId, pace);
    opened.delete(runId);
    for (const event of stream.events.splice(0)) onEvent(event);
    stream.onEvent = onEvent;
    stream.onError = onError;
    if (stream.error !== undefined) onError(stream.error);
    return () => {
      stream.close();
      stopMeasuring();
      if (frame) cancelAnimationFrame(frame);
    };
    // `state.firstTextPaintedAt` is read when the stream opens, not followed.
  }, [client, runId, pace]);

  return { view: state.view, error: state.error, firstTextPaintedAt: state.firstTextPaintedAt };
}
