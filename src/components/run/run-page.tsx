"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useEffect, useMemo, useRef, useState } from "react";
import { describeError, useTRPC, useTRPCClient } from "@/client/trpc";
import { startRun } from "@/client/start-run";
import { newRunId } from "@/store/run-id";
import { Badge, Button, ErrorBox, formatMs } from "@/components/ui";
import { RunDisplay } from "./run-display";
import { pendingRunAfterReload, useDeferredAddress } from "./deferred-address";
import { followRunEarly, stopFollowingEarly, useRunStream } from "./use-run-stream";

export function RunPage() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const params = useSearchParams();
  // The run shown: the address's `run` (a link, a reload, back and forward), or the one just started. A
  // click sets it at once: the router takes a pushState into its search params a render later, in a
  // transition, and the run's stream would be adopted after that render's paint.
  const addressRunId = params.get("run");
  const [runId, setRunId] = useState(addressRunId);
  // Any change of the address (a link to `/`, back, forward) shows what it names.
  const search = params.toString();
  const [seenSearch, setSeenSearch] = useState(search);
  if (search !== seenSearch) {
    setSeenSearch(search);
    setRunId(addressRunId);
  }
  const pace = params.get("pace") === "recorded" ? "recorded" : "instant";
  const pipelines = useQuery(trpc.pipelines.list.queryOptions());
  const recent = useQuery(trpc.sessions.list.queryOptions({ limit: 8 }));
  const [pipeline, setPipeline] = useState(params.get("pipeline") ?? "base");
  const [input, setInput] = useState("");
  const [clicked, setClicked] = useState<{ id: string; at: number } | null>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const { view, error: streamError, firstTextPaintedAt } = useRunStream(runId, pace);

  // The next run's id is chosen ahead and its event stream opened while the page is idle (the server
  // waits for a run it does not know yet), so that Run does not wait for a new connection before the
  // first tokens can come. Renewed every minute, so the id's time stamp stays close to the run's start.
  // Only while the page is visible: a browser allows few connections per server (6 over HTTP/1.1), and
  // tabs in the background must not hold them.
  const prepared = useRef<string | null>(null);
  useEffect(() => {
    const release = () => {
      if (prepared.current) stopFollowingEarly(prepared.current);
      prepared.current = null;
    };
    const prepare = () => {
      release();
      if (document.visibilityState !== "visible") return;
      prepared.current = newRunId();
      followRunEarly(client, prepared.current, 75_000);
    };
    const onVisibility = () => (document.visibilityState === "visible" ? prepare() : release());
    // Not while a run has just started: its own stream comes first.
    const first = setTimeout(prepare, runId ? 1500 : 0);
    const timer = setInterval(prepare, 60_000);
    document.addEventListener("visibilitychange", onVisibility);
    return () => {
      clearTimeout(first);
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisibility);
      release();
    };
  }, [client, runId]);

  // The start request goes out from the click handler itself, by a plain `fetch` (see `startRun`): the
  // tRPC client, and a TanStack mutation, would send it after the re-render the click causes.
  const [start, setStart] = useState<{ pending: boolean; error: unknown }>({ pending: false, error: null });
  const [pastError, setPastError] = useState<string | null>(null);
  const cancel = useMutation(trpc.runs.cancel.mutationOptions());

  // The run's own input and pipeline, when the page opens on a run (a reload mid-run, a link); not once
  // the form holds the user's own (a start refused shows the run before again, and keeps the form).
  useEffect(() => {
    if (view.input === undefined || input !== "") return;
    setInput(view.input);
    if (view.pipeline) setPipeline(view.pipeline);
  }, [view.input, view.pipeline]);

  // The past inputs and History change once the run has ended (not at its start, where a refetch would
  // compete with the run's first tokens).
  useEffect(() => {
    if (view.endedAt !== undefined) void queryClient.invalidateQueries({ queryKey: trpc.sessions.list.queryKey() });
  }, [view.endedAt, queryClient, trpc]);

  const running = view.status === "running" || view.status === "connecting";
  const active = Boolean(runId) && running;
  // The address names the run (a reload reattaches to it) once its first text is on screen: see
  // `useDeferredAddress`.
  const address = useDeferredAddress();
  useEffect(() => {
    // A reload before the address was written: the run is shown again, and its address written as it
    // would have been (not at once: the router writes its own address as it starts).
    const recovered = pendingRunAfterReload();
    if (!recovered) return;
    setRunId(recovered.runId);
    address.schedule(recovered.runId, recovered.url, { confirmed: true });
  }, [address]);
  // A Cancel pressed before the server answered the start: sent again once it has.
  const cancelOnStart = useRef<string | null>(null);
  const submit = () => {
    if (start.pending || !input.trim()) return;
    const clickedAt = performance.now();
    // The page names the run and follows its events while the start request is on its way (the server
    // waits briefly for a run it does not know yet), so the first tokens are not a round trip late.
    // The run takes the id whose stream is already open (see `prepared`), or a new one.
    const id = prepared.current ?? newRunId();
    if (prepared.current === null) followRunEarly(client, id);
    prepared.current = null;
    const chosen = pipeline;
    startRun({ pipeline: chosen, input, id }).then(
      () => {
        setStart({ pending: false, error: null });
        address.confirm(id);
        if (cancelOnStart.current === id) cancel.mutate({ id });
        cancelOnStart.current = null;
      },
      (error: unknown) => {
        setStart({ pending: false, error });
        cancelOnStart.current = null;
        // The run never started (its address is written only once it has): back to the run the
        // address names, if the page is still where the run was started.
        if (address.drop(id)) setRunId(new URLSearchParams(window.location.search).get("run"));
      },
    );
    setStart({ pending: true, error: null });
    setClicked({ id, at: clickedAt });
    setRunId(id);
    // The history API, not router.push: a router navigation would fetch the page's server payload first.
    address.schedule(id, `/?pipeline=${encodeURIComponent(chosen)}&run=${id}`);
  };
  useEffect(() => {
    if (firstTextPaintedAt !== null && runId) address.flush(runId);
  }, [firstTextPaintedAt, runId, address]);

  // Time from the click to the first model text painted: shown by the run (and read by the browser bench).
  const firstPaint = clicked !== null && clicked.id === runId && firstTextPaintedAt !== null ? firstTextPaintedAt - clicked.at : null;

  // The form does not change while a run streams: kept as one element, React skips it on every frame.
  const cancelPending = cancel.isPending;
  const cancelRun = cancel.mutate;
  const form = useMemo(
    () => (
          <form
            aria-label="Start a run"
            className="space-y-3"
            onSubmit={(event) => {
              event.preventDefault();
              submit();
            }}
          >
            <div>
              <label htmlFor="pipeline" className="mb-1 block text-sm font-medium">
                Pipeline
              </label>
              <div className="flex gap-2">
                <select
                  id="pipeline"
                  value={pipeline}
                  onChange={(event) => setPipeline(event.target.value)}
                  className="min-w-0 flex-1 rounded border border-neutral-300 bg-white px-2 py-1.5 text-sm dark:border-neutral-700 dark:bg-neutral-900"
                >
                  {(pipelines.data ?? [{ name: pipeline, title: null, error: null, stages: 0, description: null }]).map((entry) => (
                    <option key={entry.name} value={entry.name}>
                      {entry.name}
                      {entry.title ? ` — ${entry.title}` : ""}
                      {entry.error ? " (has errors)" : ""}
                    </option>
                  ))}
                </select>
                <Link href={`/editor?pipeline=${encodeURIComponent(pipeline)}`} prefetch={false} className="rounded px-2 py-1.5 text-sm text-blue-700 hover:underline dark:text-blue-300">
                  Edit
                </Link>
              </div>
            </div>
            <div>
              <label htmlFor="input" className="mb-1 block text-sm font-medium">
                Input
              </label>
              <textarea
                id="input"
                ref={inputRef}
                value={input}
                onChange={(event) => setInput(event.target.value)}
                onKeyDown={(event) => {
                  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
                    event.preventDefault();
                    submit();
                  }
                }}
                rows={8}
                placeholder="Once upon a time"
                className="w-full rounded border border-neutral-300 bg-white p-2 font-mono text-sm dark:border-neutral-700 dark:bg-neutral-900"
              />
              <p className="mt-1 text-xs text-neutral-500">Ctrl+Enter runs.</p>
            </div>
            <div className="flex gap-2">
              <Button type="submit" variant="primary" disabled={start.pending || !input.trim()}>
                {start.pending ? "Starting…" : "Run"}
              </Button>
              {active ? (
                <Button
                  variant="danger"
                  onClick={() => {
                    // The start may reach the server after this cancel: it is sent again once it has.
                    if (start.pending) cancelOnStart.current = runId;
                    cancelRun({ id: runId! });
                  }}
                  disabled={cancelPending}
                >
                  Cancel
                </Button>
              ) : null}
            </div>
            {start.error ? <ErrorBox title="The run could not start" message={describeError(start.error)} /> : null}
            {pastError ? <ErrorBox title="Cannot read that session" message={pastError} /> : null}
            {recent.data && recent.data.items.length > 0 ? (
              <div>
                <h2 className="mb-1 text-sm font-medium">Past inputs</h2>
                <ul className="space-y-1">
                  {recent.data.items.map((item) => (
                    <li key={item.id}>
                      <button
                        type="button"
                        className="w-full truncate rounded px-2 py-1 text-left text-xs text-neutral-600 hover:bg-neutral-100 focus-visible:outline-2 focus-visible:outline-blue-500 dark:text-neutral-400 dark:hover:bg-neutral-900"
                        title={item.inputPreview}
                        onClick={() => {
                          client.sessions.get.query({ id: item.id }).then(
                            (session) => {
                              setInput(session.input);
                              setPipeline(session.pipelineName);
                              inputRef.current?.focus();
                            },
                            (error: unknown) => setPastError(describeError(error)),
                          );
                        }}
                      >
                        {item.inputPreview || "(empty input)"} <span className="text-neutral-400">· {item.pipelineName}</span>
                      </button>
                    </li>
                  ))}
                </ul>
              </div>
            ) : null}
          </form>
    ),
    // `submit` reads pipeline, input, start and client; the rest is what the form shows.
    [pipeline, input, start, pastError, active, runId, cancelPending, pipelines.data, recent.data, client],
  );

  return (
    <div className="grid gap-4 lg:grid-cols-[360px_minmax(0,1fr)]">
      {form}

      <div className="min-w-0 space-y-3">
        {!runId ? (
          <div className="rounded border border-dashed border-neutral-300 p-8 text-center text-sm text-neutral-500 dark:border-neutral-700">
            Pick a pipeline, write an input and press Run: each stage&apos;s text streams here as it is generated.
          </div>
        ) : (
          <>
            <div className="flex flex-wrap items-center gap-2 text-sm">
              <span className="font-mono text-xs text-neutral-500">{runId}</span>
              <Badge state={view.status}>{view.status}</Badge>
              {view.parentRunId ? <span className="text-xs text-neutral-500">branch of {view.parentRunId}</span> : null}
              <Link href={`/history/${runId}`} prefetch={false} className="text-xs text-blue-700 hover:underline dark:text-blue-300">
                Session
              </Link>
              {firstPaint !== null ? (
                <span className="text-xs text-neutral-500" data-testid="first-paint" data-ms={firstPaint.toFixed(1)}>
                  first token on screen {formatMs(firstPaint)} after Run
                </span>
              ) : null}
            </div>
            {streamError ? <ErrorBox title="Lost the run's stream" message={streamError} /> : null}
            <RunDisplay view={view} />
          </>
        )}
      </div>
    </div>
  );
}
