"use client";
/**
 * A run on screen: the stage graph with each stage's state, a panel per stage with its text streaming
 * (a column per model for a multi stage, then its aggregation), the final answer, per-stage figures and
 * a timeline. Used live on the Run page and for a stored session in History. Model text is rendered as
 * text (React escapes it): nothing a model writes can run in the page.
 */
import { memo, useMemo, type ReactNode } from "react";
import { stageColumns, textBlocks, type RunView, type StageView } from "@/client/run-view";
import { Badge, CopyButton, Figure, formatMs } from "@/components/ui";

const stateLabel: Record<StageView["state"], string> = {
  waiting: "waiting",
  loading: "loading model",
  generating: "generating",
  done: "done",
  failed: "failed",
  cancelled: "cancelled",
  reused: "reused",
};

export function RunGraph({ view }: { view: RunView }) {
  const columns = stageColumns(view);
  return (
    <section aria-label="Pipeline graph" className="flex items-stretch gap-3 overflow-x-auto rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <div className="flex items-center">
        <div className="rounded border border-dashed border-neutral-400 px-3 py-2 text-xs text-neutral-500">input</div>
      </div>
      {columns.map((column, index) => (
        <div key={index} className="flex items-center gap-3">
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
                    <span className="font-medium">{stage.name ?? id}</span>
                    <Badge state={stage.state}>{stateLabel[stage.state]}</Badge>
                  </div>
                  <div className="mt-1 text-xs text-neutral-500">
                    {stage.type === "multi" ? `${stage.models.length} models · ${stage.aggregationMethod}` : stage.models[0]}
                    {stage.inputFrom.length > 0 ? ` · from ${stage.inputFrom.join(", ")}` : ""}
                  </div>
                  {stage.state === "loading" && progress !== undefined ? (
                    <div className="mt-1 h-1 rounded bg-neutral-200 dark:bg-neutral-800" role="progressbar" aria-label={`loading ${id}`} aria-valuenow={Math.round(progress * 100)}>
                      <div className="h-1 rounded bg-amber-500" style={{ width: `${Math.round(progress * 100)}%` }} />
                    </div>
                  ) : null}
                </a>
              );
            })}
          </div>
        </div>
      ))}
    </section>
  );
}

function StageFigures({ stage }: { stage: StageView }) {
  const metrics = stage.end?.metrics;
  if (!metrics) return null;
  return (
    <dl className="mt-2 flex flex-wrap gap-x-6 gap-y-1">
      <Figure label="first token" value={formatMs(metrics.timeToFirstTokenMs)} />
      <Figure label="tokens/s" value={metrics.tokensPerSecond.toFixed(1)} />
      <Figure label="tokens in / out" value={`${metrics.tokensIn} / ${metrics.tokensOut}`} />
      <Figure label="duration" value={formatMs(metrics.durationMs)} />
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

/**
 * Streamed text, as a column of blocks that each end at a line break (see `textBlocks`): text appended
 * at the end changes the last block only, so a long answer costs the browser the same per frame as a
 * short one (one block of text laid out again, not the whole answer).
 */
function Text({ text, testId, pending }: { text: string; testId: string; pending: boolean }) {
  const blocks = useMemo(() => textBlocks(text), [text]);
  const cursor = pending ? <span aria-hidden className="ml-0.5 inline-block h-3.5 w-1.5 animate-pulse bg-blue-500 align-middle" /> : null;
  return (
    <div
      data-testid={testId}
      className="max-h-96 min-h-12 overflow-auto whitespace-pre-wrap break-words rounded bg-neutral-50 p-2 font-mono text-[13px] leading-relaxed dark:bg-neutral-900"
    >
      {blocks.length === 0 ? cursor : blocks.map((block, index) => <TextBlock key={index} text={block}>{index === blocks.length - 1 ? cursor : null}</TextBlock>)}
    </div>
  );
}

/** One stage; memoised, so that only the stage whose events arrived re-renders. */
export const StagePanel = memo(function StagePanel({ stage }: { stage: StageView }) {
  const live = stage.state === "generating" || stage.state === "loading";
  const aggregation = stage.end?.aggregation;
  return (
    <section id={`stage-${stage.id}`} aria-label={`Stage ${stage.id}`} data-testid={`stage-${stage.id}`} data-state={stage.state} className="rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <header className="flex flex-wrap items-center gap-2">
        <h3 className="font-medium">{stage.name ?? stage.id}</h3>
        <Badge state={stage.state}>{stateLabel[stage.state]}</Badge>
        <span className="text-xs text-neutral-500">
          {stage.type === "multi" ? `multi · ${stage.aggregationMethod}` : "single"} {stage.inputFrom.length ? `· input from ${stage.inputFrom.join(", ")}` : "· user input"}
        </span>
      </header>
      {stage.error ? (
        <p role="alert" className="mt-2 text-sm text-red-700 dark:text-red-300">
          {stage.error.code === "upstream-failed" ? `Not run: ${stage.error.message}` : stage.error.message}
        </p>
      ) : null}
      {stage.type === "single" ? (
        <div className="mt-2">
          {Object.values(stage.lanes).map((lane) => (
            <div key={lane.model}>
              <div className="mb-1 text-xs text-neutral-500">
                {lane.model}
                {lane.loading ? ` · loading ${Math.round((lane.loadProgress ?? 0) * 100)}%` : ""}
              </div>
              <Text text={lane.text} testId={`text-${stage.id}-${lane.model}`} pending={live} />
            </div>
          ))}
        </div>
      ) : (
        <>
          <div className="mt-2 grid gap-2" style={{ gridTemplateColumns: `repeat(${Math.min(stage.models.length, 4)}, minmax(0, 1fr))` }}>
            {stage.models.map((model, index) => {
              const lane = stage.lanes[model];
              return (
                <div key={`${model}-${index}`}>
                  <div className="mb-1 text-xs text-neutral-500">
                    {model}
                    {lane?.loading ? ` · loading ${Math.round((lane.loadProgress ?? 0) * 100)}%` : ""}
                  </div>
                  <Text text={lane?.text ?? ""} testId={`text-${stage.id}-${model}`} pending={live && !lane?.endAt && !stage.end} />
                </div>
              );
            })}
          </div>
          {stage.aggregationMethod === "synthesis" && (stage.aggregationText || aggregation) ? (
            <div className="mt-2">
              <div className="mb-1 text-xs text-neutral-500">synthesis{aggregation?.method === "synthesis" ? ` by ${aggregation.output.model}` : ""}</div>
              <Text text={stage.aggregationText} testId={`aggregation-${stage.id}`} pending={live} />
            </div>
          ) : null}
          {aggregation?.method === "vote" ? (
            <table className="mt-2 text-sm" aria-label={`Vote tallies of ${stage.id}`}>
              <thead>
                <tr className="text-left text-xs text-neutral-500">
                  <th className="pr-4 font-normal">answer</th>
                  <th className="pr-4 font-normal">votes</th>
                  <th className="font-normal">models</th>
                </tr>
              </thead>
              <tbody>
                {aggregation.tallies.map((tally) => (
                  <tr key={tally.answer} className={tally.answer === aggregation.winner ? "font-medium" : ""}>
                    <td className="max-w-md truncate pr-4">{tally.answer || "(empty)"}</td>
                    <td className="pr-4 tabular-nums">{tally.votes}</td>
                    <td>{tally.models.join(", ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {stage.end && stage.aggregationMethod !== "synthesis" ? (
            <div className="mt-2">
              <div className="mb-1 text-xs text-neutral-500">stage answer ({stage.aggregationMethod}{aggregation?.method === "vote" && aggregation.tie ? ", tie broken by model order" : ""})</div>
              <Text text={stage.end.answer} testId={`answer-${stage.id}`} pending={false} />
            </div>
          ) : null}
        </>
      )}
      <StageFigures stage={stage} />
    </section>
  );
});

/** Which stage ran when, on which model: a bar per model lane from the stage's start to its end. */
export function Timeline({ view }: { view: RunView }) {
  const start = view.startedAt;
  if (start === undefined) return null;
  const end = view.endedAt ?? Math.max(start + 1, ...Object.values(view.stages).map((stage) => stage.endedAt ?? stage.startedAt ?? start));
  const span = Math.max(1, end - start);
  const rows = view.order.flatMap((id) => {
    const stage = view.stages[id]!;
    if (stage.startedAt === undefined) return [];
    const stageEnd = stage.endedAt ?? end;
    const lanes = stage.models.map((model) => {
      const lane = stage.lanes[model];
      return { key: `${id}/${model}`, label: `${id} · ${model}`, from: lane?.startAt ?? stage.startedAt!, first: lane?.firstAt, to: lane?.endAt ?? lane?.lastAt ?? stageEnd, state: stage.state };
    });
    const synthesis = stage.aggregationTiming;
    if (synthesis?.firstAt !== undefined) {
      lanes.push({ key: `${id}/synthesis`, label: `${id} · synthesis`, from: synthesis.startAt ?? synthesis.firstAt, first: synthesis.firstAt, to: synthesis.lastAt ?? stageEnd, state: stage.state });
    }
    return lanes;
  });
  const x = (time: number) => `${(((time - start) / span) * 100).toFixed(2)}%`;
  const width = (from: number, to: number) => `${Math.max(0.5, ((to - from) / span) * 100).toFixed(2)}%`;
  return (
    <section aria-label="Timeline" className="rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <h3 className="mb-2 text-sm font-medium">Timeline <span className="font-normal text-neutral-500">({formatMs(span)})</span></h3>
      <div className="space-y-1">
        {rows.map((row) => (
          <div key={row.key} className="flex items-center gap-2 text-xs">
            <div className="w-48 shrink-0 truncate text-neutral-600 dark:text-neutral-400">{row.label}</div>
            <div className="relative h-4 flex-1 rounded bg-neutral-100 dark:bg-neutral-900">
              <div
                title={`${row.label}: ${formatMs(row.from - start)} → ${formatMs(row.to - start)}`}
                className={`absolute h-4 rounded ${row.state === "failed" ? "bg-red-400" : row.state === "reused" ? "bg-teal-400" : "bg-blue-400/40"}`}
                style={{ left: x(row.from), width: width(row.from, row.to) }}
              />
              {row.first !== undefined ? <div className="absolute h-4 rounded bg-blue-500" style={{ left: x(row.first), width: width(row.first, row.to) }} /> : null}
            </div>
          </div>
        ))}
      </div>
      <p className="mt-2 text-xs text-neutral-500">Light: loading and reading the prompt; dark: generating.</p>
    </section>
  );
}

export function FinalAnswer({ view }: { view: RunView }) {
  if (view.status === "connecting" || view.status === "running") {
    if (view.finalAnswer === undefined) return null;
  }
  if (view.status === "failed" || view.status === "cancelled" || view.status === "interrupted") {
    const title = { failed: "The run failed", cancelled: "The run was cancelled", interrupted: "The run was interrupted: the server stopped while it ran" }[view.status];
    return (
      <section aria-label="Result" className="rounded border border-red-300 p-3 dark:border-red-800">
        <h2 className="font-medium">{title}</h2>
        {view.error ? <p className="mt-1 text-sm text-red-700 dark:text-red-300">{view.error.message}</p> : null}
      </section>
    );
  }
  if (view.finalAnswer === undefined) return null;
  return (
    <section aria-label="Final answer" className="rounded border-2 border-blue-500/60 p-4">
      <div className="flex items-center justify-between">
        <h2 className="text-lg font-semibold">Final answer</h2>
        <CopyButton text={view.finalAnswer} label="Copy answer" />
      </div>
      <pre data-testid="final-answer" className="mt-2 whitespace-pre-wrap break-words font-sans text-base leading-relaxed">
        {view.finalAnswer}
      </pre>
    </section>
  );
}

export function RunDisplay({ view }: { view: RunView }) {
  return (
    <div className="space-y-3">
      <RunGraph view={view} />
      <FinalAnswer view={view} />
      {view.order.map((id) => (
        <StagePanel key={id} stage={view.stages[id]!} />
      ))}
      <Timeline view={view} />
    </div>
  );
}
