/** How a session names what it ran; no server-only import, so that the pages can use it too. */
import type { SessionSummary } from "./session.js";

/** Whether a session ran a pipeline sent with the run and never saved (the editor's unsaved edits, an API call on a model). */
export function neverSaved(summary: Pick<SessionSummary, "pipelineName" | "inlinePipeline">): boolean {
  return summary.inlinePipeline === true && summary.pipelineName === "unsaved";
}

/**
 * What a session names as what it ran: its pipeline's name; for a call of the API on a model, the model
 * as the client named it; nothing for a pipeline sent with the run and never saved.
 */
export function ranName(summary: Pick<SessionSummary, "pipelineName" | "inlinePipeline" | "api">): string | undefined {
  return neverSaved(summary) ? summary.api?.model : summary.pipelineName;
}
