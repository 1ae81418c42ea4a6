import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getServer } from "@/server/instance";
import { forbiddenHost } from "@/server/http";
import { appRouter } from "@/server/trpc/router";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

async function handler(request: Request): Promise<Response> {
  const refused = forbiddenHost(request);
  if (refused) return refused;
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: request,
    router: appRouter,
    // Queries come as POST (a pipeline being validated can be longer than a URL may be).
    allowMethodOverride: true,
    createContext: async () => {
      const server = await getServer();
      return { studio: server.studio, runs: server.runs, downloads: server.downloads };
    },
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`tRPC ${path ?? "?"}:`, error.cause ?? error);
    },
  });
}

export { handler as GET, handler as POST };
