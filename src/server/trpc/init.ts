/**
 * tRPC setup: the context (the server's studio and runs), and errors mapped from our closed list of codes
 * to tRPC's (and so to HTTP statuses), with the code and any config issues kept in `data`.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ProjectLlmError, type ErrorCode } from "../../common/index.js";
import type { ConfigIssue } from "../../config/index.js";
import { hasRole, type AccessControl, type Identity, type Role } from "../auth/index.js";
import type { Studio } from "../../core/index.js";
import type { DownloadManager } from "../downloads.js";
import type { RunManager } from "../run-manager.js";

export interface Context {
  studio: Studio;
  runs: RunManager;
  downloads: DownloadManager;
  /** Who sent the request; null for no one (refused by every procedure). */
  identity: Identity | null;
  /** The users and logins (the process's own when absent). */
  access?: AccessControl;
}

/** Every procedure declares the least role that may call it (see `viewerProcedure` and the others). */
export interface Meta {
  role: Role;
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
  // An input too long for the model's context: the caller's to shorten (an OpenAI client must not retry it).
  "context-overflow": "BAD_REQUEST",
  "plan-does-not-fit": "UNPROCESSABLE_CONTENT",
  "download-not-found": "NOT_FOUND",
  "download-forbidden": "FORBIDDEN",
  "download-failed": "BAD_GATEWAY",
  "remote-failed": "BAD_GATEWAY",
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
  unauthenticated: "UNAUTHORIZED",
  forbidden: "FORBIDDEN",
};

/** A tRPC error for anything thrown by the studio; unknown errors stay internal. */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (ProjectLlmError.isInstance(error)) return new TRPCError({ code: statusOf[error.code] ?? "INTERNAL_SERVER_ERROR", message: error.message, cause: error });
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: error instanceof Error ? error.message : String(error), cause: error });
}

const t = initTRPC.context<Context>().meta<Meta>().create({
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
        // A refused run's plan, for the page to show why and what to change.
        plan: project?.details?.plan ?? null,
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

/**
 * Refuses a request without an identity, or whose role is below the procedure's. It runs before the
 * input is read, so an anonymous caller learns nothing of what a procedure expects. A procedure without
 * a role (one made from `t.procedure` directly, which this file does not export) is refused to everyone.
 */
const requireRole = t.middleware(({ ctx, meta, next }) => {
  if (!meta?.role) throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "this procedure declares no role" });
  if (!ctx.identity) throw toTRPCError(new ProjectLlmError("unauthenticated", "log in first: open /login with your token, or send Authorization: Bearer TOKEN"));
  if (!hasRole(ctx.identity.role, meta.role)) {
    throw toTRPCError(new ProjectLlmError("forbidden", `this needs the role ${meta.role} or above; ${ctx.identity.user} is ${ctx.identity.role}`, { details: { params: { role: meta.role } } }));
  }
  return next({ ctx: { identity: ctx.identity } });
});

const guarded = t.procedure.use(mapErrors).use(requireRole);

export const router = t.router;
/** Reads: sessions, runs, pipelines, models (with the models folder's path and the machine's RAM). */
export const viewerProcedure = guarded.meta({ role: "viewer" });
/** Starts runs; cancels and reruns one's own. */
export const runnerProcedure = guarded.meta({ role: "runner" });
/** Saves and deletes pipelines, manages models. */
export const editorProcedure = guarded.meta({ role: "editor" });
/** Manages users; cancels and deletes anyone's runs. */
export const adminProcedure = guarded.meta({ role: "admin" });
export const createCallerFactory = t.createCallerFactory;
