/** The context of a tRPC request: the server's studio, and who sent the request. */
import type { AccessControl } from "../auth/index.js";
import { refusedAuthentication } from "../http.js";
import type { ServerInstance } from "../instance.js";
import type { Context } from "./init.js";

/**
 * The context for `request`. A request that names no user gets `identity: null` and every procedure
 * refuses it (UNAUTHORIZED, in tRPC's shape, which the pages understand); a client locked out after
 * repeated failed logins gets the refusal itself (429), since that is no procedure's to answer.
 */
export async function createContext(request: Request, server: Pick<ServerInstance, "studio" | "runs" | "downloads">, access: AccessControl): Promise<Context | Response> {
  const result = await access.authenticate(request);
  // A lockout (429), or another machine at a studio that serves this one only (403): no procedure's to answer.
  if (!result.ok && result.status !== 401) return refusedAuthentication(result);
  return { studio: server.studio, runs: server.runs, downloads: server.downloads, access, identity: result.ok ? result.identity : null };
}
