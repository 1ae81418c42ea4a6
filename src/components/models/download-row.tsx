"use client";
/**
 * One download: its file and where it comes from (an address without its query), a progress bar with
 * bytes, speed and time left, Cancel; then either why it failed (with Try again, which starts it again in
 * this row) or, once done, "Add to models.yaml as [name]". A download that has ended can be dismissed.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useTranslations } from "next-intl";
import { useId, useState, type FormEvent } from "react";
import { useTRPC } from "@/client/trpc";
import { inputClass } from "@/components/editor/fields";
import { Badge, Button, ErrorBox } from "@/components/ui";
import { useFormat } from "@/components/use-format";
import type { AppRouter } from "@/server/trpc/router";
import { dataTag, useDownloadError } from "./use-download-error";

export type Download = inferRouterOutputs<AppRouter>["models"]["downloads"][number];

const badgeState = { starting: "connecting", downloading: "running", done: "done", failed: "failed", cancelled: "cancelled" } as const;

/** "12 s left", "3 min 5 s left", "2 h 10 min left". */
function useTimeLeft(): (ms: number) => string {
  const t = useTranslations("models.downloads.timeLeft");
  const format = useFormat();
  return (ms) => {
    const seconds = Math.max(1, Math.ceil(ms / 1000));
    if (seconds < 60) return t("seconds", { seconds: format.number(seconds) });
    if (seconds < 3600) return t("minutes", { minutes: format.number(Math.floor(seconds / 60)), seconds: format.number(seconds % 60) });
    return t("hours", { hours: format.number(Math.floor(seconds / 3600)), minutes: format.number(Math.floor((seconds % 3600) / 60)) });
  };
}

/** Reads the downloads and the models again (after a cancel, or a model added). */
function useRefresh(): () => Promise<unknown> {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return () => Promise.all([queryClient.invalidateQueries({ queryKey: trpc.models.downloads.queryKey() }), queryClient.invalidateQueries({ queryKey: trpc.models.list.queryKey() })]);
}

export function DownloadRow({ download }: { download: Download }) {
  const t = useTranslations("models.downloads");
  const format = useFormat();
  const timeLeft = useTimeLeft();
  const describe = useDownloadError();
  const trpc = useTRPC();
  const titleId = useId();
  const refresh = useRefresh();
  const cancel = useMutation(trpc.models.cancelDownload.mutationOptions({ onSettled: refresh }));
  const retry = useMutation(trpc.models.retryDownload.mutationOptions({ onSettled: refresh }));
  const dismiss = useMutation(trpc.models.dismissDownload.mutationOptions({ onSettled: refresh }));

  const running = download.status === "starting" || download.status === "downloading";
  const total = download.totalBytes;
  const percent = total ? Math.min(100, (download.downloadedBytes / total) * 100) : undefined;
  const figures = [
    total ? t("ofTotal", { done: format.bytes(download.downloadedBytes), total: format.bytes(total) }) : format.bytes(download.downloadedBytes),
    download.status === "downloading" && download.bytesPerSecond > 0 ? t("speed", { speed: format.bytes(download.bytesPerSecond) }) : undefined,
    download.status === "downloading" && download.etaMs !== null && download.etaMs > 0 ? timeLeft(download.etaMs) : undefined,
    download.resumedFromBytes > 0 ? t("resumed", { bytes: format.bytes(download.resumedFromBytes) }) : undefined,
    download.retries > 0 ? t("retries", { count: download.retries }) : undefined,
  ].filter((figure): figure is string => figure !== undefined);

  return (
    <li data-testid={`download-${download.id}`} data-status={download.status} className="space-y-2 rounded border border-neutral-200 p-3 dark:border-neutral-800" aria-busy={running}>
      <div className="flex flex-wrap items-center gap-2">
        <span id={titleId} translate="no" className="font-mono text-sm font-medium break-all">
          {download.fileName ?? download.address}
        </span>
        <Badge state={badgeState[download.status]}>{t(`status.${download.status}`)}</Badge>
        {running ? null : (
          <Button variant="ghost" className="ml-auto px-2 py-1 text-xs" aria-describedby={titleId} onClick={() => dismiss.mutate({ id: download.id })} disabled={dismiss.isPending}>
            {t("dismiss")}
          </Button>
        )}
      </div>
      {download.fileName ? (
        <div translate="no" className="font-mono text-xs break-all text-neutral-600 dark:text-neutral-400">
          {download.address}
        </div>
      ) : null}
      {running || download.status === "cancelled" ? (
        <div className="space-y-1">
          <div
            role="progressbar"
            aria-labelledby={titleId}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={percent === undefined ? undefined : Math.floor(percent)}
            aria-valuetext={figures.join(", ")}
            className="h-2 overflow-hidden rounded bg-neutral-200 dark:bg-neutral-800"
          >
            <div
              className={`h-2 rounded transition-[width] duration-300 ${running ? "bg-blue-600 dark:bg-blue-500" : "bg-neutral-400 dark:bg-neutral-600"} ${percent === undefined && running ? "w-1/3 animate-pulse" : ""}`}
              style={percent === undefined ? undefined : { width: `${percent.toFixed(1)}%` }}
            />
          </div>
          <div className="flex flex-wrap items-center justify-between gap-2">
            <p data-testid="download-figures" className="font-mono text-xs tabular-nums text-neutral-700 dark:text-neutral-300">
              {percent !== undefined ? `${t("percent", { value: Math.floor(percent) / 100 })} · ` : ""}
              {figures.join(" · ")}
            </p>
            {running ? (
              <Button variant="danger" onClick={() => cancel.mutate({ id: download.id })} disabled={cancel.isPending}>
                {t("cancel")}
              </Button>
            ) : null}
          </div>
        </div>
      ) : null}
      {download.status === "failed" || download.status === "cancelled" ? (
        <div className="flex flex-wrap items-start justify-between gap-2">
          {download.error ? (
            <p role="alert" className="min-w-0 flex-1 text-sm break-words text-red-700 dark:text-red-300">
              {describe(download.error)}
            </p>
          ) : null}
          <Button className="ml-auto" onClick={() => retry.mutate({ id: download.id })} disabled={retry.isPending}>
            {t("retry")}
          </Button>
        </div>
      ) : null}
      {download.status === "done" ? <AddDownloaded download={download} /> : null}
      {cancel.error ? <ErrorBox title={t("cancel")} message={describe(cancel.error)} /> : null}
      {retry.error ? <ErrorBox title={t("cannotRetry")} message={describe(retry.error)} /> : null}
      {dismiss.error ? <ErrorBox title={t("dismiss")} message={describe(dismiss.error)} /> : null}
    </li>
  );
}

/** Once done: "Add to models.yaml as [name]" (the name prefilled from the file's), or what models.yaml names it. */
function AddDownloaded({ download }: { download: Download }) {
  const t = useTranslations("models.downloads");
  const format = useFormat();
  const describe = useDownloadError();
  const trpc = useTRPC();
  const nameId = useId();
  const [name, setName] = useState(download.suggestedName ?? "");
  const add = useMutation(trpc.models.addDownloaded.mutationOptions({ onSuccess: useRefresh() }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate({ id: download.id, name: name.trim() });
  };
  return (
    <div className="space-y-2 text-sm">
      <p>{t("done", { size: format.bytes(download.downloadedBytes) })}</p>
      {add.data ? (
        <p role="status" className="text-green-800 dark:text-green-300">
          {t.rich("added", { name: add.data.name, code: dataTag })}
        </p>
      ) : download.configuredAs.length > 0 ? (
        <p>{t.rich("configured", { names: download.configuredAs.join(", "), code: dataTag })}</p>
      ) : (
        <form onSubmit={submit} className="flex flex-wrap items-center gap-2">
          <label htmlFor={nameId}>{t.rich("addAs", { code: dataTag })}</label>
          <input
            id={nameId}
            translate="no"
            className={`${inputClass} w-64 max-w-full font-mono`}
            value={name}
            onChange={(event) => setName(event.target.value)}
            required
            maxLength={64}
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"
          />
          <Button type="submit" variant="primary" disabled={add.isPending || name.trim() === ""}>
            {add.isPending ? t("adding") : t("add")}
          </Button>
        </form>
      )}
      {add.error ? <ErrorBox title={t("cannotAdd")} message={describe(add.error)} /> : null}
    </div>
  );
}
