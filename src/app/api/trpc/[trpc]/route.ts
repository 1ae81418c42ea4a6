import { getAccessControl } from "@/server/auth/index";
import { getServer } from "@/server/instance";
import { forbiddenHost } from "@/server/http";
import { createContext } from "@/server/trpc/context";
import { handleTrpcRequest } from "@/server/trpc/http";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

async function handler(request: Request): Promise<Response> {
  const refused = forbiddenHost(request);
  if (refused) return refused;
  const server = await getServer();
  const context = await createContext(request, server, getAccessControl());
  if (context instanceof Response) return context;
  return handleTrpcRequest(request, server, context);
}

export { handler as GET, handler as POST };
