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
import { ApiError } from "./start-run";

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

/** Config issues, one per line: "pipeline.yaml:6:9: stages.0.model: message" (the file by its name). */
function describeIssues(issues: ReadonlyArray<{ file?: string; line?: number; column?: number; path?: string; message: string }>): string {
  return issues
    .map((issue) => {
      const file = issue.file ? issue.file.split(/[\\/]/).pop() : undefined;
      const where = file ? `${file}${issue.line ? `:${issue.line}:${issue.column ?? 1}` : ""}: ` : issue.line ? `line ${issue.line}, column ${issue.column ?? 1}: ` : "";
      return `${where}${issue.path ? `${issue.path}: ` : ""}${issue.message}`;
    })
    .join("\n");
}

/** A message for a user from anything a tRPC call or the plain HTTP surface throws (config issues one per line). */
export function describeError(error: unknown): string {
  if (error instanceof TRPCClientError) {
    const issues = (error.data as { issues?: Array<{ file: string; line: number; column: number; path: string; message: string }> | null } | undefined)?.issues;
    if (issues && issues.length > 0) return describeIssues(issues);
    return error.message;
  }
  if (error instanceof ApiError && error.issues.length > 0) return describeIssues(error.issues);
  return error instanceof Error ? error.message : String(error);
}
