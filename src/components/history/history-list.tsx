"use client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useEffect, useState } from "react";
import { describeError, useTRPC } from "@/client/trpc";
import { Badge, Button, ErrorBox, formatMs } from "@/components/ui";

const statuses = ["running", "completed", "failed", "cancelled", "interrupted"] as const;

/** A filter: "any" or one of the options. */
function FilterSelect({ id, label, value, options, onChange }: { id: string; label: string; value: string; options: string[]; onChange: (value: string) => void }) {
  return (
    <div>
      <label htmlFor={id} className="block text-xs text-neutral-500">
        {label}
      </label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)} className="rounded border border-neutral-300 bg-white px-2 py-1.5 text-sm dark:border-neutral-700 dark:bg-neutral-900">
        <option value="">any</option>
        {options.map((option) => (
          <option key={option}>{option}</option>
        ))}
      </select>
    </div>
  );
}
const pageSize = 50;

export function HistoryList() {
  const trpc = useTRPC();
  const params = useSearchParams();
  const [query, setQuery] = useState(params.get("q") ?? "");
  const [debounced, setDebounced] = useState(query);
  // A status from the address bar counts only when it is one of the statuses.
  const statusParam = params.get("status") ?? "";
  const status = (statuses as readonly string[]).includes(statusParam) ? (statusParam as (typeof statuses)[number]) : "";
  const pipeline = params.get("pipeline") ?? "";
  const page = Math.max(0, Number.parseInt(params.get("page") ?? "0", 10) || 0);
  const [compare, setCompare] = useState<string[]>([]);

  useEffect(() => {
    const timer = setTimeout(() => setDebounced(query), 250);
    return () => clearTimeout(timer);
  }, [query]);

  const setParam = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params.toString());
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    // The history API, not router.replace: the filters live in the address only, and a router navigation
    // (a server round trip) landing late would undo a click made meanwhile, such as opening a session.
    window.history.replaceState(null, "", `/history?${next.toString()}`);
  };
  useEffect(() => {
    if ((params.get("q") ?? "") !== debounced) setParam({ q: debounced, page: "" });
    // Only the debounced query drives the URL.
  }, [debounced]);

  const pipelines = useQuery(trpc.pipelines.list.queryOptions());
  const list = useQuery({
    ...trpc.sessions.list.queryOptions({ query: debounced || undefined, status: status || undefined, pipeline: pipeline || undefined, limit: pageSize, offset: page * pageSize }),
    placeholderData: keepPreviousData,
  });
  const total = list.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const filtered = Boolean(debounced || status || pipeline);

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end gap-3">
        <h1 className="mr-4 text-xl font-semibold">History</h1>
        <div>
          <label htmlFor="search" className="block text-xs text-neutral-500">
            Search
          </label>
          <input
            id="search"
            type="search"
            value={query}
            onChange={(event) => setQuery(event.target.value)}
            placeholder="words at the start of the input or the answer, an id…"
            className="w-72 rounded border border-neutral-300 bg-white px-2 py-1.5 text-sm dark:border-neutral-700 dark:bg-neutral-900"
          />
        </div>
        <FilterSelect id="status" label="Status" value={status} options={[...statuses]} onChange={(value) => setParam({ status: value, page: "" })} />
        <FilterSelect
          id="pipeline-filter"
          label="Pipeline"
          value={pipeline}
          options={(pipelines.data ?? []).map((entry) => entry.name)}
          onChange={(value) => setParam({ pipeline: value, page: "" })}
        />
        <div className="ml-auto flex items-center gap-2">
          {compare.length === 2 ? (
            <Link href={`/history/compare?a=${compare[0]}&b=${compare[1]}`} className="rounded bg-blue-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-blue-700">
              Compare the two
            </Link>
          ) : (
            <span className="text-xs text-neutral-500">Tick two sessions to compare them.</span>
          )}
        </div>
      </div>
      {list.error ? <ErrorBox title="Cannot list the sessions" message={describeError(list.error)} /> : null}
      {list.data && list.data.items.length === 0 ? (
        <div className="rounded border border-dashed border-neutral-300 p-8 text-center text-sm text-neutral-500 dark:border-neutral-700">
          {total > 0 ? (
            <>
              No sessions on page {page + 1}: there {pages === 1 ? "is one page" : `are ${pages} pages`}.{" "}
              <button type="button" className="text-blue-700 underline dark:text-blue-300" onClick={() => setParam({ page: "" })}>
                Go to the first page
              </button>
            </>
          ) : filtered ? (
            "No session matches these filters."
          ) : (
            <>
              No sessions yet. Every run is kept here: <Link href="/" className="text-blue-700 underline dark:text-blue-300">run a pipeline</Link> to make the first one.
            </>
          )}
        </div>
      ) : null}
      {list.data && list.data.items.length > 0 ? (
        <table className="w-full text-sm" aria-label="Sessions">
          <thead>
            <tr className="border-b border-neutral-200 text-left text-xs text-neutral-500 dark:border-neutral-800">
              <th className="w-8 py-1 font-normal">
                <span className="sr-only">compare</span>
              </th>
              <th className="py-1 font-normal">started</th>
              <th className="py-1 font-normal">pipeline</th>
              <th className="py-1 font-normal">status</th>
              <th className="py-1 font-normal">duration</th>
              <th className="py-1 font-normal">input</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((item) => (
              <tr key={item.id} className="border-b border-neutral-100 hover:bg-neutral-50 dark:border-neutral-900 dark:hover:bg-neutral-900" data-testid={`session-row-${item.id}`}>
                <td className="py-1">
                  <input
                    type="checkbox"
                    aria-label={`compare ${item.id}`}
                    checked={compare.includes(item.id)}
                    onChange={(event) => setCompare((current) => (event.target.checked ? [...current.filter((id) => id !== item.id), item.id].slice(-2) : current.filter((id) => id !== item.id)))}
                  />
                </td>
                <td className="whitespace-nowrap py-1 pr-3">
                  <Link href={`/history/${item.id}`} className="text-blue-700 hover:underline dark:text-blue-300">
                    {new Date(item.startedAt).toLocaleString()}
                  </Link>
                  {item.parentRunId ? <span className="ml-1 text-xs text-neutral-500" title={`branch of ${item.parentRunId}`}>↳ branch</span> : null}
                </td>
                <td className="py-1 pr-3">{item.pipelineName}</td>
                <td className="py-1 pr-3">
                  <Badge state={item.status} />
                </td>
                <td className="py-1 pr-3 tabular-nums">{formatMs(item.durationMs)}</td>
                <td className="max-w-xl truncate py-1 text-neutral-600 dark:text-neutral-400">{item.inputPreview}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {total > pageSize ? (
        <nav aria-label="Pages" className="flex items-center gap-2 text-sm">
          <Button disabled={page === 0} onClick={() => setParam({ page: String(page - 1) })}>
            Previous
          </Button>
          <span>
            page {page + 1} of {pages} · {total} sessions
          </span>
          <Button disabled={page + 1 >= pages} onClick={() => setParam({ page: String(page + 1) })}>
            Next
          </Button>
        </nav>
      ) : list.data ? (
        <p className="text-xs text-neutral-500">{total} session{total === 1 ? "" : "s"}</p>
      ) : null}
    </div>
  );
}
