"use client";
/**
 * The browser's tRPC client: queries and mutations in batches over HTTP, run events over server-sent
 * events (EventSource reconnects by itself and sends the last event id it saw).
 */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, httpLink, httpSubscriptionLink, splitLink, TRPCClientError } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useState, type ReactNode } from "react";
import type { AppRouter } from "@/server/trpc/router";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

function makeClient() {
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({ url: "/api/trpc" }),
        // Mutations go at once, one request each (a batch waits a tick, and starting a run is on the
        // path to its first token); queries are batched.
        false: splitLink({
          condition: (op) => op.type === "mutation",
          true: httpLink({ url: "/api/trpc" }),
          false: httpBatchLink({ url: "/api/trpc", methodOverride: "POST" }),
        }),
      }),
    ],
  });
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { staleTime: 2_000, refetchOnWindowFocus: false, retry: (count, error) => count < 2 && !(error instanceof TRPCClientError && error.data?.httpStatus < 500) },
        },
      }),
  );
  const [trpcClient] = useState(makeClient);
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
