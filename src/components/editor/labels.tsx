"use client";
/**
 * The editor's words for what is on the canvas, in the page's language: stages and edges as a screen
 * reader names them, refused edits, key names. Ids, model and file names are data, not words of the
 * interface: they are marked `translate="no"`.
 */
import { useFormatter, useTranslations } from "next-intl";
import { useMemo, type ReactNode } from "react";
import type { Stage } from "@/config/schema";
import { inputIds, type PipelineEdge, type Refusal } from "./pipeline-graph";

/** Text that is data (an id, a model or file name, a placeholder), not interface. */
export function Data({ children, className }: { children: ReactNode; className?: string }) {
  return (
    <span translate="no" className={className}>
      {children}
    </span>
  );
}

/** A key's name (Enter, Ctrl+Z). */
export function Key({ children }: { children: ReactNode }) {
  return (
    <kbd translate="no" className="rounded border border-neutral-300 px-1 font-mono text-[0.9em] dark:border-neutral-700">
      {children}
    </kbd>
  );
}

/** Tags the editor's messages use: `<data>` and `<code>` (in a monospace font) for data, `<key>` for key names. */
export const dataTags = {
  data: (chunks: ReactNode) => <Data>{chunks}</Data>,
  code: (chunks: ReactNode) => <Data className="font-mono">{chunks}</Data>,
  key: (chunks: ReactNode) => <Key>{chunks}</Key>,
};

export interface EditorText {
  /** "a, b and c", each item marked as data. */
  list(items: readonly string[], className?: string): ReactNode;
  /** Why an edit was refused. */
  refusal(refusal: Refusal): ReactNode;
  /** What a screen reader says for a stage's node: "Stage draft, single, model storyteller, reads the user's input, 1 error". */
  stageName(stage: Stage, problems?: { errors: number; warnings: number }): ReactNode;
  /** What a screen reader says for an edge: "Edge from draft to voices", "The user's input to draft". */
  edgeName(edge: Pick<PipelineEdge, "source" | "target" | "fromInput">): ReactNode;
}

/** Separated by ", " (the accessible name of a node is one sentence of parts). */
function parts(items: ReactNode[]): ReactNode {
  return items.flatMap((item, index) => (index === 0 ? [item] : [", ", item])).map((item, index) => <span key={index}>{item}</span>);
}

export function useEditorText(): EditorText {
  const t = useTranslations("editor");
  const format = useFormatter();
  return useMemo(() => {
    const list: EditorText["list"] = (items, className = "font-mono") =>
      format.list(
        items.map((item, index) => (
          <Data key={index} className={className}>
            {item}
          </Data>
        )),
        { type: "conjunction" },
      );
    return {
      list,
      refusal(refusal) {
        switch (refusal.reason) {
          case "input-reads-nothing":
            return t("refusals.inputReadsNothing");
          case "no-such-stage":
            return t.rich("refusals.noSuchStage", { ...dataTags, stage: refusal.stage });
          case "self-loop":
            return t.rich("refusals.selfLoop", { ...dataTags, stage: refusal.stage });
          case "cycle":
            return t.rich("refusals.cycle", { ...dataTags, source: refusal.source, target: refusal.target, path: refusal.path.join(" → ") });
          case "malformed-id":
            return t("refusals.malformedId");
          case "taken-id":
            return t.rich("refusals.takenId", { ...dataTags, stage: refusal.stage });
        }
      },
      stageName(stage, problems = { errors: 0, warnings: 0 }) {
        const upstream = inputIds(stage);
        return parts([
          stage.name && stage.name !== stage.id ? t.rich("aria.stageNamed", { ...dataTags, id: stage.id, name: stage.name }) : t.rich("aria.stage", { ...dataTags, id: stage.id }),
          stage.type === "single"
            ? stage.model
              ? t.rich("aria.single", { ...dataTags, model: stage.model })
              : t("aria.singleNoModel")
            : t.rich("aria.multi", { ...dataTags, models: () => list(stage.models), method: t(`methods.${stage.aggregation.method}`) }),
          upstream.length === 0 ? t("aria.readsInput") : t.rich("aria.reads", { stages: () => list(upstream) }),
          ...(problems.errors > 0 ? [t("aria.errors", { count: problems.errors })] : []),
          ...(problems.warnings > 0 ? [t("aria.warnings", { count: problems.warnings })] : []),
        ]);
      },
      edgeName(edge) {
        return edge.fromInput ? t.rich("aria.inputEdge", { ...dataTags, target: edge.target }) : t.rich("aria.edge", { ...dataTags, source: edge.source, target: edge.target });
      },
    };
  }, [t, format]);
}
