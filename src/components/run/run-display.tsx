"use client";
/**
 * A run on screen: its config warnings, the stage graph with each stage's state, a panel per stage with
 * its text streaming (a column per model for a multi stage, then its aggregation), then the run's
 * outcome (the final answer, or why there is none), per-stage figures and a timeline. Used live on the
 * Run page and for a stored session in History. Model text is rendered as text (React escapes it):
 * nothing a model writes can run in the page.
 *
 * Nothing above what the reader is looking at grows when a later event comes: the outcome appears after
 * the stages, where the run's text ends, and the timeline's bars stay inside its box.
 */
import { useTranslations } from "next-intl";
import { memo, useId, useLayoutEffect, useMemo, useRef, useState, type CSSProperties, type ReactNode } from "react";
import { callSegments, stageColumns, textBlocks, type RunView, type SegmentKind, type StageView, type TimelineSegment } from "@/client/run-view";
import type { RunWarning } from "@/engine/events";
import { segmentsContent, useDescribeError } from "@/components/use-describe-error";
import { describeStageError, errorSegments, type ErrorSegments, type ErrorsTranslator, type MarkupTranslator, type Segment, type StageErrorText } from "@/i18n/describe-errors";
import { Badge, CopyButton, Figure, useFormat } from "@/components/ui";

/** Stage ids (or model names) as data, never translated. */
function Names({ names }: { names: readonly string[] }) {
  return <span translate="no">{names.join(", ")}</span>;
}

/** A stage's state as a badge; a stage that never ran because an earlier one failed says so. */
function StageBadge({ state }: { state: StageView["state"] }) {
  const t = useTranslations("run.stage");
  return state === "skipped" ? <Badge state="waiting">{t("notRun")}</Badge> : <Badge state={state} />;
}

const methodNames = ["concat", "vote", "synthesis", "template"] as const;
type MethodName = (typeof methodNames)[number];

/** An aggregation method in the page's language (a name we do not know is shown as it is). */
function useMethodName(): (method: string | undefined) => string {
  const t = useTranslations("run.methods");
  return (method) => (methodNames.includes(method as MethodName) ? t(method as MethodName) : (method ?? ""));
}

/**
 * The run's config warnings (a prompt with `{input}` in single braces, ...): the run went on. Each says
 * where it is (a file's line and column, a key path) and what it says in the page's language; a pipeline
 * sent with the run has no file, and its warnings name the key path alone.
 */
function Warnings({ warnings, inline }: { warnings: readonly RunWarning[]; inline: boolean }) {
  const t = useTranslations("run.warnings");
  const describe = useDescribeError();
  return (
    <section aria-label={t("region")} className="rounded border border-amber-300 bg-amber-50 px-3 py-2 text-xs text-amber-950 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100">
      <h2 className="font-medium">{t("title", { count: warnings.length })}</h2>
      <ul className="mt-1 space-y-0.5">
        {warnings.map((warning, index) => (
          <li key={index} className="break-words">
            {describe.issueContent({ ...warning, file: inline ? undefined : warning.file })}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The stages as a graph from the input to the answer, in columns by depth, each with its state. */
export function RunGraph({ view }: { view: RunView }) {
  const t = useTranslations("run.graph");
  const methodName = useMethodName();
  const columns = stageColumns(view);
  const node = "shrink-0 rounded border border-dashed border-neutral-400 px-3 py-2 text-xs text-neutral-500";
  const outcome = hasOutcome(view);
  // Its own box scrolls sideways when the stages do not fit (a phone): the page never does.
  return (
    <section aria-label={t("region")} className="flex min-w-0 items-stretch gap-3 overflow-x-auto rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <div className="flex items-center">
        <div className={node}>{t("input")}</div>
      </div>
      {columns.map((column, index) => (
        <div key={index} className="flex shrink-0 items-center gap-3">
          <span aria-hidden className="text-neutral-400">
            →
          </span>
          <div className="flex flex-col gap-2">
            {column.map((id) => {
              const stage = view.stages[id]!;
              const progress = Object.values(stage.lanes).find((lane) => lane.loading)?.loadProgress;
              return (
                <a
                  key={id}
                  href={`#stage-${id}`}
                  data-testid={`graph-stage-${id}`}
                  data-state={stage.state}
                  className="min-w-36 rounded border border-neutral-300 px-3 py-2 text-sm hover:border-blue-500 dark:border-neutral-700"
                >
                  <div className="flex items-center justify-between gap-2">
                    <span className="font-medium" translate="no">
                      {stage.name ?? id}
                    </span>
                    <StageBadge state={stage.state} />
                  </div>
                  <div className="mt-1 text-xs text-neutral-500">
                    {stage.type === "multi" ? t("models", { count: stage.models.length, method: methodName(stage.aggregationMethod) }) : <Names names={stage.models} />}
                    {stage.inputFrom.length > 0 ? <> · {t.rich("from", { stages: () => <Names names={stage.inputFrom} /> })}</> : null}
                  </div>
                  {stage.state === "loading" && progress !== undefined ? (
                    <div className="mt-1 h-1 rounded bg-neutral-200 dark:bg-neutral-800" role="progressbar" aria-label={t("loading")} aria-valuenow={Math.round(progress * 100)}>
                      <div className="h-1 rounded bg-amber-500" style={{ width: `${Math.round(progress * 100)}%` }} />
                    </div>
                  ) : null}
                </a>
              );
            })}
          </div>
        </div>
      ))}
      <div className="flex shrink-0 items-center gap-3">
        <span aria-hidden className="text-neutral-400">
          →
        </span>
        {/* The outcome comes after the stages: this leads to it. */}
        {outcome ? (
          <a href="#run-outcome" className={`${node} hover:border-blue-500`}>
            {t("answer")}
          </a>
        ) : (
          <div className={node}>{t("answer")}</div>
        )}
      </div>
    </section>
  );
}

function StageFigures({ stage }: { stage: StageView }) {
  const t = useTranslations("run.figures");
  const format = useFormat();
  const metrics = stage.end?.metrics;
  if (!metrics) return null;
  // A cached stage called no model: it has no speed of its own, only the tokens its stored answer took.
  const cached = stage.state === "cached";
  return (
    <dl className="mt-2 flex flex-wrap gap-x-6 gap-y-1">
      {cached ? null : <Figure label={t("firstToken")} value={format.ms(metrics.timeToFirstTokenMs)} />}
      {cached ? null : <Figure label={t("tokensPerSecond")} value={format.number(metrics.tokensPerSecond, 1)} />}
      <Figure label={t("tokensInOut")} value={`${format.number(metrics.tokensIn)} / ${format.number(metrics.tokensOut)}`} />
      {/* How much of the prompt was read anew; the rest came from the KV cache of an earlier call. */}
      {metrics.promptTokensEvaluated !== undefined && <Figure label={t("prompt")} value={t("promptTokens", { tokens: metrics.tokensIn, evaluated: metrics.promptTokensEvaluated })} />}
      <Figure label={t("duration")} value={format.ms(metrics.durationMs)} />
    </dl>
  );
}

/** A block of streamed text; memoised, so that blocks before the last one are never rendered again. */
const TextBlock = memo(function TextBlock({ text, children }: { text: string; children?: ReactNode }) {
  // `elementtiming`: the browser reports when each block's text is first painted (see `useRunStream`).
  return (
    <div {...{ elementtiming: "run-text" }}>
      {text}
      {children}
    </div>
  );
});

/** How close to its end (px) a text box counts as read to the end: a reader there is following the text. */
const followSlackPx = 16;

/** Whether a text box shows its end (see `followSlackPx`). */
function atEnd(node: HTMLElement): boolean {
  return node.scrollHeight - node.scrollTop - node.clientHeight <= followSlackPx;
}

/**
 * Streamed text, as a column of blocks that each end at a line break (see `textBlocks`): text appended
 * at the end changes the last block only, so a long answer costs the browser the same per frame as a
 * short one (one block of text laid out again, not the whole answer).
 *
 * While the text comes, the box keeps its end in view as long as the reader is at its end; a reader who
 * scrolls up stays where they are, and is followed again once back at the end. (A few lines of our own:
 * the libraries for this animate their scrolling, and text that comes every frame needs none.)
 *
 * The box's moves say which way the reader went: up stops the following, down to the end starts it
 * again. A scroll event of the box's own move to the end (it comes a frame later) moved nothing since,
 * and changes nothing: were it read as "at the end", one that came after a reader's wheel turned up, but
 * before the browser's smooth scroll had moved the box, would take the box back down.
 */
function Text({ text, testId, pending }: { text: string; testId: string; pending: boolean }) {
  const blocks = useMemo(() => textBlocks(text), [text]);
  const box = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  /** Where the box was at its last scroll event or its own last move, and how tall its text was. */
  const last = useRef({ top: 0, height: 0 });
  // Before the paint: the new text is never seen at a place the box then leaves.
  useLayoutEffect(() => {
    const node = box.current;
    if (!node) return;
    // Text that got shorter (the browser moves the box up to fit it) is no move of the reader's.
    if (node.scrollHeight < last.current.height) following.current = atEnd(node);
    if (pending && following.current) node.scrollTop = node.scrollHeight;
    last.current = { top: node.scrollTop, height: node.scrollHeight };
  }, [text, pending]);
  const cursor = pending ? <span aria-hidden className="ml-0.5 inline-block h-3.5 w-1.5 motion-safe:animate-pulse bg-blue-500 align-middle" /> : null;
  return (
    <div
      ref={box}
      data-testid={testId}
      translate="no"
      onScroll={(event) => {
        const node = event.currentTarget;
        if (node.scrollTop < last.current.top) following.current = false;
        else if (node.scrollTop > last.current.top) following.current = atEnd(node);
        last.current = { top: node.scrollTop, height: node.scrollHeight };
      }}
      // A wheel turned up stops the following before the smooth scroll it starts has moved the box.
      onWheel={(event) => {
        const node = event.currentTarget;
        if (event.deltaY < 0 && !event.ctrlKey && node.scrollTop > 0) following.current = false;
      }}
      className="max-h-96 min-h-12 overflow-auto whitespace-pre-wrap break-words rounded bg-neutral-50 p-2 font-mono text-[13px] leading-relaxed dark:bg-neutral-900"
    >
      {blocks.length === 0 ? cursor : blocks.map((block, index) => <TextBlock key={index} text={block}>{index === blocks.length - 1 ? cursor : null}</TextBlock>)}
    </div>
  );
}

/** The failures of runs in the page's language: the `run.errors` and `run.failure` messages (see `describeStageError`). */
function useRunFailures(): { failures: ErrorSegments; stageError: (error: NonNullable<StageView["error"]>) => StageErrorText | undefined } {
  const headlines = useTranslations("run.errors");
  const failure = useTranslations("run.failure");
  return useMemo(() => {
    const failures = errorSegments(failure as unknown as ErrorsTranslator);
    return { failures, stageError: (error) => describeStageError(headlines as unknown as MarkupTranslator, failures, error) };
  }, [headlines, failure]);
}

/** What went wrong, in the page's words when they have a message for it, else in the server's own (English, kept as data). */
function FailureDetail({ details, message, className }: { details: Segment[] | undefined; message: string; className: string }) {
  return details === undefined ? (
    <p translate="no" className={`${className} font-mono`}>
      {message}
    </p>
  ) : (
    <p className={className}>{segmentsContent(details)}</p>
  );
}

/** A stage id that leads to its panel. */
function StageLink({ id }: { id: string }) {
  return (
    <a href={`#stage-${id}`} className="font-mono underline" translate="no">
      {id}
    </a>
  );
}

/**
 * Why a stage has no answer. A cancelled stage says nothing here (its badge says it: a cancel is not an
 * error); a stage that never ran names the stage whose failure stopped it; a failure says what went
 * wrong, then the details (a model, a path, token counts).
 */
function StageError({ error }: { error: NonNullable<StageView["error"]> }) {
  const described = useRunFailures().stageError(error);
  if (!described) return null;
  if (described.notRun) {
    return <p className="mt-2 text-sm text-neutral-600 dark:text-neutral-400">{segmentsContent(described.headline, (id, key) => <StageLink key={key} id={id} />)}</p>;
  }
  return (
    <div className="mt-2 text-sm text-red-800 dark:text-red-300">
      <p className="font-medium">{segmentsContent(described.headline)}</p>
      <FailureDetail details={described.details} message={error.message} className="mt-0.5 break-words text-xs" />
    </div>
  );
}

/** A tallied answer, cut to a few lines with a button that shows it whole when it is longer. */
function TallyAnswer({ answer }: { answer: string }) {
  const t = useTranslations("run.tally");
  const id = useId();
  const text = useRef<HTMLDivElement>(null);
  const [whole, setWhole] = useState(false);
  const [cut, setCut] = useState(false);
  useLayoutEffect(() => {
    const node = text.current;
    if (!node || whole) return;
    const measure = () => setCut(node.scrollHeight > node.clientHeight + 1);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(node);
    return () => observer.disconnect();
  }, [answer, whole]);
  return (
    <>
      <div id={id} ref={text} className={`whitespace-pre-wrap break-words ${whole ? "" : "line-clamp-3"}`}>
        {answer ? <span translate="no">{answer}</span> : t("empty")}
      </div>
      {cut || whole ? (
        <button
          type="button"
          aria-expanded={whole}
          aria-controls={id}
          onClick={() => setWhole(!whole)}
          className="mt-0.5 rounded text-xs text-blue-700 hover:underline focus-visible:outline-2 focus-visible:outline-blue-500 dark:text-blue-300"
        >
          {whole ? t("less") : t("more")}
        </button>
      ) : null}
    </>
  );
}

function VoteTallies({ stage, aggregation }: { stage: StageView; aggregation: Extract<NonNullable<NonNullable<StageView["end"]>["aggregation"]>, { method: "vote" }> }) {
  const t = useTranslations("run.tally");
  const format = useFormat();
  return (
    <table className="mt-2 w-full text-sm">
      <caption className="sr-only">{t.rich("caption", { stage: () => <span translate="no">{stage.id}</span> })}</caption>
      <thead>
        <tr className="text-left text-xs text-neutral-500">
          <th className="pr-4 font-normal">{t("answer")}</th>
          <th className="pr-4 font-normal">{t("votes")}</th>
          <th className="font-normal">{t("models")}</th>
        </tr>
      </thead>
      <tbody>
        {aggregation.tallies.map((tally) => (
          <tr key={tally.answer} className={`border-t border-neutral-200 align-top dark:border-neutral-800 ${tally.answer === aggregation.winner ? "font-medium" : ""}`}>
            <td className="w-full py-1 pr-4">
              <TallyAnswer answer={tally.answer} />
            </td>
            <td className="py-1 pr-4 tabular-nums">{format.number(tally.votes)}</td>
            <td className="break-words py-1">
              <Names names={tally.models} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A stage in progress when its run's process stopped: when, and that its text until then is kept. */
function Interrupted({ at }: { at: number }) {
  const t = useTranslations("run.stage");
  const format = useFormat();
  return (
    <p data-testid="stage-interrupted" className="mt-2 text-sm text-neutral-600 dark:text-neutral-400">
      {t("interrupted", { time: format.dateTime(at) })}
    </p>
  );
}

/** One stage; memoised, so that only the stage whose events arrived re-renders. */
export const StagePanel = memo(function StagePanel({ stage }: { stage: StageView }) {
  const t = useTranslations("run.stage");
  const methodName = useMethodName();
  const heading = useId();
  const live = stage.state === "generating" || stage.state === "loading";
  // A stage that ended without an answer shows the text its models wrote, and no empty boxes.
  const stopped = stage.state === "failed" || stage.state === "skipped" || stage.state === "cancelled" || stage.state === "interrupted";
  const shown = (text: string | undefined) => !stopped || Boolean(text);
  const aggregation = stage.end?.aggregation;
  const method = methodName(stage.aggregationMethod);
  const laneHeader = (model: string, loading: boolean, progress: number | undefined) => (
    <div className="mb-1 text-xs text-neutral-500">
      <span translate="no">{model}</span>
      {loading ? ` · ${t("loading", { progress: progress ?? 0 })}` : ""}
    </div>
  );
  return (
    <section id={`stage-${stage.id}`} aria-labelledby={heading} data-testid={`stage-${stage.id}`} data-state={stage.state} className="min-w-0 rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <header className="flex flex-wrap items-center gap-x-2 gap-y-1">
        <h3 id={heading} className="font-medium">
          <span className="sr-only">{t("region")} </span>
          <span translate="no">{stage.name ?? stage.id}</span>
        </h3>
        <StageBadge state={stage.state} />
        <span className="text-xs text-neutral-500">
          {stage.type === "multi" ? t("multi", { count: stage.models.length, method }) : t("single")}
          {" · "}
          {stage.inputFrom.length > 0 ? t.rich("inputFrom", { several: stage.inputFrom.length > 1 ? "yes" : "no", stages: () => <Names names={stage.inputFrom} /> }) : t("userInput")}
        </span>
      </header>
      {stage.error ? <StageError error={stage.error} /> : null}
      {stage.state === "interrupted" && stage.endedAt !== undefined ? <Interrupted at={stage.endedAt} /> : null}
      {stage.state === "cached" ? (
        <p className="mt-1 text-xs text-neutral-600 dark:text-neutral-400" data-testid={`cached-${stage.id}`}>
          {t("cachedNote")}
        </p>
      ) : null}
      {stage.type === "single" ? (
        <div className="mt-2">
          {Object.values(stage.lanes)
            .filter((lane) => shown(lane.text))
            .map((lane) => (
              <div key={lane.model}>
                {laneHeader(lane.model, lane.loading, lane.loadProgress)}
                <Text text={lane.text} testId={`text-${stage.id}-${lane.model}`} pending={live} />
              </div>
            ))}
        </div>
      ) : (
        <>
          <div className="mt-2 grid gap-2 sm:[grid-template-columns:var(--lanes)]" style={{ "--lanes": `repeat(${Math.min(stage.models.length, 4)}, minmax(0, 1fr))` } as CSSProperties}>
            {stage.models.map((model, index) => {
              const lane = stage.lanes[model];
              if (!shown(lane?.text)) return null;
              return (
                <div key={`${model}-${index}`} className="min-w-0">
                  {laneHeader(model, lane?.loading ?? false, lane?.loadProgress)}
                  <Text text={lane?.text ?? ""} testId={`text-${stage.id}-${model}`} pending={live && !lane?.endAt && !stage.end} />
                </div>
              );
            })}
          </div>
          {stage.aggregationMethod === "synthesis" && (stage.aggregationText || aggregation) ? (
            <div className="mt-2">
              <div className="mb-1 text-xs text-neutral-500">
                {aggregation?.method === "synthesis" ? t.rich("synthesisBy", { model: () => <span translate="no">{aggregation.output.model}</span> }) : method}
              </div>
              <Text text={stage.aggregationText} testId={`aggregation-${stage.id}`} pending={live} />
            </div>
          ) : null}
          {aggregation?.method === "vote" ? <VoteTallies stage={stage} aggregation={aggregation} /> : null}
          {stage.end && stage.aggregationMethod !== "synthesis" ? (
            <div className="mt-2">
              <div className="mb-1 text-xs text-neutral-500">{aggregation?.method === "vote" && aggregation.tie ? t("answerTie", { method }) : t("answer", { method })}</div>
              <Text text={stage.end.answer} testId={`answer-${stage.id}`} pending={false} />
            </div>
          ) : null}
        </>
      )}
      <StageFigures stage={stage} />
    </section>
  );
});

/** The latest time the view knows of: while a run goes, the timeline spans up to its latest event. */
function latestTime(view: RunView, start: number): number {
  let latest = start + 1;
  for (const stage of Object.values(view.stages)) {
    latest = Math.max(latest, stage.startedAt ?? latest, stage.endedAt ?? latest, stage.aggregationTiming?.lastAt ?? latest);
    for (const lane of Object.values(stage.lanes)) latest = Math.max(latest, lane.lastAt ?? latest, lane.endAt ?? latest);
  }
  return latest;
}

/** The colour of each part of a model call in the timeline, and of its key in the legend. */
const segmentColors: Record<SegmentKind, string> = {
  // In dark mode each stands out from the lane, neutral-900, by 3:1 or more.
  waiting: "bg-neutral-300 dark:bg-neutral-500",
  loading: "bg-amber-400 dark:bg-amber-500",
  reading: "bg-blue-300",
  generating: "bg-blue-500",
  failed: "bg-red-400",
  reused: "bg-teal-400",
  // Violet-500: 3:1 or more on the light lane too.
  cached: "bg-violet-500",
};
const segmentKinds = Object.keys(segmentColors) as SegmentKind[];

/** Which stage ran when, on which model: a bar per model call, in parts (waiting, loading, reading, generating). */
export function Timeline({ view }: { view: RunView }) {
  const t = useTranslations("run.timeline");
  const format = useFormat();
  const methodName = useMethodName();
  const start = view.startedAt;
  if (start === undefined) return null;
  const end = view.endedAt ?? latestTime(view, start);
  const span = Math.max(1, end - start);
  const rows = view.order.flatMap((id) => {
    const stage = view.stages[id]!;
    const stageStart = stage.startedAt;
    if (stageStart === undefined) return [];
    const stageEnd = stage.endedAt ?? end;
    // A failure names the model whose call failed; without a name, every call of the stage shows it.
    const failed = (model: string) => stage.state === "failed" && (stage.error?.model === undefined || stage.error.model === model);
    const lanes: Array<{ key: string; label: string; segments: TimelineSegment[] }> = stage.models.map((model) => {
      const lane = stage.lanes[model];
      const segments: TimelineSegment[] =
        stage.state === "reused" || stage.state === "cached"
          ? [{ kind: stage.state, from: stageStart, to: stageEnd }]
          : callSegments({
              start: stageStart,
              loadStartAt: lane?.loadStartAt,
              loadedAt: lane?.loadedAt,
              readAt: lane?.startAt,
              firstAt: lane?.firstAt,
              end: lane?.endAt ?? lane?.lastAt ?? stageEnd,
              failed: failed(model),
            });
      return { key: `${id}/${model}`, label: `${id} · ${model}`, segments };
    });
    const synthesis = stage.aggregationTiming;
    if (synthesis?.firstAt !== undefined) {
      const segments = callSegments({ start: synthesis.startAt ?? synthesis.firstAt, readAt: synthesis.startAt, firstAt: synthesis.firstAt, end: synthesis.lastAt ?? stageEnd, failed: stage.state === "failed" });
      lanes.push({ key: `${id}/synthesis`, label: `${id} · ${methodName("synthesis")}`, segments });
    }
    return lanes;
  });
  const shown = segmentKinds.filter((kind) => rows.some((row) => row.segments.some((segment) => segment.kind === kind)));
  // Why a call waited, said when the waits are worth a look (the first run's, a queue on a CPU).
  const waitedLong = rows.some((row) => row.segments.some((segment) => segment.kind === "waiting" && segment.to - segment.from >= span * 0.1));
  // Shares of the span, kept inside it: a part never reaches past its track.
  const share = (time: number) => Math.min(1, Math.max(0, (time - start) / span));
  const place = (from: number, to: number) => {
    const left = share(from);
    return { left: `${(left * 100).toFixed(2)}%`, width: `${(Math.max(Math.min(0.005, 1 - left), share(to) - left) * 100).toFixed(2)}%` };
  };
  return (
    <section aria-label={t("region")} className="min-w-0 rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <h3 className="mb-2 text-sm font-medium">
        {t("title")} <span className="font-normal text-neutral-500">({format.ms(span)})</span>
      </h3>
      <div className="space-y-1">
        {rows.map((row) => (
          <div key={row.key} data-testid={`lane-${row.key}`} className="flex items-center gap-2 text-xs">
            <div translate="no" className="w-24 shrink-0 truncate text-neutral-600 sm:w-48 dark:text-neutral-400" title={row.label}>
              {row.label}
            </div>
            <div className="relative h-4 min-w-0 flex-1 overflow-hidden rounded bg-neutral-100 dark:bg-neutral-900">
              {row.segments.map((segment, index) => (
                <div
                  key={index}
                  data-segment={segment.kind}
                  translate="no"
                  title={`${row.label}: ${t(`parts.${segment.kind}`)}, ${format.ms(segment.from - start)} → ${format.ms(segment.to - start)}`}
                  className={`absolute h-4 ${segmentColors[segment.kind]}`}
                  style={place(segment.from, segment.to)}
                />
              ))}
            </div>
          </div>
        ))}
      </div>
      <ul className="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs text-neutral-500">
        {shown.map((kind) => (
          <li key={kind} className="flex items-center gap-1.5">
            <span aria-hidden className={`inline-block h-2.5 w-2.5 rounded-sm ${segmentColors[kind]}`} />
            {t(`parts.${kind}`)}
          </li>
        ))}
      </ul>
      {waitedLong ? <p className="mt-1 text-xs text-neutral-500">{t("waiting")}</p> : null}
    </section>
  );
}

/** A run that ended without its final answer. */
const unfinished = (status: RunView["status"]): status is "failed" | "cancelled" | "interrupted" => status === "failed" || status === "cancelled" || status === "interrupted";

/** Whether the run has an outcome to show (see `RunOutcome`). */
function hasOutcome(view: RunView): boolean {
  return unfinished(view.status) || view.finalAnswer !== undefined;
}

/**
 * How the run ended: the final answer with a copy button, or why there is none (a failure, in red; a
 * cancel or an interruption, plainly, once). Nothing while the run goes.
 */
function RunOutcome({ view }: { view: RunView }) {
  const t = useTranslations("run.result");
  const format = useFormat();
  const { failures } = useRunFailures();
  if (unfinished(view.status)) {
    const failedStage = view.status === "failed" ? view.error?.stageId : undefined;
    return (
      <section
        id="run-outcome"
        aria-label={t("region")}
        className={`rounded border p-3 ${view.status === "failed" ? "border-red-300 dark:border-red-800" : "border-neutral-300 dark:border-neutral-700"}`}
      >
        <h2 className="font-medium">
          {failedStage
            ? t.rich("failedAt", { stage: () => <StageLink id={failedStage} /> })
            : t(view.status)}
        </h2>
        {view.status === "failed" && !failedStage && view.error ? (
          <FailureDetail details={failures.coded(view.error)} message={view.error.message} className="mt-1 break-words text-xs text-red-800 dark:text-red-300" />
        ) : null}
        {view.status === "interrupted" && view.endedAt !== undefined ? (
          <p data-testid="run-stopped-at" className="mt-1 text-sm">
            {t("stoppedAt", { time: format.dateTime(view.endedAt) })}
          </p>
        ) : null}
      </section>
    );
  }
  if (view.finalAnswer === undefined) return null;
  return (
    <section id="run-outcome" aria-label={t("finalAnswer")} className="rounded border-2 border-blue-500/60 p-4">
      <div className="flex items-center justify-between gap-2">
        <h2 className="text-lg font-semibold">{t("finalAnswer")}</h2>
        <CopyButton text={view.finalAnswer} label={t("copy")} />
      </div>
      <pre data-testid="final-answer" translate="no" className="mt-2 whitespace-pre-wrap break-words font-sans text-base leading-relaxed">
        {view.finalAnswer}
      </pre>
    </section>
  );
}

/** The whole run on screen, in reading order: warnings, graph, stages, outcome, timeline. */
export function RunDisplay({ view }: { view: RunView }) {
  return (
    <div className="min-w-0 space-y-3">
      {view.warnings && view.warnings.length > 0 ? <Warnings warnings={view.warnings} inline={view.inlinePipeline ?? false} /> : null}
      <RunGraph view={view} />
      {view.order.map((id) => (
        <StagePanel key={id} stage={view.stages[id]!} />
      ))}
      <RunOutcome view={view} />
      <Timeline view={view} />
    </div>
  );
}
