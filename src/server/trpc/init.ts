/**
 * tRPC setup: the context (the server's studio and runs), and errors mapped from our closed list of codes
 * to tRPC's (and so to HTTP statuses), with the code and any config issues kept in `data`.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ProjectLlmError, type ErrorCode } from "../../common/index.js";
import type { ConfigIssue } from "../../config/index.js";
import type { Studio } from "../../core/index.js";
import type { DownloadManager } from "../downloads.js";
import type { RunManager } from "../run-manager.js";

export interface Context {
  studio: Studio;
  runs: RunManager;
  downloads: DownloadManager;
}

const statusOf: Partial<Record<ErrorCode, TRPC_ERROR_CODE_KEY>> = {
  "config-not-found": "PRECONDITION_FAILED",
  "config-parse": "UNPROCESSABLE_CONTENT",
  "config-schema": "UNPROCESSABLE_CONTENT",
  "config-invalid": "UNPROCESSABLE_CONTENT",
  "config-too-large": "PAYLOAD_TOO_LARGE",
  "pipeline-not-found": "NOT_FOUND",
  "model-missing": "PRECONDITION_FAILED",
  "model-outside-directory": "UNPROCESSABLE_CONTENT",
  "model-not-gguf": "UNPROCESSABLE_CONTENT",
  "download-not-found": "NOT_FOUND",
  "download-forbidden": "FORBIDDEN",
  "download-failed": "BAD_GATEWAY",
  "disk-full": "PRECONDITION_FAILED",
  "folder-not-writable": "PRECONDITION_FAILED",
  "session-not-found": "NOT_FOUND",
  "invalid-id": "BAD_REQUEST",
  usage: "BAD_REQUEST",
  conflict: "CONFLICT",
  cancelled: "CLIENT_CLOSED_REQUEST",
  unavailable: "SERVICE_UNAVAILABLE",
  busy: "TOO_MANY_REQUESTS",
  "body-too-large": "PAYLOAD_TOO_LARGE",
};

/** A tRPC error for anything thrown by the studio; unknown errors stay internal. */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (ProjectLlmError.isInstance(error)) return new TRPCError({ code: statusOf[error.code] ?? "INTERNAL_SERVER_ERROR", message: error.message, cause: error });
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: error instanceof Error ? error.message : String(error), cause: error });
}

const t = initTRPC.context<Context>().create({
  sse: {
    // Keeps proxies from closing a quiet stream (a model loading); the client reconnects after 20 s of silence.
    ping: { enabled: true, intervalMs: 10_000 },
    client: { reconnectAfterInactivityMs: 20_000 },
  },
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const project = ProjectLlmError.isInstance(cause) ? cause : undefined;
    return {
      ...shape,
      data: {
        ...shape.data,
        // Stack traces are for the server's log, not the browser.
        stack: undefined,
        appCode: project?.code ?? null,
        issues: (project?.details?.issues as ConfigIssue[] | undefined) ?? null,
        // The values the message names, for the pages to say it in their own language.
        params: (project?.details?.params as Record<string, string | number> | undefined) ?? null,
      },
    };
  },
});

const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && !(result.error.cause instanceof TRPCError) && ProjectLlmError.isInstance(result.error.cause)) {
    return { ...result, error: toTRPCError(result.error.cause) };
  }
  return result;
});

export const router = t.router;
export const procedure = t.procedure.use(mapErrors);
export const createCallerFactory = t.createCallerFactory;
