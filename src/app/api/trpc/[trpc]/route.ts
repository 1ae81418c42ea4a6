import { getServer } from "@/server/instance";
import { forbiddenHost } from "@/server/http";
import { handleTrpcRequest } from "@/server/trpc/http";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

async function handler(request: Request): Promise<Response> {
  const refused = forbiddenHost(request);
  if (refused) return refused;
  return handleTrpcRequest(request, await getServer());
}

export { handler as GET, handler as POST };
