/** The plain HTTP surface's helpers: errors as JSON with a code, a message and the right status. */
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { ProjectLlmError } from "../common/index.js";
import { toTRPCError } from "./trpc/init.js";

export function jsonError(error: unknown): Response {
  const trpcError = toTRPCError(error);
  const project = ProjectLlmError.isInstance(error) ? error : undefined;
  const status = getHTTPStatusCodeFromError(trpcError);
  if (status >= 500) console.error(error);
  return Response.json(
    {
      error: {
        code: project?.code ?? (status >= 500 ? "internal" : "usage"),
        message: status >= 500 && !project ? "internal error; see the server's log" : trpcError.message,
        ...(project?.details?.issues ? { issues: project.details.issues } : {}),
      },
    },
    { status },
  );
}

export function usageError(message: string, status = 400): Response {
  return Response.json({ error: { code: "usage", message } }, { status });
}
