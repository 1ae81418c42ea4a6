"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useState } from "react";
import { applyEvents, emptyRunView } from "@/client/run-view";
import { describeError, useTRPC } from "@/client/trpc";
import { RunDisplay } from "@/components/run/run-display";
import { useRunStream } from "@/components/run/use-run-stream";
import { Badge, Button, CopyButton, ErrorBox, formatMs } from "@/components/ui";
import type { Pipeline } from "@/config/schema";
import type { SessionTreeNode } from "@/store/session-store";

function Tree({ node, current }: { node: SessionTreeNode; current: string }) {
  return (
    <li className="ml-3 border-l border-neutral-300 pl-3 dark:border-neutral-700">
      <div className="flex items-center gap-2 py-0.5 text-sm" data-testid={`tree-node-${node.id}`}>
        {node.id === current ? (
          <span className="font-mono text-xs font-semibold" aria-current="true">
            {node.id}
          </span>
        ) : (
          <Link href={`/history/${node.id}`} className="font-mono text-xs text-blue-700 hover:underline dark:text-blue-300">
            {node.id}
          </Link>
        )}
        <Badge state={node.status} />
        {node.rerunFromStage ? <span className="text-xs text-neutral-500">rerun from {node.rerunFromStage}</span> : <span className="text-xs text-neutral-500">original</span>}
      </div>
      {node.children.length > 0 ? (
        <ul>
          {node.children.map((child) => (
            <Tree key={child.id} node={child} current={current} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

export function SessionPage({ id }: { id: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const session = useQuery(trpc.sessions.get.queryOptions({ id }));
  const tree = useQuery(trpc.sessions.tree.queryOptions({ id }));
  const [fromStage, setFromStage] = useState<string>("");
  const [editInput, setEditInput] = useState(false);
  const [input, setInput] = useState<string | null>(null);
  const rerun = useMutation(
    trpc.sessions.rerun.mutationOptions({
      onSuccess: ({ id: newId }) => {
        void queryClient.invalidateQueries({ queryKey: trpc.sessions.tree.queryKey() });
        router.push(`/?run=${newId}`);
      },
    }),
  );
  const remove = useMutation(
    trpc.sessions.delete.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.sessions.list.queryKey() });
        router.push("/history");
      },
    }),
  );
  const stored = useMemo(() => (session.data ? applyEvents(emptyRunView, session.data.events ?? []) : emptyRunView), [session.data]);
  // A session still running is shown live, from its event stream; once it ends, the stored record is read again.
  const running = session.data?.status === "running";
  const live = useRunStream(running ? id : null);
  useEffect(() => {
    if (running && live.view.endedAt !== undefined) void queryClient.invalidateQueries({ queryKey: trpc.sessions.get.queryKey({ id }) });
  }, [running, live.view.endedAt, queryClient, trpc, id]);
  const view = running ? live.view : stored;

  if (session.error) return <ErrorBox title={`Cannot open session ${id}`} message={describeError(session.error)} />;
  if (!session.data) return <p className="text-sm text-neutral-500">Loading…</p>;
  const data = session.data;
  const stageIds = (data.pipeline as Pipeline).stages.map((stage) => stage.id);
  const chosen = fromStage || stageIds[0] || "";

  return (
    <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_340px]">
      <div className="min-w-0 space-y-3">
        <div className="flex flex-wrap items-center gap-2">
          <h1 className="text-xl font-semibold">Session</h1>
          <span className="font-mono text-sm text-neutral-500">{data.id}</span>
          <Badge state={data.status} />
          <span className="text-sm text-neutral-500">
            {data.pipelineName} · {new Date(data.startedAt).toLocaleString()} · {formatMs(data.durationMs)}
          </span>
          {data.parentRunId ? (
            <span className="text-sm">
              branch of{" "}
              <Link href={`/history/${data.parentRunId}`} className="font-mono text-blue-700 hover:underline dark:text-blue-300">
                {data.parentRunId}
              </Link>{" "}
              (rerun from {data.rerunFromStage})
            </span>
          ) : null}
        </div>
        {data.status !== "running" ? (
          <p className="text-sm">
            <Link href={`/?run=${data.id}&pace=recorded`} prefetch={false} className="text-blue-700 hover:underline dark:text-blue-300">
              Replay this run as it ran
            </Link>{" "}
            <span className="text-neutral-500">(its stages streaming at their recorded pace)</span>
          </p>
        ) : null}
        <section aria-label="Input" className="rounded border border-neutral-200 p-3 dark:border-neutral-800">
          <div className="flex items-center justify-between">
            <h2 className="text-sm font-medium">Input</h2>
            <CopyButton text={data.input} label="Copy input" />
          </div>
          <pre className="mt-1 whitespace-pre-wrap break-words font-mono text-sm">{data.input}</pre>
        </section>
        {data.status === "running" ? (
          <p className="text-sm">
            This run is in progress and shown live (<Link href={`/?run=${data.id}`} className="text-blue-700 underline dark:text-blue-300">open it on the Run page</Link>).
          </p>
        ) : null}
        <RunDisplay view={view} />
        <details className="rounded border border-neutral-200 p-3 text-sm dark:border-neutral-800">
          <summary className="cursor-pointer font-medium">Parameters and models</summary>
          <table className="mt-2 text-xs">
            <thead>
              <tr className="text-left text-neutral-500">
                <th className="pr-4 font-normal">model</th>
                <th className="pr-4 font-normal">file</th>
                <th className="pr-4 font-normal">load</th>
                <th className="font-normal">generation</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(data.models).map(([name, model]) => (
                <tr key={name} className="align-top">
                  <td className="pr-4 font-medium">{name}</td>
                  <td className="pr-4 font-mono">{model.file}</td>
                  <td className="pr-4 font-mono">{JSON.stringify(model.load)}</td>
                  <td className="font-mono">{JSON.stringify(model.params)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      </div>
      <aside className="space-y-4">
        <section aria-label="Rerun" className="space-y-2 rounded border border-neutral-200 p-3 dark:border-neutral-800">
          <h2 className="font-medium">Rerun from a stage</h2>
          <p className="text-xs text-neutral-500">A new session, a branch of this one: stages before the chosen one keep their stored answers.</p>
          <label htmlFor="from-stage" className="block text-sm">
            From stage
          </label>
          <select id="from-stage" value={chosen} onChange={(event) => setFromStage(event.target.value)} className="w-full rounded border border-neutral-300 bg-white px-2 py-1.5 text-sm dark:border-neutral-700 dark:bg-neutral-900">
            {stageIds.map((stageId) => (
              <option key={stageId}>{stageId}</option>
            ))}
          </select>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={editInput} onChange={(event) => setEditInput(event.target.checked)} /> with an edited input
          </label>
          {editInput ? (
            <textarea
              aria-label="Edited input"
              value={input ?? data.input}
              onChange={(event) => setInput(event.target.value)}
              rows={5}
              className="w-full rounded border border-neutral-300 bg-white p-2 font-mono text-sm dark:border-neutral-700 dark:bg-neutral-900"
            />
          ) : null}
          <Button variant="primary" disabled={rerun.isPending || !chosen} onClick={() => rerun.mutate({ id: data.id, fromStage: chosen, input: editInput ? (input ?? data.input) : undefined })}>
            {rerun.isPending ? "Starting…" : "Rerun"}
          </Button>
          {rerun.error ? <ErrorBox title="The rerun could not start" message={describeError(rerun.error)} /> : null}
        </section>
        <section aria-label="Family tree" className="rounded border border-neutral-200 p-3 dark:border-neutral-800">
          <h2 className="mb-1 font-medium">Branches</h2>
          {tree.data ? (
            <ul className="-ml-3">
              <Tree node={tree.data} current={data.id} />
            </ul>
          ) : tree.error ? (
            <p className="text-sm text-red-700">{describeError(tree.error)}</p>
          ) : (
            <p className="text-sm text-neutral-500">Loading…</p>
          )}
        </section>
        {data.parentRunId ? (
          <Link href={`/history/compare?a=${data.parentRunId}&b=${data.id}`} className="block text-sm text-blue-700 hover:underline dark:text-blue-300">
            Compare with its parent
          </Link>
        ) : null}
        <Button
          variant="danger"
          onClick={() => {
            if (window.confirm(`Delete session ${data.id}? Its branches stay.`)) remove.mutate({ id: data.id });
          }}
        >
          Delete session
        </Button>
        {remove.error ? <ErrorBox title="Cannot delete" message={describeError(remove.error)} /> : null}
      </aside>
    </div>
  );
}
