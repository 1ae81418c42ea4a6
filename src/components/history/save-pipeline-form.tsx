"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { useState, type ReactNode } from "react";
import { useTRPC } from "@/client/trpc";
import { Button, ErrorBox } from "@/components/ui";
import { useDescribeError } from "@/components/use-describe-error";
import type { Pipeline } from "@/config/schema";
import type { SessionData } from "./session-data";

/**
 * A session whose pipeline was sent with the run (the editor's canvas, never saved): says so, and saves
 * that pipeline under a new name (a taken name is refused by the server), then links to it in the Editor.
 */
export function SavePipelineForm({ session }: { session: SessionData }) {
  const t = useTranslations("history.unsaved");
  const describe = useDescribeError();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const save = useMutation(
    trpc.pipelines.save.mutationOptions({
      onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.pipelines.list.queryKey() }),
    }),
  );
  const code = (chunks: ReactNode) => (
    <span translate="no" className="font-mono">
      {chunks}
    </span>
  );
  return (
    <section aria-label={t("label")} className="space-y-2 rounded border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-800 dark:bg-amber-950/40">
      <h2 className="font-medium">{t("label")}</h2>
      <p>{t.rich("explain", { basedOn: session.pipelineName, code })}</p>
      {save.data ? (
        <p role="status">
          {t.rich("saved", { name: save.data.name, code })}{" "}
          <Link href={`/editor?pipeline=${encodeURIComponent(save.data.name)}`} className="font-medium text-blue-700 underline dark:text-blue-300">
            {t("openInEditor")}
          </Link>
        </p>
      ) : (
        <form
          className="space-y-1"
          onSubmit={(event) => {
            event.preventDefault();
            save.mutate({ name, pipeline: session.pipeline as Pipeline, baseVersion: null });
          }}
        >
          <label htmlFor="pipeline-name" className="block text-xs text-neutral-600 dark:text-neutral-400">
            {t("name")}
          </label>
          <div className="flex flex-wrap gap-2">
            <input
              id="pipeline-name"
              value={name}
              onChange={(event) => setName(event.target.value)}
              required
              maxLength={64}
              pattern="[A-Za-z0-9][A-Za-z0-9_\-]{0,63}"
              aria-describedby="pipeline-name-hint"
              translate="no"
              className="w-56 rounded border border-neutral-300 bg-white px-2 py-1.5 font-mono text-sm max-sm:min-w-0 max-sm:flex-1 dark:border-neutral-700 dark:bg-neutral-900"
            />
            <Button type="submit" variant="primary" disabled={save.isPending || name === ""}>
              {save.isPending ? t("saving") : t("save")}
            </Button>
          </div>
          <p id="pipeline-name-hint" className="text-xs text-neutral-500">
            {t("nameHint")}
          </p>
        </form>
      )}
      {save.error ? <ErrorBox title={t("cannotSave")} message={save.error.data?.appCode === "conflict" ? t("nameTaken", { name: save.variables?.name ?? name }) : describe.error(save.error)} /> : null}
    </section>
  );
}
