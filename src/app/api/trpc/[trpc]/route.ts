import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getAccessControl } from "@/server/auth/index";
import { getServer } from "@/server/instance";
import { ProjectLlmError } from "@/common/index";
import { forbiddenHost, jsonError } from "@/server/http";
import { createContext } from "@/server/trpc/context";
import { appRouter } from "@/server/trpc/router";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

async function handler(request: Request): Promise<Response> {
  const refused = forbiddenHost(request);
  if (refused) return refused;
  const context = await createContext(request, await getServer(), getAccessControl());
  if (context instanceof Response) return context;
  // A stream answers 200 before its first event, so a refusal inside it would come as an event of a
  // stream that opened: an anonymous request for one is refused here, with a status, instead.
  if (!context.identity && isSubscription(request)) {
    return jsonError(new ProjectLlmError("unauthenticated", "log in first: open /login with your token, or send Authorization: Bearer TOKEN"));
  }
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: request,
    router: appRouter,
    // Queries come as POST (a pipeline being validated can be longer than a URL may be).
    allowMethodOverride: true,
    // Each procedure refuses a context without the identity its role needs (see trpc/init.ts).
    createContext: () => context,
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`tRPC ${path ?? "?"}:`, error.cause ?? error);
    },
  });
}

/** Whether the request calls a subscription (`runs.events`), by the procedure path in its address. */
function isSubscription(request: Request): boolean {
  const paths = decodeURIComponent(new URL(request.url).pathname.slice("/api/trpc/".length)).split(",");
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } } | undefined>;
  return paths.some((path) => procedures[path]?._def.type === "subscription");
}

export { handler as GET, handler as POST };
