"use client";
/** The Models page: every configured model, what the base pipeline misses, and "Add a model" with its downloads. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useEffect, useState } from "react";
import { useTRPC } from "@/client/trpc";
import { ErrorBox } from "@/components/ui";
import { useDescribeError } from "@/components/use-describe-error";
import { AddModel } from "./add-model";
import { ModelCard } from "./model-card";
import { dataTag } from "./use-download-error";

export function ModelsPage() {
  const t = useTranslations("models");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const describe = useDescribeError();
  const list = useQuery(trpc.models.list.queryOptions());
  const unload = useMutation(trpc.models.unload.mutationOptions({ onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.models.list.queryKey() }) }));
  // A model asked to unload while a run uses it goes when its calls end. Until then the page asks the
  // worker's status every 2 s (the list would inspect every model each time, between a run's tokens), and
  // reads the list again once nothing is unloading.
  const unloadingShown = list.data?.models.some((model) => model.unloading) ?? false;
  const status = useQuery(trpc.models.status.queryOptions(undefined, { enabled: unloadingShown, refetchInterval: 2000 }));
  const stillUnloading = status.data?.loaded.some((entry) => entry.unloading);
  useEffect(() => {
    if (unloadingShown && stillUnloading === false) void queryClient.invalidateQueries({ queryKey: trpc.models.list.queryKey() });
  }, [unloadingShown, stillUnloading, status.dataUpdatedAt, queryClient, trpc]);
  // A missing model's "Download it…" fills the form's file name with the file models.yaml expects.
  const [wanted, setWanted] = useState<{ fileName: string } | undefined>();

  if (list.error) return <ErrorBox title={t("cannotRead")} message={describe.error(list.error)} />;
  if (!list.data) return <p className="text-sm text-neutral-600 dark:text-neutral-400">{t("reading")}</p>;
  const { models, modelsDirectory, memorySafety, gpu, vram } = list.data;
  // Missing and needed by the base pipeline: marked `required_for_base`, or used by one of its stages.
  const missingRequired = models.filter((model) => !model.present && (model.requiredForBase || model.baseStages.length > 0));
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
        <h1 className="text-xl font-semibold">{t("title")}</h1>
        {/* Words break between words; the folder's path, which may have none, anywhere. */}
        <span className="min-w-0 text-sm break-words text-neutral-600 dark:text-neutral-400">
          {t.rich("folder", { folder: modelsDirectory, code: (chunks) => <span className="break-all">{dataTag(chunks)}</span> })} · {gpu ? t.rich("gpu", { gpu, code: dataTag }) : t("noGpu")}
        </span>
        <a href="#add-model" className="ml-auto text-sm font-medium text-blue-700 underline-offset-2 hover:underline dark:text-blue-300">
          {t("add.title")}
        </a>
      </div>
      {missingRequired.length > 0 ? (
        <div role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
          <p>{t("missingRequired.title", { count: missingRequired.length })}</p>
          <ul className="my-1 list-disc pl-5">
            {missingRequired.map((model) => (
              <li key={model.name} translate="no" className="font-mono break-all">
                {model.name}: {model.file}
              </li>
            ))}
          </ul>
          <p className="break-words">{t.rich("missingRequired.fix", { count: new Set(missingRequired.map((model) => model.file)).size, folder: modelsDirectory, code: dataTag })}</p>
        </div>
      ) : null}
      {models.length === 0 ? (
        <div data-testid="no-models" className="rounded border border-dashed border-neutral-300 p-4 text-sm md:p-8 text-neutral-700 dark:border-neutral-700 dark:text-neutral-300">
          <p className="font-medium">{t("empty.title")}</p>
          <p className="mt-1 break-words">{t.rich("empty.body", { folder: modelsDirectory, code: dataTag })}</p>
          <pre translate="no" className="mt-2 overflow-x-auto rounded bg-neutral-100 p-2 font-mono text-xs dark:bg-neutral-900">
            {"models:\n  mymodel:\n    file: my-model.Q4_K_M.gguf\n    quantization: Q4_K_M"}
          </pre>
        </div>
      ) : (
        <ul className="grid gap-3 md:grid-cols-2 xl:grid-cols-3">
          {models.map((model) => (
            <ModelCard
              key={model.name}
              model={model}
              memorySafety={memorySafety}
              vram={vram}
              onUnload={() => unload.mutate({ name: model.name })}
              unloading={unload.isPending}
              onDownload={() => setWanted({ fileName: model.file })}
            />
          ))}
        </ul>
      )}
      {unload.error ? <ErrorBox title={t("card.cannotUnload")} message={describe.error(unload.error)} /> : null}
      <AddModel modelsDirectory={modelsDirectory} wanted={wanted} />
    </div>
  );
}
