import { getAccessControl } from "@/server/auth/index";
import { readText } from "@/server/body-limit";
import { forbiddenHost, jsonError, refusedAuthentication, usageError } from "@/server/http";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** A login's body is `{"token": "..."}`, a token of 44 characters. */
const loginBodyLimit = 4096;

/**
 * Logs a browser in: `{"token": TOKEN}` sets the login cookie (httpOnly, SameSite=Lax, Secure over
 * HTTPS) and answers who it is. Open to anonymous requests, as a login must be; failed attempts are
 * slowed per client address (see LoginThrottle). Scripts need no login: they send the token as a bearer.
 */
export async function POST(request: Request): Promise<Response> {
  const refused = forbiddenHost(request);
  if (refused) return refused;
  // JSON only: a cross-site HTML form cannot log a browser in as someone else (login CSRF).
  if (!request.headers.get("content-type")?.toLowerCase().startsWith("application/json")) {
    return usageError('send the body as JSON with "Content-Type: application/json": {"token": "..."}', 415);
  }
  // Open to anyone: the body is read with a small limit, never buffered past it (413).
  let text: string;
  try {
    text = await readText(request, loginBodyLimit);
  } catch (error) {
    return jsonError(error);
  }
  let token: unknown;
  try {
    token = (JSON.parse(text) as { token?: unknown } | null)?.token;
  } catch {
    return usageError("the body is not valid JSON");
  }
  if (typeof token !== "string" || token.length === 0 || token.length > 200) return usageError('the body is {"token": "..."}, the token an admin gave you');
  try {
    const result = await getAccessControl().login(token, request);
    if (!result.ok) return refusedAuthentication(result);
    const headers = new Headers({ "cache-control": "no-store" });
    if (result.setCookie) headers.set("set-cookie", result.setCookie);
    return Response.json({ user: result.identity.user, role: result.identity.role }, { headers });
  } catch (error) {
    return jsonError(error);
  }
}
