"use client";
import { useEffect, useRef } from "react";

/**
 * The address of a run just started (`/?run=ID`) is written a little later than the click: once the run's
 * first text is on screen, or after `maxDelayMs`. The router renders the whole page again for a pushState
 * (in a transition), and that render would compete with the run's first tokens.
 *
 * Until it is written, the page must behave as if it were: a click on a link or back/forward drops it (a
 * late pushState would cancel that navigation or cut the forward history), a second run replaces it, and a
 * reload finds the run again through `sessionStorage`.
 */
const storageKey = "project-llm.pending-run";
/** A reload this long after the click still finds the run. */
const recoverWithinMs = 30_000;

interface Pending {
  runId: string;
  url: string;
  /** The address when the run started: the one a reload comes back to. */
  from: string;
  timer: ReturnType<typeof setTimeout>;
  stopListening: () => void;
}

export interface DeferredAddress {
  /** Writes `url` as the address of `runId` soon (replacing any run whose address is still to come). */
  schedule(runId: string, url: string): void;
  /** Writes the address of `runId` now, if it is still to come. */
  flush(runId: string): void;
  /** Drops the address of `runId` if it is still to come; true when it was (nothing was written). */
  drop(runId: string): boolean;
}

function forget(): void {
  try {
    sessionStorage.removeItem(storageKey);
  } catch {
    // Storage refused (a private window's quota): a reload then shows no run, nothing more.
  }
}

/**
 * The run whose address was still to come when this page was reloaded, if the reload is of the same
 * address and soon after the run started.
 */
export function pendingRunAfterReload(): string | null {
  try {
    const stored = JSON.parse(sessionStorage.getItem(storageKey) ?? "null") as { runId?: string; from?: string; at?: number } | null;
    forget();
    if (!stored?.runId || stored.from !== window.location.href || typeof stored.at !== "number") return null;
    return Date.now() - stored.at < recoverWithinMs ? stored.runId : null;
  } catch {
    return null;
  }
}

export function useDeferredAddress(maxDelayMs = 300): DeferredAddress {
  const pending = useRef<Pending | null>(null);
  const api = useRef<DeferredAddress | null>(null);
  if (!api.current) {
    const clear = () => {
      const current = pending.current;
      if (!current) return;
      pending.current = null;
      clearTimeout(current.timer);
      current.stopListening();
      forget();
    };
    const flush = (runId: string) => {
      const current = pending.current;
      if (!current || current.runId !== runId) return;
      clear();
      // Only over the address the run started from: anything else means the user went elsewhere.
      if (window.location.href === current.from) window.history.pushState(null, "", current.url);
    };
    api.current = {
      schedule(runId, url) {
        clear();
        const from = window.location.href;
        // A navigation that starts before the address is written wins: drop it.
        const onClick = (event: MouseEvent) => {
          if (event.target instanceof Element && event.target.closest("a[href]")) clear();
        };
        const onPopState = () => clear();
        document.addEventListener("click", onClick, true);
        window.addEventListener("popstate", onPopState);
        pending.current = {
          runId,
          url,
          from,
          timer: setTimeout(() => flush(runId), maxDelayMs),
          stopListening: () => {
            document.removeEventListener("click", onClick, true);
            window.removeEventListener("popstate", onPopState);
          },
        };
        try {
          sessionStorage.setItem(storageKey, JSON.stringify({ runId, from, at: Date.now() }));
        } catch {
          // See `forget`.
        }
      },
      flush,
      drop(runId) {
        if (pending.current?.runId !== runId) return false;
        clear();
        return true;
      },
    };
  }
  // Leaving the page drops an address still to come (it would land on the next page).
  useEffect(() => {
    const current = api.current!;
    return () => {
      if (pending.current) current.drop(pending.current.runId);
    };
  }, []);
  return api.current;
}
