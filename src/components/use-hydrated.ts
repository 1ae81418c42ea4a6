"use client";
/**
 * False while React hydrates a server-rendered page, true from the render after. A component under a
 * Suspense boundary hydrates after the page around it, and a query it shares with that page (the nav's
 * `auth.me`) may have come back meanwhile: what the server could not know is shown once this is true, so
 * that the first client render matches the server's HTML.
 */
import { useSyncExternalStore } from "react";

const subscribe = () => () => undefined;

export function useHydrated(): boolean {
  return useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
}
