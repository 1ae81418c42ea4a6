import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getAccessControl } from "@/server/auth/index";
import { getServer } from "@/server/instance";
import { forbiddenHost } from "@/server/http";
import { createContext } from "@/server/trpc/context";
import { appRouter } from "@/server/trpc/router";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

async function handler(request: Request): Promise<Response> {
  const refused = forbiddenHost(request);
  if (refused) return refused;
  const context = await createContext(request, await getServer(), getAccessControl());
  if (context instanceof Response) return context;
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

export { handler as GET, handler as POST };
