/**
 * Unsaved edits kept while a run started from the editor goes on: Run leaves the editor for the Run page,
 * and the edits are back when the user comes back to the pipeline (Back, or the Run page's Edit link).
 * Kept in the tab's sessionStorage, so another tab never gets them; taken once.
 */
import { pipelineSchema, type Pipeline } from "@/config/schema";

const prefix = "project-llm:editor-draft:";

export interface Draft {
  /** The file's version the edits started from; null for a pipeline not saved yet. */
  version: string | null;
  /** What the file held then (the point undo goes back to); null for a pipeline not saved yet. */
  saved: Pipeline | null;
  pipeline: Pipeline;
}

export function keepDraft(name: string, draft: Draft): void {
  try {
    sessionStorage.setItem(prefix + name, JSON.stringify(draft));
  } catch {
    // Storage full or refused: the run goes on, and the edits live in its session.
  }
}

/** The draft kept for `name`, removed from storage; undefined when there is none (or it no longer parses). */
export function takeDraft(name: string): Draft | undefined {
  let text: string | null;
  try {
    text = sessionStorage.getItem(prefix + name);
    sessionStorage.removeItem(prefix + name);
  } catch {
    return undefined;
  }
  if (text === null) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Draft>;
    const pipeline = pipelineSchema.safeParse(value.pipeline);
    const saved = value.saved === null ? null : pipelineSchema.safeParse(value.saved);
    if (!pipeline.success || (saved !== null && !saved.success) || (typeof value.version !== "string" && value.version !== null)) return undefined;
    return { version: value.version ?? null, saved: saved === null ? null : saved.data!, pipeline: pipeline.data };
  } catch {
    return undefined;
  }
}
