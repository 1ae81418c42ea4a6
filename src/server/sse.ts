/**
 * Run events as a `text/event-stream` body for the plain HTTP surface. The body is pulled: the next event
 * is taken from the run only when the client has read what was sent (the socket drained), so a slow
 * client holds back its own stream instead of queuing the whole run in the server's memory.
 */
import type { RunEvent } from "../engine/index.js";

export interface EventStreamOptions {
  /** A comment line sent this often keeps proxies from closing a quiet stream. */
  pingMs?: number;
  /** Aborted when the client goes away (the events' source stops too). */
  onCancel?: () => void;
}

export function eventStream(events: AsyncIterable<RunEvent>, options: EventStreamOptions = {}): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = events[Symbol.asyncIterator]();
  let ping: ReturnType<typeof setInterval> | undefined;
  const stop = () => clearInterval(ping);
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(encoder.encode("retry: 1000\n\n"));
        ping = setInterval(() => {
          // Only into an empty queue: a client that reads nothing gets no pile of pings either.
          if ((controller.desiredSize ?? 0) > 0) controller.enqueue(encoder.encode(": ping\n\n"));
        }, options.pingMs ?? 10_000);
      },
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) {
            stop();
            controller.close();
            return;
          }
          const event = next.value;
          controller.enqueue(encoder.encode(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`));
        } catch (error) {
          stop();
          controller.enqueue(encoder.encode(`event: error\ndata: ${JSON.stringify({ message: error instanceof Error ? error.message : String(error) })}\n\n`));
          controller.close();
        }
      },
      async cancel() {
        stop();
        options.onCancel?.();
        await iterator.return?.(undefined);
      },
    },
    // Up to 16 events ahead of the client (a few kilobytes), besides what the socket itself holds.
    new CountQueuingStrategy({ highWaterMark: 16 }),
  );
}
