"use client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useTranslations } from "next-intl";
import { useEffect, useState } from "react";
import { useTRPC } from "@/client/trpc";
import { Badge, Button, ErrorBox, useFormat } from "@/components/ui";
import { useDescribeError } from "@/components/use-describe-error";
import { useHydrated } from "@/components/use-hydrated";
import type { SessionSummary } from "@/store/session";
import type { DamagedSession } from "@/store/session-store";
import { ranName } from "@/store/session-name";
import { SessionMarks } from "./session-marks";

const statuses = ["running", "completed", "failed", "cancelled", "interrupted"] as const;

/** A filter: "any" or one of the options, each shown by `show` (or as it is: names, not words to translate). */
function FilterSelect({ id, label, value, options, show, onChange }: { id: string; label: string; value: string; options: string[]; show?: (option: string) => string; onChange: (value: string) => void }) {
  const t = useTranslations("history.list");
  return (
    <div>
      <label htmlFor={id} className="block text-xs text-neutral-500">
        {label}
      </label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)} className="rounded border border-neutral-300 bg-white px-2 py-1.5 text-sm dark:border-neutral-700 dark:bg-neutral-900">
        <option value="">{t("any")}</option>
        {options.map((option) => (
          <option key={option} value={option} translate={show ? undefined : "no"}>
            {show ? show(option) : option}
          </option>
        ))}
      </select>
    </div>
  );
}
const pageSize = 50;

/**
 * One session in the list. The whole row opens the session: its link's hit area covers the row (a real
 * link: a middle click opens a tab, the keyboard reaches it by Tab), and the compare box sits above it.
 * Below 640 px the row is a card: start and status, then pipeline and duration, then the input.
 */
function SessionRow({ item, compared, onCompare, showUser }: { item: SessionSummary; compared: boolean; onCompare: (checked: boolean) => void; showUser: boolean }) {
  const t = useTranslations("history.list");
  const format = useFormat();
  const started = format.dateTime(item.startedAt);
  return (
    <tr
      className="group relative border-b border-neutral-100 hover:bg-neutral-50 focus-within:bg-neutral-50 max-sm:grid max-sm:grid-cols-[auto_minmax(0,1fr)_auto] max-sm:gap-x-2 max-sm:py-1.5 dark:border-neutral-900 dark:hover:bg-neutral-900 dark:focus-within:bg-neutral-900"
      data-testid={`session-row-${item.id}`}
    >
      <td className="py-1 max-sm:row-span-3 max-sm:py-0">
        <label className="relative z-10 flex cursor-pointer p-1.5 max-sm:p-2">
          <input type="checkbox" aria-label={t("compareOne", { started })} checked={compared} onChange={(event) => onCompare(event.target.checked)} />
        </label>
      </td>
      <td className="py-1 pr-3 max-sm:pr-0">
        <div className="flex flex-wrap items-center gap-x-2 gap-y-0.5">
          <Link
            href={`/history/${item.id}`}
            className="whitespace-nowrap text-blue-700 group-hover:underline focus-visible:outline-none after:absolute after:inset-0 after:rounded focus-visible:after:outline-2 focus-visible:after:outline-blue-500 dark:text-blue-300"
          >
            {started}
          </Link>
          <SessionMarks summary={item} kind="branch" />
        </div>
      </td>
      <td className="py-1 pr-3 max-sm:col-start-2 max-sm:row-start-2 max-sm:py-0 max-sm:text-xs max-sm:text-neutral-600 dark:max-sm:text-neutral-400">
        <span className="inline-flex flex-wrap items-center gap-x-1.5">
          {ranName(item) === undefined ? null : <span translate="no">{ranName(item)}</span>}
          <SessionMarks summary={item} kind="pipeline" />
          {/* On a card, who ran it follows the pipeline. */}
          {showUser ? (
            <span className="sm:hidden" translate="no" data-testid="session-user-card">
              · {item.user ?? "local"}
            </span>
          ) : null}
        </span>
      </td>
      {showUser ? (
        <td className="py-1 pr-3 max-sm:hidden" translate="no" data-testid="session-user">
          {item.user ?? "local"}
        </td>
      ) : null}
      <td className="py-1 pr-3 max-sm:col-start-3 max-sm:row-start-1 max-sm:pr-0 max-sm:text-right">
        <Badge state={item.status} />
      </td>
      <td className="py-1 pr-3 tabular-nums max-sm:col-start-3 max-sm:row-start-2 max-sm:py-0 max-sm:pr-0 max-sm:text-right max-sm:text-xs max-sm:text-neutral-600 dark:max-sm:text-neutral-400">
        {format.ms(item.durationMs)}
      </td>
      <td className="max-w-xl truncate py-1 text-neutral-600 max-sm:col-span-2 max-sm:col-start-2 max-sm:row-start-3 max-sm:max-w-none max-sm:py-0 dark:text-neutral-400" translate="no">
        {item.inputPreview}
      </td>
    </tr>
  );
}

/**
 * Files of the sessions folder that cannot be read as sessions: never hidden, each with its name and what
 * is wrong, apart from the list (they match no filter, having no status or pipeline to read).
 */
function DamagedFiles({ damaged }: { damaged: DamagedSession[] }) {
  const t = useTranslations("history.list.damaged");
  return (
    <section aria-labelledby="damaged-title" className="space-y-2 rounded border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-800 dark:bg-amber-950/40" data-testid="damaged-sessions">
      <h2 id="damaged-title" className="font-semibold text-amber-900 dark:text-amber-200">
        {t("title", { count: damaged.length })}
      </h2>
      <p className="text-neutral-700 dark:text-neutral-300">
        {t.rich("intro", {
          code: (chunks) => (
            <code translate="no" className="rounded bg-white px-1 py-0.5 text-xs dark:bg-neutral-900">
              {chunks}
            </code>
          ),
        })}
      </p>
      <ul aria-label={t("label")} className="divide-y divide-amber-200 dark:divide-amber-900">
        {damaged.map((item) => (
          <li key={item.file} className="grid gap-x-4 gap-y-0.5 py-1.5 sm:grid-cols-[minmax(0,18rem)_minmax(0,16rem)_minmax(0,1fr)]" data-testid={`damaged-${item.file}`}>
            <span className="break-all font-mono text-xs leading-5" translate="no" title={t("file")}>
              {item.file}
            </span>
            <span className="text-amber-900 dark:text-amber-200" title={t("problem")}>
              {t(`problems.${item.problem}`)}
            </span>
            <span className="break-all font-mono text-xs leading-5 text-neutral-600 dark:text-neutral-400" translate="no" title={t("detail")}>
              {item.detail}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function HistoryList() {
  const trpc = useTRPC();
  const t = useTranslations("history.list");
  const states = useTranslations("common.states");
  const describe = useDescribeError();
  const params = useSearchParams();
  const [query, setQuery] = useState(params.get("q") ?? "");
  const [debounced, setDebounced] = useState(query);
  // A status from the address bar counts only when it is one of the statuses.
  const statusParam = params.get("status") ?? "";
  const status = (statuses as readonly string[]).includes(statusParam) ? (statusParam as (typeof statuses)[number]) : "";
  const pipeline = params.get("pipeline") ?? "";
  const user = params.get("user") ?? "";
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
  // Who ran each session matters once the studio has users: on loopback every run is the local user's.
  const me = useQuery({ ...trpc.auth.me.queryOptions(), staleTime: 60_000 });
  // The nav asks for `auth.me` too, and may have its answer before this list hydrates (see useHydrated).
  const hydrated = useHydrated();
  const showUser = (hydrated && me.data?.accessControl === true) || user !== "";
  const users = useQuery({ ...trpc.auth.names.queryOptions(), enabled: showUser });
  const list = useQuery({
    ...trpc.sessions.list.queryOptions({ query: debounced || undefined, status: status || undefined, pipeline: pipeline || undefined, user: user || undefined, limit: pageSize, offset: page * pageSize }),
    placeholderData: keepPreviousData,
    // While the index is being built the list grows: ask again each second until it is whole.
    refetchInterval: (query) => (query.state.data?.indexing ? 1000 : false),
  });
  const indexing = list.data?.indexing;
  const total = list.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const filtered = Boolean(debounced || status || pipeline || user);
  const link = "text-blue-700 underline dark:text-blue-300";

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end gap-3">
        <h1 className="mr-4 text-xl font-semibold">{t("title")}</h1>
        <div className="max-sm:w-full">
          <label htmlFor="search" className="block text-xs text-neutral-500">
            {t("search")}
          </label>
          <input
            id="search"
            type="search"
            value={query}
            onChange={(event) => setQuery(event.target.value)}
            placeholder={t("searchPlaceholder")}
            className="w-96 rounded border border-neutral-300 bg-white px-2 py-1.5 text-sm max-sm:w-full dark:border-neutral-700 dark:bg-neutral-900"
          />
        </div>
        <FilterSelect id="status" label={t("status")} value={status} options={[...statuses]} show={(option) => states(option as (typeof statuses)[number])} onChange={(value) => setParam({ status: value, page: "" })} />
        <FilterSelect
          id="pipeline-filter"
          label={t("pipeline")}
          value={pipeline}
          options={(pipelines.data ?? []).map((entry) => entry.name)}
          onChange={(value) => setParam({ pipeline: value, page: "" })}
        />
        {showUser ? <FilterSelect id="user-filter" label={t("user")} value={user} options={users.data ?? []} onChange={(value) => setParam({ user: value, page: "" })} /> : null}
        <div className="ml-auto flex items-center gap-2">
          {compare.length === 2 ? (
            <Link href={`/history/compare?a=${compare[0]}&b=${compare[1]}`} className="rounded bg-blue-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-blue-700">
              {t("compareTwo")}
            </Link>
          ) : (
            <span className="text-xs text-neutral-500">{t("tickTwo")}</span>
          )}
        </div>
      </div>
      {list.error ? <ErrorBox title={t("cannotList")} message={describe.error(list.error)} /> : null}
      {indexing ? (
        <p role="status" className="rounded border border-blue-200 bg-blue-50 px-3 py-2 text-sm text-blue-900 dark:border-blue-900 dark:bg-blue-950/40 dark:text-blue-200">
          {t("indexing", { count: indexing.indexed })}
        </p>
      ) : null}
      {list.data && list.data.items.length === 0 ? (
        <div className="rounded border border-dashed border-neutral-300 p-8 text-center text-sm text-neutral-500 dark:border-neutral-700">
          {total > 0 ? (
            <>
              {t("emptyPage", { page: page + 1, pages })}{" "}
              <button type="button" className={link} onClick={() => setParam({ page: "" })}>
                {t("firstPage")}
              </button>
            </>
          ) : filtered ? (
            t("noMatch")
          ) : (
            t.rich("noSessions", {
              link: (chunks) => (
                <Link href="/" className={link}>
                  {chunks}
                </Link>
              ),
            })
          )}
        </div>
      ) : null}
      {list.data && list.data.items.length > 0 ? (
        <table className="w-full text-sm max-sm:block" aria-label={t("label")}>
          <thead className="max-sm:sr-only">
            <tr className="border-b border-neutral-200 text-left text-xs text-neutral-500 dark:border-neutral-800">
              <th className="w-8 py-1 font-normal">
                <span className="sr-only">{t("columns.compare")}</span>
              </th>
              <th className="py-1 pr-3 font-normal">{t("columns.started")}</th>
              <th className="py-1 pr-3 font-normal">{t("columns.pipeline")}</th>
              {showUser ? <th className="py-1 pr-3 font-normal">{t("columns.user")}</th> : null}
              <th className="py-1 pr-3 font-normal">{t("columns.status")}</th>
              <th className="py-1 pr-3 font-normal">{t("columns.duration")}</th>
              <th className="py-1 pr-3 font-normal">{t("columns.input")}</th>
            </tr>
          </thead>
          <tbody className="max-sm:block">
            {list.data.items.map((item) => (
              <SessionRow
                key={item.id}
                item={item}
                compared={compare.includes(item.id)}
                showUser={showUser}
                onCompare={(checked) => setCompare((current) => (checked ? [...current.filter((id) => id !== item.id), item.id].slice(-2) : current.filter((id) => id !== item.id)))}
              />
            ))}
          </tbody>
        </table>
      ) : null}
      {total > pageSize ? (
        <nav aria-label={t("pages")} className="flex items-center gap-2 text-sm">
          <Button disabled={page === 0} onClick={() => setParam({ page: String(page - 1) })}>
            {t("previous")}
          </Button>
          <span>{t("pageOf", { page: page + 1, pages, total })}</span>
          <Button disabled={page + 1 >= pages} onClick={() => setParam({ page: String(page + 1) })}>
            {t("next")}
          </Button>
        </nav>
      ) : list.data ? (
        <p className="text-xs text-neutral-500">{t("count", { count: total })}</p>
      ) : null}
      {list.data?.damaged ? <DamagedFiles damaged={list.data.damaged} /> : null}
    </div>
  );
}
