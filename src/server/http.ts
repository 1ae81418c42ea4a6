/** The plain HTTP surface's helpers: errors as JSON with a code, a message and the right status. */
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { ProjectLlmError } from "../common/index.js";
import { getAccessControl, hasRole, type Authentication, type Identity, type Role } from "./auth/index.js";
import { hostName, isAllowedHost } from "./allowed-hosts.js";
import { toTRPCError } from "./trpc/init.js";

export function jsonError(error: unknown): Response {
  const trpcError = toTRPCError(error);
  const project = ProjectLlmError.isInstance(error) ? error : undefined;
  const status = getHTTPStatusCodeFromError(trpcError);
  if (status >= 500) console.error(error);
  const headers: Record<string, string> = {};
  const retryAfter = project?.details?.retryAfterSeconds;
  if (typeof retryAfter === "number") headers["retry-after"] = String(retryAfter);
  // The rest of a body too large is not read: the connection cannot carry another request.
  if (project?.code === "body-too-large") headers.connection = "close";
  return Response.json(
    {
      error: {
        code: project?.code ?? (status >= 500 ? "internal" : "usage"),
        message: status >= 500 && !project ? "internal error; see the server's log" : trpcError.message,
        ...(project?.details?.issues ? { issues: project.details.issues } : {}),
        ...(project?.details?.params ? { params: project.details.params } : {}),
        ...(project?.details?.plan ? { plan: project.details.plan } : {}),
      },
    },
    { status, headers },
  );
}

export function usageError(message: string, status = 400): Response {
  return Response.json({ error: { code: "usage", message } }, { status });
}

/**
 * A 403 for a request that names the studio by a host it does not answer to (see `isAllowedHost`), else
 * null. Every API route calls it first: the pages hold no data, the API does.
 */
export function forbiddenHost(request: Request): Response | null {
  const host = request.headers.get("host");
  if (isAllowedHost(host, { HOST: process.env.HOST, PROJECT_LLM_ALLOWED_HOSTS: process.env.PROJECT_LLM_ALLOWED_HOSTS })) return null;
  const name = hostName(host ?? "").slice(0, 100);
  return Response.json(
    {
      error: {
        code: "forbidden-host",
        message: `this studio does not answer to the host name "${name}"; if the name is yours, start the studio with PROJECT_LLM_ALLOWED_HOSTS=${name} (a comma-separated list)`,
      },
    },
    { status: 403 },
  );
}

/**
 * The answer to a request whose credentials did not name a user: 401; 403 from another machine to a
 * studio that serves this one only; or 429 with Retry-After after repeated failures.
 */
export function refusedAuthentication(result: Extract<Authentication, { ok: false }>): Response {
  const response = jsonError(result.error);
  if (result.status !== 429) return response;
  return new Response(response.body, { status: 429, headers: { "content-type": "application/json", "retry-after": String(result.retryAfterS ?? 1) } });
}

/**
 * Who sent the request, when they may do what needs `role`; else the response that refuses it (a host
 * the studio does not answer to, no user, or a role below `role`). Every API route but the health check
 * and the login calls it first: with access control off, everyone is the local admin.
 */
export async function authorize(request: Request, role: Role): Promise<Identity | Response> {
  const refused = forbiddenHost(request);
  if (refused) return refused;
  const result = await getAccessControl().authenticate(request);
  if (!result.ok) return refusedAuthentication(result);
  if (!hasRole(result.identity.role, role)) {
    return jsonError(new ProjectLlmError("forbidden", `this needs the role ${role} or above; ${result.identity.user} is ${result.identity.role}`, { details: { params: { role } } }));
  }
  return result.identity;
}
