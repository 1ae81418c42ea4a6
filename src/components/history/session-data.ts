import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/trpc/router";

/** A session as the pages receive it (`sessions.get`, serialized as JSON). */
export type SessionData = inferRouterOutputs<AppRouter>["sessions"]["get"];
