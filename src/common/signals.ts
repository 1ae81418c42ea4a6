/**
 * Merges abort signals into one that aborts when any of them does, and removes its listeners when
 * disposed, so that a long-lived parent signal does not collect listeners from every child call.
 */
export function mergeSignals(...signals: Array<AbortSignal | undefined>): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  const onAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  for (const signal of present) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener("abort", onAbort, { once: true });
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const signal of present) signal.removeEventListener("abort", onAbort);
    },
  };
}

/** Throws the signal's reason (an AbortError) when it has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}
