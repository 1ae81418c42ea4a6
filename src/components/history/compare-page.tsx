"use client";
import { useQuery } from "@tanstack/react-query";
import { diffWordsWithSpace } from "diff";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useTranslations } from "next-intl";
import { useId, type ReactNode } from "react";
import { useTRPC } from "@/client/trpc";
import { Badge, ErrorBox, useFormat } from "@/components/ui";
import { useDescribeError } from "@/components/use-describe-error";
import type { Pipeline } from "@/config/schema";
import type { StageRecord } from "@/engine/events";
import { ranName } from "@/store/session-name";
import { SessionMarks } from "./session-marks";
import type { SessionData } from "./session-data";

const box = "whitespace-pre-wrap break-words rounded bg-neutral-50 p-2 font-mono text-[13px] dark:bg-neutral-900";
const removedStyle = "bg-red-200 dark:bg-red-900/60";
const addedStyle = "bg-green-200 no-underline dark:bg-green-900/60";

/**
 * Two texts side by side with their word differences marked: on the left what the right one no longer
 * has (struck through, red), on the right what it added (green). Named by `label`, or by the element
 * `labelledBy` names.
 */
function SideBySide({ before, after, label, labelledBy }: { before: string; after: string; label?: string; labelledBy?: string }) {
  const parts = diffWordsWithSpace(before, after);
  // Each side shows the words both share, and its own: the left what was removed, the right what was added.
  const side = (own: "removed" | "added") => (
    <pre className={box} data-side={own === "removed" ? "left" : "right"} translate="no">
      {parts.map((part, index) => {
        if (part.added || part.removed) {
          if (!part[own]) return null;
          return own === "removed" ? (
            <del key={index} className={removedStyle}>
              {part.value}
            </del>
          ) : (
            <ins key={index} className={addedStyle}>
              {part.value}
            </ins>
          );
        }
        return <span key={index}>{part.value}</span>;
      })}
    </pre>
  );
  return (
    <div className="grid grid-cols-2 gap-2 sm:gap-4" role="group" aria-label={label} aria-labelledby={labelledBy}>
      {side("removed")}
      {side("added")}
    </div>
  );
}

/** One stage of both sessions: its state on each side, each model's answer and the stage's answer, figures. */
function StageDifference({ stageId, before, after }: { stageId: string; before: StageRecord | undefined; after: StageRecord | undefined }) {
  const t = useTranslations("history.compare");
  const format = useFormat();
  const titleId = useId();
  const models = [...new Set([...(before?.models ?? []).map((output) => output.model), ...(after?.models ?? []).map((output) => output.model)])];
  const answerOf = (record: StageRecord | undefined, model: string) => record?.models.find((output) => output.model === model)?.answer ?? "";
  const state = (record: StageRecord | undefined) => `${t(`stageStatus.${record?.status ?? "absent"}`)}${record?.reused ? ` ${t("reused")}` : ""}${record?.cached ? ` ${t("cached")}` : ""}`;
  const figures = (record: StageRecord | undefined) =>
    record?.metrics ? t("figures", { tokens: record.metrics.tokensOut, rate: format.number(record.metrics.tokensPerSecond, 0), duration: format.ms(record.metrics.durationMs) }) : "";
  const code = (chunks: ReactNode) => <span translate="no">{chunks}</span>;
  return (
    <section aria-labelledby={titleId} className="space-y-2 rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <h2 className="font-medium">
        <span id={titleId}>{t.rich("stage", { stage: stageId, code })}</span>{" "}
        <span className="text-xs font-normal text-neutral-500">
          {state(before)} → {state(after)} · {before?.answer === after?.answer ? t("sameAnswer") : t("answersDiffer")}
        </span>
      </h2>
      {models.length > 1
        ? models.map((model) => (
            <ModelDifference key={model} model={model} before={answerOf(before, model)} after={answerOf(after, model)} />
          ))
        : null}
      <div>
        {models.length > 1 ? <div className="mb-1 text-xs text-neutral-500">{t("stageAnswer")}</div> : null}
        <SideBySide before={before?.answer ?? ""} after={after?.answer ?? ""} labelledBy={titleId} />
      </div>
      <div className="grid grid-cols-2 gap-2 text-xs text-neutral-500 sm:gap-4">
        <span>{figures(before)}</span>
        <span>{figures(after)}</span>
      </div>
    </section>
  );
}

/** One model's answers in both sessions, named by the model. */
function ModelDifference({ model, before, after }: { model: string; before: string; after: string }) {
  const nameId = useId();
  return (
    <div>
      <div id={nameId} className="mb-1 text-xs text-neutral-500" translate="no">
        {model}
      </div>
      <SideBySide before={before} after={after} labelledBy={nameId} />
    </div>
  );
}

/** The head of one side: its id, state, pipeline, when it started and how long it ran. */
function SessionHead({ session }: { session: SessionData }) {
  const format = useFormat();
  return (
    <div className="space-y-1 text-sm">
      <div className="flex flex-wrap items-center gap-2">
        <Link href={`/history/${session.id}`} className="font-mono text-xs text-blue-700 hover:underline dark:text-blue-300" translate="no">
          {session.id}
        </Link>
        <Badge state={session.status} />
        <SessionMarks summary={session} kind="branch" />
        <SessionMarks summary={session} kind="pipeline" />
      </div>
      <div className="text-xs text-neutral-500">
        {ranName(session) === undefined ? null : (
          <>
            <span translate="no">{ranName(session)}</span> ·{" "}
          </>
        )}
        {format.dateTime(session.startedAt)} · {format.ms(session.durationMs)}
      </div>
    </div>
  );
}

export function ComparePage() {
  const t = useTranslations("history.compare");
  const common = useTranslations("common");
  const describe = useDescribeError();
  const trpc = useTRPC();
  const params = useSearchParams();
  const a = params.get("a") ?? "";
  const b = params.get("b") ?? "";
  const left = useQuery({ ...trpc.sessions.get.queryOptions({ id: a }), enabled: Boolean(a) });
  const right = useQuery({ ...trpc.sessions.get.queryOptions({ id: b }), enabled: Boolean(b) });
  if (!a || !b) {
    return (
      <p className="text-sm">
        {t.rich("pickTwo", {
          link: (chunks) => (
            <Link href="/history" className="text-blue-700 underline dark:text-blue-300">
              {chunks}
            </Link>
          ),
        })}
      </p>
    );
  }
  if (left.error || right.error) return <ErrorBox title={t("cannotOpen")} message={describe.error(left.error ?? right.error)} />;
  if (!left.data || !right.data) return <p className="text-sm text-neutral-500">{common("loading")}</p>;
  const l = left.data;
  const r = right.data;
  const stageIds = [...new Set([...(l.pipeline as Pipeline).stages.map((stage) => stage.id), ...(r.pipeline as Pipeline).stages.map((stage) => stage.id)])];
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">{t("title")}</h1>
      <div className="grid grid-cols-2 gap-2 sm:gap-4">
        <SessionHead session={l} />
        <SessionHead session={r} />
      </div>
      <p className="text-xs text-neutral-500">
        {t.rich("legend", {
          removed: (chunks) => <del className={removedStyle}>{chunks}</del>,
          added: (chunks) => <ins className={addedStyle}>{chunks}</ins>,
        })}
      </p>
      <section aria-label={t("inputRegion")}>
        <h2 className="mb-1 font-medium">
          {t("input")} {l.input === r.input ? <span className="text-xs font-normal text-neutral-500">{t("same")}</span> : null}
        </h2>
        <SideBySide before={l.input} after={r.input} label={t("inputPair")} />
      </section>
      {stageIds.map((stageId) => (
        <StageDifference key={stageId} stageId={stageId} before={l.stages[stageId]} after={r.stages[stageId]} />
      ))}
      <section aria-label={t("finalRegion")}>
        <h2 className="mb-1 font-medium">{t("finalAnswer")}</h2>
        <SideBySide before={l.finalAnswer ?? ""} after={r.finalAnswer ?? ""} label={t("finalPair")} />
      </section>
    </div>
  );
}
