"use client";
/**
 * The Run page: a form (pipeline, input, Run), the run it shows (live, stored, or replayed at the pace it
 * ran), the other runs in progress on this server, the plan of the next run (see PlanPanel) and the past
 * inputs. On a narrow screen the run comes right after the form, and the plan and the past inputs after
 * the run.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useTranslations } from "next-intl";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTRPC, useTRPCClient } from "@/client/trpc";
import { startRun } from "@/client/start-run";
import { newRunId } from "@/store/run-id";
import { Badge, Button, ErrorBox, useFormat } from "@/components/ui";
import { useDescribeError } from "@/components/use-describe-error";
import { neverSaved, ranName } from "@/store/session-name";
import { PlanPanel } from "./plan-panel";
import { RunDisplay } from "./run-display";
import { pendingRunAfterReload, useDeferredAddress } from "./deferred-address";
import { followRunEarly, stopFollowingEarly, useRunStream } from "./use-run-stream";

/** Past inputs offered, at most (each input once, the most recent first), out of the sessions read. */
const pastInputsShown = 6;
const sessionsRead = 40;
/** How often the runs in progress on this server are asked for (a run started elsewhere shows up). */
const runsPollMs = 4000;
/**
 * The input a studio with no session yet offers, so that its first Run runs at once: the demo's. The demo
 * model writes English stories only, so it is English in every language.
 */
const firstInput = "Once upon a time";

/** The Run page at `/`: `?pipeline=NAME` picks the form's pipeline, `?run=ID` shows a run, `&pace=recorded` replays it. */
export function RunPage() {
  const t = useTranslations("run");
  const format = useFormat();
  const describe = useDescribeError();
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
  const recent = useQuery(trpc.sessions.list.queryOptions({ limit: sessionsRead }));
  const runs = useQuery(trpc.runs.list.queryOptions(undefined, { refetchInterval: runsPollMs }));
  const [pipeline, setPipeline] = useState(params.get("pipeline") ?? "base");
  const [input, setInput] = useState("");
  // Whether deterministic stages may come from the stage cache (unticked: every stage is computed).
  const [useCache, setUseCache] = useState(true);
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
  const [pastError, setPastError] = useState<unknown>(null);
  const cancel = useMutation(trpc.runs.cancel.mutationOptions());

  // The run's own input and pipeline, when the page opens on a run (a reload mid-run, a link); not once
  // the form holds the user's own (a start refused shows the run before again, and keeps the form).
  useEffect(() => {
    if (view.input === undefined || input !== "") return;
    setInput(view.input);
    if (view.pipeline) setPipeline(view.pipeline);
  }, [view.input, view.pipeline]);

  // No session yet (a new studio): the form starts with an input to run, unless it holds one already.
  const noSessionYet = recent.data?.items.length === 0;
  useEffect(() => {
    if (noSessionYet) setInput((current) => current || firstInput);
  }, [noSessionYet]);

  // The past inputs, History and the runs in progress change once the run has ended (not at its start,
  // where a refetch would compete with the run's first tokens).
  useEffect(() => {
    if (view.endedAt === undefined) return;
    void queryClient.invalidateQueries({ queryKey: trpc.sessions.list.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.runs.list.queryKey() });
    // The run measured its models' rates and left them warm: the plan of the next one changes.
    void queryClient.invalidateQueries({ queryKey: trpc.runs.plan.queryKey() });
  }, [view.endedAt, queryClient, trpc]);

  // A pipeline the form cannot run by name (a run of the editor's unsaved canvas, a pipeline deleted
  // since): the form offers the base pipeline instead; the run shown still names its own.
  const names = pipelines.data?.map((entry) => entry.name);
  const chosen = !names || names.includes(pipeline) ? pipeline : names.includes("base") ? "base" : (names[0] ?? pipeline);

  // The run shown ran the unsaved edits of the pipeline the form would run: the form's Run runs its file.
  const editsNotInFile = view.inlinePipeline === true && view.pipeline === chosen;

  const inProgress = useMemo(() => (runs.data ?? []).filter((run) => !run.done), [runs.data]);
  const liveOnServer = inProgress.some((run) => run.id === runId);
  // `pace=recorded` replays a run that has ended; a run still going on the server is shown live.
  const replay = pace === "recorded" && !liveOnServer;
  const replaying = replay && view.endedAt === undefined;
  // A run this page can cancel: one started here (from the click on, before its first event), or one the
  // server runs (not a stored run whose events are still coming in: it shows as running for a moment).
  const goingOn = view.status === "running" || view.status === "queued" || view.status === "connecting";
  const active =
    Boolean(runId) && !replay && goingOn && (clicked?.id === runId || ((view.status === "running" || view.status === "queued") && (liveOnServer || runs.data === undefined)));
  const others = inProgress.filter((run) => run.id !== runId);

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
    startRun({ pipeline: chosen, input, id, ...(useCache ? {} : { cache: false }) }).then(
      () => {
        setStart({ pending: false, error: null });
        address.confirm(id);
        if (cancelOnStart.current === id) cancel.mutate({ id });
        cancelOnStart.current = null;
        void queryClient.invalidateQueries({ queryKey: trpc.runs.list.queryKey() });
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
  // A run that ended before any text was painted (every stage served from the stage cache) has nothing
  // left to compete with: its address is written at once.
  const ended = view.runId === runId && (view.status === "completed" || view.status === "failed" || view.status === "cancelled" || view.status === "interrupted");
  useEffect(() => {
    if ((firstTextPaintedAt !== null || ended) && runId) address.flush(runId);
  }, [firstTextPaintedAt, ended, runId, address]);

  /** Stops a replay: the address loses its pace, and the stream gives the rest of the run at once. */
  const stopReplay = () => {
    const next = new URLSearchParams(window.location.search);
    next.delete("pace");
    // Not the router's own state: Next.js takes a call that passes it for its own, and would not update
    // the search params the page reads.
    window.history.replaceState(null, "", `${window.location.pathname}?${next.toString()}`);
  };

  // Time from the click to the first model text painted: shown by the run (and read by the browser bench).
  const firstPaint = clicked !== null && clicked.id === runId && firstTextPaintedAt !== null ? firstTextPaintedAt - clicked.at : null;

  // The form does not change while a run streams: kept as one element, React skips it on every frame.
  const cancelPending = cancel.isPending;
  const cancelRun = cancel.mutate;
  const form = useMemo(
    () => {
      const entries = pipelines.data ?? [{ name: chosen, title: null, error: null, stages: 0, description: null }];
      const option = (entry: (typeof entries)[number]) => (
        <option key={entry.name} value={entry.name} translate="no">
          {entry.name}
          {entry.title ? ` — ${entry.title}` : ""}
        </option>
      );
      const broken = entries.filter((entry) => entry.error);
      return (
        <form
          aria-label={t("form.label")}
          className="space-y-3"
          onSubmit={(event) => {
            event.preventDefault();
            submit();
          }}
        >
          <div>
            <label htmlFor="pipeline" className="mb-1 block text-sm font-medium">
              {t("form.pipeline")}
            </label>
            <div className="flex gap-2">
              <select
                id="pipeline"
                value={chosen}
                onChange={(event) => setPipeline(event.target.value)}
                className="min-w-0 flex-1 rounded border border-neutral-300 bg-white px-2 py-1.5 text-sm dark:border-neutral-700 dark:bg-neutral-900"
              >
                {entries.filter((entry) => !entry.error).map(option)}
                {broken.length > 0 ? <optgroup label={t("form.pipelinesWithErrors")}>{broken.map(option)}</optgroup> : null}
              </select>
              <Link href={`/editor?pipeline=${encodeURIComponent(chosen)}`} prefetch={false} className="rounded px-2 py-1.5 text-sm text-blue-700 hover:underline dark:text-blue-300">
                {t("form.edit")}
              </Link>
            </div>
            {editsNotInFile ? (
              <p data-testid="saved-file-note" className="mt-1 text-xs text-amber-800 dark:text-amber-300">
                {t.rich("form.savedFileNote", {
                  name: () => <span translate="no" className="font-mono">{chosen}</span>,
                  // The editor gives back the edits it kept when the run started (see its drafts).
                  editor: (chunks) => (
                    <Link href={`/editor?pipeline=${encodeURIComponent(chosen)}`} prefetch={false} className="underline">
                      {chunks}
                    </Link>
                  ),
                })}
              </p>
            ) : null}
          </div>
          <div>
            <label htmlFor="input" className="mb-1 block text-sm font-medium">
              {t("form.input")}
            </label>
            <textarea
              id="input"
              ref={inputRef}
              value={input}
              onChange={(event) => setInput(event.target.value)}
              onKeyDown={(event) => {
                // While a run goes, a second one starts only from its own button.
                if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
                  event.preventDefault();
                  if (!active) submit();
                }
              }}
              rows={8}
              // The user's own text, not to be translated (its placeholder is the page's).
              translate="no"
              placeholder={t("form.placeholder")}
              // Lower on a narrow screen, where the run comes below it. The placeholder, in the page's font and
              // in italics, reads as a hint, not as text already there.
              className="w-full rounded border border-neutral-300 bg-white p-2 font-mono text-sm placeholder:font-sans placeholder:italic placeholder:text-neutral-400 max-lg:h-32 dark:border-neutral-700 dark:bg-neutral-900 dark:placeholder:text-neutral-500"
            />
            {/* Two lines kept on a narrow screen, where the run is below: the hint changes as a run starts and ends. */}
            <p className="mt-1 text-xs text-neutral-500 max-lg:min-h-8">
              {active
                ? t("form.hintWhileRunning")
                : t.rich("form.hint", {
                    key: (chunks) => (
                      <kbd translate="no" className="font-mono">
                        {chunks}
                      </kbd>
                    ),
                  })}
            </p>
          </div>
          <div>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" checked={useCache} onChange={(event) => setUseCache(event.target.checked)} data-testid="use-cache" aria-describedby="use-cache-hint" />
              {t("form.cache")}
            </label>
            <p id="use-cache-hint" className="mt-0.5 text-xs text-neutral-500">
              {t.rich("form.cacheHint", { code: (chunks) => <code translate="no">{chunks}</code> })}
            </p>
          </div>
          <div className="flex flex-wrap gap-2">
            {/* One height whatever the buttons' styles (a bordered one is taller): the run below does not move. */}
            <Button type="submit" variant={active ? "default" : "primary"} disabled={start.pending || !input.trim()} className="h-8">
              {start.pending ? t("form.starting") : active ? t("form.runAnother") : t("form.run")}
            </Button>
            {active ? (
              <Button
                variant="danger"
                className="h-8"
                onClick={() => {
                  // The start may reach the server after this cancel: it is sent again once it has.
                  if (start.pending) cancelOnStart.current = runId;
                  cancelRun({ id: runId! });
                }}
                disabled={cancelPending}
              >
                {t("form.cancel")}
              </Button>
            ) : null}
          </div>
          {start.error ? <ErrorBox title={t("form.cannotStart")} message={describe.errorContent(start.error)} /> : null}
          {pastError ? <ErrorBox title={t("form.cannotReadSession")} message={describe.error(pastError)} /> : null}
        </form>
      );
    },
    // `submit` reads the pipeline, input, start and client; the rest is what the form shows.
    [chosen, input, useCache, start, pastError, active, runId, cancelPending, editsNotInFile, pipelines.data, client, t, describe],
  );

  // Each input once, the most recent first (sessions come newest first).
  const pastInputs = useMemo(() => {
    const byInput = new Map<string, NonNullable<typeof recent.data>["items"][number]>();
    for (const item of recent.data?.items ?? []) if (!byInput.has(item.inputPreview)) byInput.set(item.inputPreview, item);
    return [...byInput.values()].slice(0, pastInputsShown);
  }, [recent.data]);
  const past = useMemo(
    () =>
      pastInputs.length === 0 ? null : (
        // Not a named region: tests and scripts find the input box by its label, "Input".
        <section>
          <h2 className="mb-1 text-sm font-medium">
            {t("past.title")}
          </h2>
          <ul className="space-y-1">
            {pastInputs.map((item) => (
              <li key={item.id}>
                <button
                  type="button"
                  translate="no"
                  className="w-full truncate rounded px-2 py-1 text-left text-xs text-neutral-600 hover:bg-neutral-100 focus-visible:outline-2 focus-visible:outline-blue-500 dark:text-neutral-400 dark:hover:bg-neutral-900"
                  title={item.inputPreview}
                  onClick={() => {
                    client.sessions.get.query({ id: item.id }).then(
                      (session) => {
                        setPastError(null);
                        setInput(session.input);
                        // A run of a pipeline never saved (the editor's unsaved edits, an API call on a model) leaves the choice as it is.
                        if (!neverSaved(session)) setPipeline(session.pipelineName);
                        inputRef.current?.focus();
                      },
                      (error: unknown) => setPastError(error),
                    );
                  }}
                >
                  {item.inputPreview || <span translate="yes">{t("past.empty")}</span>} {ranName(item) === undefined ? null : <span className="text-neutral-400">· {ranName(item)}</span>}
                </button>
              </li>
            ))}
          </ul>
        </section>
      ),
    [pastInputs, client, t],
  );

  return (
    <div className="grid grid-cols-1 gap-4 lg:grid-cols-[360px_minmax(0,1fr)] lg:grid-rows-[auto_1fr]">
      <div className="min-w-0 lg:col-start-1 lg:row-start-1">{form}</div>

      <div className="min-w-0 space-y-3 lg:col-start-2 lg:row-span-2 lg:row-start-1">
        {others.length > 0 ? (
          <section aria-labelledby="runs-in-progress" className="rounded border border-blue-200 bg-blue-50/50 px-3 py-2 text-sm dark:border-blue-900 dark:bg-blue-950/30">
            <h2 id="runs-in-progress" className="text-xs font-medium text-neutral-600 dark:text-neutral-400">
              {runId ? t("inProgress.others") : t("inProgress.title")}
            </h2>
            <ul className="mt-1 flex flex-wrap gap-x-4 gap-y-1">
              {others.map((run) => (
                <li key={run.id}>
                  <Link href={`/?pipeline=${encodeURIComponent(run.pipeline)}&run=${run.id}`} prefetch={false} className="text-blue-700 hover:underline dark:text-blue-300">
                    <span translate="no">{run.pipeline}</span> · {t("inProgress.started", { time: format.dateTime(run.startedAt) })}
                    {run.ahead !== undefined ? ` · ${t("header.waiting", { ahead: run.ahead })}` : null}
                  </Link>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
        {!runId ? (
          <div className="rounded border border-dashed border-neutral-300 p-8 text-center text-sm text-neutral-500 dark:border-neutral-700">{t("empty")}</div>
        ) : (
          <>
            <div className="flex flex-wrap items-center gap-x-2 gap-y-1 text-sm">
              <span translate="no" className="font-mono text-xs text-neutral-500">
                {runId}
              </span>
              {/* On a narrow screen as wide as the longest state: a state that changes never wraps the line anew. */}
              <span role="status" aria-label={t("header.status")} data-testid="run-status" className="inline-block max-lg:min-w-24">
                <Badge state={replaying ? "replaying" : view.status} />
              </span>
              {view.status === "queued" && view.ahead !== undefined ? (
                <span data-testid="run-queue" className="text-xs text-neutral-600 dark:text-neutral-400">
                  {t("header.waiting", { ahead: view.ahead })}
                </span>
              ) : null}
              {view.pipeline ? (
                <span data-testid="run-pipeline" className="text-xs text-neutral-500">
                  {view.inlinePipeline && view.pipeline === "unsaved"
                    ? t("header.unsaved")
                    : t.rich(view.inlinePipeline ? "header.pipelineUnsaved" : "header.pipeline", { name: () => <span translate="no">{view.pipeline}</span> })}
                </span>
              ) : null}
              {view.parentRunId ? (
                <span className="text-xs text-neutral-500">
                  {t.rich("header.branchOf", {
                    link: () => (
                      <Link href={`/history/${view.parentRunId}`} prefetch={false} translate="no" className="font-mono text-blue-700 hover:underline dark:text-blue-300">
                        {view.parentRunId}
                      </Link>
                    ),
                  })}
                </span>
              ) : null}
              {/* A run that waits has no session yet. */}
              {view.status === "queued" ? null : (
                <Link href={`/history/${runId}`} prefetch={false} className="text-xs text-blue-700 hover:underline dark:text-blue-300">
                  {t("header.session")}
                </Link>
              )}
            </div>
            {/* A line of its own, in place from the click on: the figure, when it comes, moves nothing. */}
            {clicked?.id === runId && (firstPaint !== null || view.endedAt === undefined) ? (
              <p className="text-xs text-neutral-500" {...(firstPaint !== null ? { "data-testid": "first-paint", "data-ms": firstPaint.toFixed(1) } : {})}>
                {t("header.firstPaint", { duration: firstPaint !== null ? format.ms(firstPaint) : "…" })}
              </p>
            ) : null}
            {replaying ? (
              <div className="flex flex-wrap items-center gap-2 text-sm">
                <span className="text-neutral-600 dark:text-neutral-400">{t("header.replay")}</span>
                <Button onClick={stopReplay}>{t("header.stopReplay")}</Button>
              </div>
            ) : null}
            {streamError ? <ErrorBox title={t("header.streamLost")} message={describe.error(streamError)} /> : null}
            <RunDisplay view={view} />
          </>
        )}
      </div>

      {/* Under the form on a wide screen; on a narrow one after the run, which comes first after Run. */}
      <div className="min-w-0 space-y-4 lg:col-start-1 lg:row-start-2">
        {/* Only a pipeline the form can run, once the list says so: a run's own name (`unsaved`) has no plan. */}
        {pipelines.data?.some((entry) => entry.name === chosen && !entry.error) ? <PlanPanel pipeline={{ name: chosen }} input={input} cache={useCache} /> : null}
        {past}
      </div>
    </div>
  );
}
