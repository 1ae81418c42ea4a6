"use client";
import { useQuery } from "@tanstack/react-query";
import { diffWordsWithSpace } from "diff";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { describeError, useTRPC } from "@/client/trpc";
import { Badge, ErrorBox, formatMs } from "@/components/ui";
import type { Pipeline } from "@/config/schema";

const box = "whitespace-pre-wrap break-words rounded bg-neutral-50 p-2 font-mono text-[13px] dark:bg-neutral-900";

/**
 * Two texts side by side with their word differences marked: on the left what the right one no longer
 * has (struck through, red), on the right what it added (green).
 */
function SideBySide({ before, after, label }: { before: string; after: string; label: string }) {
  const parts = diffWordsWithSpace(before, after);
  // Each side shows the words both share, and its own: the left what was removed, the right what was added.
  const side = (own: "removed" | "added") => (
    <pre className={box} data-side={own === "removed" ? "left" : "right"}>
      {parts.map((part, index) => {
        if (part.added || part.removed) {
          if (!part[own]) return null;
          return own === "removed" ? (
            <del key={index} className="bg-red-200 dark:bg-red-900/60">
              {part.value}
            </del>
          ) : (
            <ins key={index} className="bg-green-200 no-underline dark:bg-green-900/60">
              {part.value}
            </ins>
          );
        }
        return <span key={index}>{part.value}</span>;
      })}
    </pre>
  );
  return (
    <div className="grid grid-cols-2 gap-4" role="group" aria-label={label}>
      {side("removed")}
      {side("added")}
    </div>
  );
}

export function ComparePage() {
  const trpc = useTRPC();
  const params = useSearchParams();
  const a = params.get("a") ?? "";
  const b = params.get("b") ?? "";
  const left = useQuery({ ...trpc.sessions.get.queryOptions({ id: a }), enabled: Boolean(a) });
  const right = useQuery({ ...trpc.sessions.get.queryOptions({ id: b }), enabled: Boolean(b) });
  if (!a || !b) return <p className="text-sm">Pick two sessions on the <Link href="/history" className="text-blue-700 underline dark:text-blue-300">History</Link> page to compare them.</p>;
  if (left.error || right.error) return <ErrorBox title="Cannot open a session" message={describeError(left.error ?? right.error)} />;
  if (!left.data || !right.data) return <p className="text-sm text-neutral-500">Loading…</p>;
  const l = left.data;
  const r = right.data;
  const stageIds = [...new Set([...(l.pipeline as Pipeline).stages.map((stage) => stage.id), ...(r.pipeline as Pipeline).stages.map((stage) => stage.id)])];
  const header = (session: typeof l) => (
    <div className="text-sm">
      <Link href={`/history/${session.id}`} className="font-mono text-blue-700 hover:underline dark:text-blue-300">
        {session.id}
      </Link>{" "}
      <Badge state={session.status} /> <span className="text-neutral-500">{session.pipelineName} · {formatMs(session.durationMs)}</span>
    </div>
  );
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Compare sessions</h1>
      <div className="grid grid-cols-2 gap-4">
        {header(l)}
        {header(r)}
      </div>
      <p className="text-xs text-neutral-500">
        Left, the first session; right, the second. Marked: <del className="bg-red-200 dark:bg-red-900/60">what the second no longer has</del> and{" "}
        <ins className="bg-green-200 no-underline dark:bg-green-900/60">what it added</ins>.
      </p>
      <section aria-label="Input difference">
        <h2 className="mb-1 font-medium">Input {l.input === r.input ? <span className="text-xs font-normal text-neutral-500">(same)</span> : null}</h2>
        <SideBySide before={l.input} after={r.input} label="input" />
      </section>
      {stageIds.map((stageId) => {
        const before = l.stages[stageId];
        const after = r.stages[stageId];
        const models = [...new Set([...(before?.models ?? []).map((output) => output.model), ...(after?.models ?? []).map((output) => output.model)])];
        const answerOf = (record: typeof before, model: string) => record?.models.find((output) => output.model === model)?.answer ?? "";
        return (
          <section key={stageId} aria-label={`Stage ${stageId} difference`} className="space-y-2 rounded border border-neutral-200 p-3 dark:border-neutral-800">
            <h2 className="font-medium">
              Stage {stageId}{" "}
              <span className="text-xs font-normal text-neutral-500">
                {before?.status ?? "absent"}
                {before?.reused ? " (reused)" : ""} → {after?.status ?? "absent"}
                {after?.reused ? " (reused)" : ""}
                {before?.answer === after?.answer ? " · same answer" : " · answers differ"}
              </span>
            </h2>
            {models.length > 1
              ? models.map((model) => (
                  <div key={model}>
                    <div className="mb-1 text-xs text-neutral-500">{model}</div>
                    <SideBySide before={answerOf(before, model)} after={answerOf(after, model)} label={`${stageId} ${model}`} />
                  </div>
                ))
              : null}
            <div>
              {models.length > 1 ? <div className="mb-1 text-xs text-neutral-500">stage answer</div> : null}
              <SideBySide before={before?.answer ?? ""} after={after?.answer ?? ""} label={`${stageId} answer`} />
            </div>
            <div className="grid grid-cols-2 gap-4 text-xs text-neutral-500">
              <span>{before?.metrics ? `${before.metrics.tokensOut} tokens, ${before.metrics.tokensPerSecond.toFixed(0)} tok/s, ${formatMs(before.metrics.durationMs)}` : ""}</span>
              <span>{after?.metrics ? `${after.metrics.tokensOut} tokens, ${after.metrics.tokensPerSecond.toFixed(0)} tok/s, ${formatMs(after.metrics.durationMs)}` : ""}</span>
            </div>
          </section>
        );
      })}
      <section aria-label="Final answer difference">
        <h2 className="mb-1 font-medium">Final answer</h2>
        <SideBySide before={l.finalAnswer ?? ""} after={r.finalAnswer ?? ""} label="final answer" />
      </section>
    </div>
  );
}
