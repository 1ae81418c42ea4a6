"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useLocale, useTranslations } from "next-intl";
import { useEffect, useMemo, type ReactNode } from "react";
import { applyEvents, emptyRunView } from "@/client/run-view";
import { useTRPC } from "@/client/trpc";
import { RunDisplay } from "@/components/run/run-display";
import { useRunStream } from "@/components/run/use-run-stream";
import { Badge, Button, CopyButton, ErrorBox, useFormat } from "@/components/ui";
import { useDescribeError } from "@/components/use-describe-error";
import { pipelineHistories } from "@/runtime/conversation";
import type { SessionTreeNode } from "@/store/session-store";
import { RerunForm } from "./rerun-form";
import { SavePipelineForm } from "./save-pipeline-form";
import { ranName } from "@/store/session-name";
import { SessionMarks, Tag } from "./session-marks";

const link = "text-blue-700 hover:underline dark:text-blue-300";

/** An id or a stage id inside a sentence: data, not words to translate. */
const code = (chunks: ReactNode) => (
  <span translate="no" className="font-mono text-xs">
    {chunks}
  </span>
);

function Tree({ node, current }: { node: SessionTreeNode; current: string }) {
  const t = useTranslations("history.tree");
  const marks = useTranslations("history.marks");
  return (
    <li className="ml-3 border-l border-neutral-300 pl-3 dark:border-neutral-700">
      <div className="flex flex-wrap items-center gap-x-2 gap-y-0.5 py-0.5 text-sm" data-testid={`tree-node-${node.id}`}>
        {node.id === current ? (
          <span className="font-mono text-xs font-semibold" aria-current="true" translate="no">
            {node.id}
          </span>
        ) : (
          <Link href={`/history/${node.id}`} className={`font-mono text-xs ${link}`} translate="no">
            {node.id}
          </Link>
        )}
        <Badge state={node.status} />
        <span className="text-xs text-neutral-500">{node.rerunFromStage ? t.rich("rerunFrom", { stage: node.rerunFromStage, code }) : t("original")}</span>
        {node.inputEdited ? <Tag tone="edited">{marks("editedInput")}</Tag> : null}
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
  const t = useTranslations("history.session");
  const tree = useTranslations("history.tree");
  const common = useTranslations("common");
  const format = useFormat();
  const locale = useLocale();
  const describe = useDescribeError();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const session = useQuery(trpc.sessions.get.queryOptions({ id }));
  const family = useQuery(trpc.sessions.tree.queryOptions({ id }));
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

  if (session.error) return <ErrorBox title={t("cannotOpen")} message={describe.error(session.error)} />;
  if (!session.data) return <p className="text-sm text-neutral-500">{common("loading")}</p>;
  const data = session.data;
  // The Markdown is written in the page's language; the archive's file names are the same in every language.
  const exportUrl = (format: "zip" | "md") => `/api/sessions/${data.id}/export?format=${format}${format === "md" ? `&lang=${locale}` : ""}`;
  const named = ranName(data);
  const conversations = pipelineHistories(data.pipeline);
  const stageCount = (data.pipeline as { stages?: unknown[] } | undefined)?.stages?.length ?? 0;

  return (
    <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_340px]">
      <div className="min-w-0 space-y-3">
        <div className="flex flex-wrap items-center gap-2">
          <h1 className="text-xl font-semibold">{t("title")}</h1>
          <span className="font-mono text-sm text-neutral-500" translate="no">
            {data.id}
          </span>
          <Badge state={data.status} />
          <SessionMarks summary={data} kind="pipeline" />
          <span className="text-sm text-neutral-500">
            {named === undefined ? null : (
              <>
                <span translate="no">{named}</span> ·{" "}
              </>
            )}
            {format.dateTime(data.startedAt)} · {format.ms(data.durationMs)}
            {/* Who ran it, once the studio has users (without access control every run is the local user's). */}
            {data.user && data.user !== "local" ? (
              <>
                {" "}
                ·{" "}
                <span translate="no" data-testid="session-user">
                  {data.user}
                </span>
              </>
            ) : null}
          </span>
        </div>
        {data.parentRunId ? (
          <p className="flex flex-wrap items-center gap-2 text-sm">
            <span>
              {t.rich("branchOf", {
                parent: data.parentRunId,
                stage: data.rerunFromStage ?? "",
                code,
                link: (chunks) => (
                  <Link href={`/history/${data.parentRunId}`} className={`font-mono text-xs ${link}`} translate="no">
                    {chunks}
                  </Link>
                ),
              })}
            </span>
            {data.inputEdited ? <Tag tone="edited">{t("withEditedInput")}</Tag> : null}
          </p>
        ) : null}
        <div className="flex flex-wrap items-center gap-x-5 gap-y-1 text-sm">
          {data.status !== "running" ? (
            <span>
              <Link href={`/?run=${data.id}&pace=recorded`} prefetch={false} className={link}>
                <span aria-hidden="true">▶ </span>
                {t("replay")}
              </Link>{" "}
              <span className="text-xs text-neutral-500">({t("replayNote")})</span>
            </span>
          ) : null}
          <span role="group" aria-label={t("downloads")} className="flex flex-wrap gap-x-3">
            <a href={exportUrl("zip")} download className={link} title={t("downloadZipNote")}>
              <span aria-hidden="true">⤓ </span>
              {t("downloadZip")}
            </a>
            <a href={exportUrl("md")} download className={link} title={t("downloadMarkdownNote")}>
              <span aria-hidden="true">⤓ </span>
              {t("downloadMarkdown")}
            </a>
          </span>
        </div>
        {data.inlinePipeline ? <SavePipelineForm key={data.id} session={data} /> : null}
        {conversations.map(({ stageId, turns }) => {
          // A stage of a pipeline of several is named (a chat completion's is its pipeline's one stage).
          const title = stageCount > 1 ? t("conversationOfStage", { stage: stageId }) : t("conversation");
          return (
            <section key={stageId} aria-label={title} className="rounded border border-neutral-200 p-3 dark:border-neutral-800">
              <h2 className="text-sm font-medium">{title}</h2>
              <ol className="mt-1 space-y-2">
                {turns.map((turn, index) => (
                  <li key={index}>
                    <div className="text-xs font-medium text-neutral-600 dark:text-neutral-400">{t(turn.role === "user" ? "userTurn" : "assistantTurn")}</div>
                    <pre className="whitespace-pre-wrap break-words font-mono text-sm" translate="no">
                      {turn.content}
                    </pre>
                  </li>
                ))}
              </ol>
            </section>
          );
        })}
        <section aria-label={t("input")} className="rounded border border-neutral-200 p-3 dark:border-neutral-800">
          <div className="flex items-center justify-between">
            <h2 className="text-sm font-medium">{t("input")}</h2>
            <CopyButton text={data.input} label={t("copyInput")} />
          </div>
          <pre className="mt-1 whitespace-pre-wrap break-words font-mono text-sm" translate="no">
            {data.input}
          </pre>
        </section>
        {running ? (
          <p className="text-sm">
            {t.rich("live", {
              link: (chunks) => (
                <Link href={`/?run=${data.id}`} className="text-blue-700 underline dark:text-blue-300">
                  {chunks}
                </Link>
              ),
            })}
          </p>
        ) : null}
        <RunDisplay view={view} />
        <details className="rounded border border-neutral-200 p-3 text-sm dark:border-neutral-800">
          <summary className="cursor-pointer font-medium">{t("parameters")}</summary>
          <div className="mt-2 overflow-x-auto">
            <table className="text-xs">
              <thead>
                <tr className="text-left text-neutral-500">
                  <th className="pr-4 font-normal">{t("parameterColumns.model")}</th>
                  <th className="pr-4 font-normal">{t("parameterColumns.file")}</th>
                  <th className="pr-4 font-normal">{t("parameterColumns.load")}</th>
                  <th className="font-normal">{t("parameterColumns.generation")}</th>
                </tr>
              </thead>
              <tbody translate="no">
                {Object.entries(data.models).map(([name, model]) => (
                  <tr key={name} className="align-top">
                    <td className="pr-4 font-medium">{name}</td>
                    <td className="pr-4 font-mono break-all">{model.remote ? `${model.remote.model} @ ${model.remote.baseUrl}` : model.file}</td>
                    <td className="pr-4 font-mono break-all">{JSON.stringify(model.load)}</td>
                    <td className="font-mono break-all">{JSON.stringify(model.params)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      </div>
      <aside className="min-w-0 space-y-4">
        <RerunForm key={data.id} session={data} />
        <section aria-label={tree("label")} className="rounded border border-neutral-200 p-3 dark:border-neutral-800">
          <h2 className="mb-1 font-medium">{tree("title")}</h2>
          {family.data ? (
            <ul className="-ml-3">
              <Tree node={family.data} current={data.id} />
            </ul>
          ) : family.error ? (
            <p className="text-sm text-red-700 dark:text-red-300">{describe.error(family.error)}</p>
          ) : (
            <p className="text-sm text-neutral-500">{common("loading")}</p>
          )}
        </section>
        {data.parentRunId ? (
          <Link href={`/history/compare?a=${data.parentRunId}&b=${data.id}`} className={`block text-sm ${link}`}>
            {t("compareWithParent")}
          </Link>
        ) : null}
        <Button
          variant="danger"
          onClick={() => {
            if (window.confirm(t("deleteConfirm", { id: data.id }))) remove.mutate({ id: data.id });
          }}
        >
          {t("delete")}
        </Button>
        {remove.error ? <ErrorBox title={t("cannotDelete")} message={describe.error(remove.error)} /> : null}
      </aside>
    </div>
  );
}
