import { getServer } from "@/server/instance";
import { authorize, jsonError } from "@/server/http";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The session record of a run (in progress or ended). */
export async function GET(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  const identity = await authorize(request, "viewer");
  if (identity instanceof Response) return identity;
  const { id } = await context.params;
  try {
    const server = await getServer();
    return Response.json(await server.studio.sessions.get(id));
  } catch (error) {
    return jsonError(error);
  }
}
