import { getAccessControl } from "@/server/auth/index";
import { forbiddenHost } from "@/server/http";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Logs a browser out: clears the login cookie. Open to anonymous requests: it changes nothing but the caller's own cookie. */
export function POST(request: Request): Response {
  const refused = forbiddenHost(request);
  if (refused) return refused;
  return new Response(null, { status: 204, headers: { "set-cookie": getAccessControl().logoutCookie(request), "cache-control": "no-store" } });
}
