/**
 * Starting a run from the browser through `POST /api/runs`. `fetch` is called before `startRun` returns:
 * the tRPC client sends from a promise chain, after the render a click causes (10-20 ms here), and this
 * request is on the path from Run to the first token.
 */
import type { IssueData } from "../i18n/describe-errors";

/** A config issue as the server sends it (see `IssueData`). */
export type ApiIssue = IssueData;

/** An error answered by the plain HTTP surface: `{"error": {"code", "message", "issues"?}}`. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly issues: ApiIssue[];
  /** The values the message names (see `useDescribeError`). */
  readonly params?: Record<string, string | number>;

  constructor(status: number, code: string, message: string, issues: ApiIssue[] = [], params?: Record<string, string | number>) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.issues = issues;
    this.params = params;
  }
}

/** `cache: false`: every stage is computed, none served from the stage cache. */
export function startRun(body: { pipeline: string; input: string; id: string; cache?: boolean }): Promise<{ id: string }> {
  const sent = fetch("/api/runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return sent.then(
    async (response) => {
      const answer = (await response.json().catch(() => null)) as { id?: string; error?: { code?: string; message?: string; issues?: ApiIssue[]; params?: Record<string, string | number> } } | null;
      if (!response.ok || typeof answer?.id !== "string") {
        const error = answer?.error;
        throw new ApiError(response.status, error?.code ?? "internal", error?.message ?? `the server answered ${response.status}`, error?.issues, error?.params);
      }
      return { id: answer.id };
    },
    () => {
      // `fetch` itself failed: no answer came.
      throw new ApiError(0, "unreachable", "Cannot reach the studio's server: is it still running? (The run did not start.)");
    },
  );
}
