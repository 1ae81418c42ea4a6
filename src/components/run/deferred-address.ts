"use client";
import { useEffect, useState } from "react";

/**
 * The address of a run just started (`/?run=ID`) is written a little later than the click: once the
 * server has taken the run and its first text is on screen (or 300 ms have passed). The router renders the
 * whole page again for a pushState (in a transition), and that render would compete with the run's first
 * tokens.
 *
 * Until it is written, the page must behave as if it were: a navigation (a link, back or forward) drops
 * it (a late pushState would cancel that navigation or cut the forward history), a refused start drops
 * it, a second run replaces it, and a reload finds the run again through `sessionStorage`.
 */
const storageKey = "project-llm.pending-run";
/** A reload this long after the click still finds the run. */
const recoverWithinMs = 30_000;

interface Pending {
  runId: string;
  url: string;
  /** The address when the run started: the one a reload comes back to. */
  from: string;
  /** The server took the run. */
  confirmed: boolean;
  /** Its first text is on screen, or the delay has passed. */
  due: boolean;
  timer: ReturnType<typeof setTimeout>;
  stopListening: () => void;
}

export interface DeferredAddress {
  /** Writes `url` as the address of `runId` soon (replacing any run whose address is still to come). */
  schedule(runId: string, url: string, options?: { confirmed?: boolean }): void;
  /** The server took the run: its address may be written. */
  confirm(runId: string): void;
  /** The run's first text is on screen: its address may be written. */
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
 * The run whose address was still to come when this page was reloaded (and the address it was to have),
 * if the reload is of the same address and soon after the run started.
 */
export function pendingRunAfterReload(): { runId: string; url: string } | null {
  try {
    const stored = JSON.parse(sessionStorage.getItem(storageKey) ?? "null") as { runId?: string; url?: string; from?: string; at?: number } | null;
    if (!stored?.runId || !stored.url || stored.from !== window.location.href || typeof stored.at !== "number") return null;
    return Date.now() - stored.at < recoverWithinMs ? { runId: stored.runId, url: stored.url } : null;
  } catch {
    return null;
  }
}

/** A click that navigates this tab away from the page (not one that opens a new tab, or a `#` link). */
function leavesPage(event: MouseEvent): boolean {
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return false;
  const link = event.target instanceof Element ? event.target.closest<HTMLAnchorElement>("a[href]") : null;
  if (!link || link.hasAttribute("download") || (link.target && link.target !== "_self")) return false;
  const to = new URL(link.href, window.location.href);
  return !(to.hash && to.pathname === window.location.pathname && to.search === window.location.search);
}

/** The pending address of one page; `dispose` stops waiting and keeps what a reload would find. */
function createDeferredAddress(maxDelayMs: number): DeferredAddress & { dispose(): void } {
  let pending: Pending | null = null;
  /** Stops waiting; `keepForReload` leaves what a reload would find. */
  const stop = (keepForReload = false) => {
    if (!pending) return;
    const current = pending;
    pending = null;
    clearTimeout(current.timer);
    current.stopListening();
    if (!keepForReload) forget();
  };
  const writeIfReady = () => {
    const current = pending;
    if (!current || !current.confirmed || !current.due) return;
    stop();
    // Only over the address the run started from: anything else means the user went elsewhere.
    if (window.location.href === current.from) window.history.pushState(null, "", current.url);
  };
  const address = {
    schedule(runId: string, url: string, options: { confirmed?: boolean } = {}) {
      stop();
      const from = window.location.href;
      // A navigation that starts before the address is written wins.
      const onClick = (event: MouseEvent) => {
        if (leavesPage(event)) stop();
      };
      const onPopState = () => stop();
      document.addEventListener("click", onClick, true);
      window.addEventListener("popstate", onPopState);
      pending = {
        runId,
        url,
        from,
        confirmed: options.confirmed ?? false,
        due: false,
        timer: setTimeout(() => address.flush(runId), maxDelayMs),
        stopListening: () => {
          document.removeEventListener("click", onClick, true);
          window.removeEventListener("popstate", onPopState);
        },
      };
      try {
        sessionStorage.setItem(storageKey, JSON.stringify({ runId, url, from, at: Date.now() }));
      } catch {
        // See `forget`.
      }
    },
    confirm(runId: string) {
      if (pending?.runId !== runId) return;
      pending.confirmed = true;
      writeIfReady();
    },
    flush(runId: string) {
      if (pending?.runId !== runId) return;
      pending.due = true;
      writeIfReady();
    },
    drop(runId: string) {
      if (pending?.runId !== runId) return false;
      stop();
      return true;
    },
    dispose: () => stop(true),
  };
  return address;
}

export function useDeferredAddress(maxDelayMs = 300): DeferredAddress {
  const [address] = useState(() => createDeferredAddress(maxDelayMs));
  // Leaving the page stops waiting (the address would land on the next page). What a reload would find
  // is kept: React's development mode unmounts and mounts again once, and reads it on the second mount.
  useEffect(() => () => address.dispose(), [address]);
  return address;
}
