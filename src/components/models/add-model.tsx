"use client";
/** "Add a model": a URI and an optional file name start a download; the downloads of this server below. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useEffect, useId, useRef, useState, type FormEvent, type InputHTMLAttributes } from "react";
import { useTRPC } from "@/client/trpc";
import { inputClass } from "@/components/editor/fields";
import { Button, ErrorBox } from "@/components/ui";
import { DownloadRow, type Download } from "./download-row";
import { dataTag, productTag, useDownloadError } from "./use-download-error";

const examples = ["hf:OWNER/REPO/FILE.gguf", "hf:OWNER/REPO:QUANT", "https://HOST/PATH/model.Q4_K_M.gguf"];
const running = (download: Download) => download.status === "starting" || download.status === "downloading";

/** A field for data (a URI, a file name): not translated, not spell-checked, not filled from history. */
function DataInput({ onChange, ...props }: Omit<InputHTMLAttributes<HTMLInputElement>, "onChange" | "value"> & { value: string; onChange: (value: string) => void }) {
  return <input translate="no" className={`${inputClass} font-mono`} spellCheck={false} autoComplete="off" onChange={(event) => onChange(event.target.value)} {...props} />;
}

export function AddModel({ modelsDirectory, wanted }: { modelsDirectory: string; wanted?: { fileName: string } }) {
  const t = useTranslations("models.add");
  const tDownloads = useTranslations("models.downloads");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const describe = useDownloadError();
  const uriId = useId();
  const fileId = useId();
  const formsId = useId();
  const fileHelpId = useId();
  const [uri, setUri] = useState("");
  const [fileName, setFileName] = useState("");
  const section = useRef<HTMLElement>(null);

  // A missing model's file asked for: its name goes in the form, and the address is what is left to give.
  useEffect(() => {
    if (!wanted) return;
    setFileName(wanted.fileName);
    section.current?.scrollIntoView({ block: "start" });
    document.getElementById(uriId)?.focus();
  }, [wanted, uriId]);

  // A poll a few times a second while a download runs (see the models router for why not a subscription).
  const downloads = useQuery(trpc.models.downloads.queryOptions(undefined, { refetchInterval: (query) => (query.state.data?.some(running) ? 400 : false) }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.models.downloads.queryKey() });
  const start = useMutation(trpc.models.startDownload.mutationOptions({ onSuccess: refresh }));

  // A download that ends may complete a model models.yaml already names: its card then shows it present.
  const finished = downloads.data?.filter((download) => download.status === "done").length ?? 0;
  const seenFinished = useRef(finished);
  useEffect(() => {
    if (finished > seenFinished.current) void queryClient.invalidateQueries({ queryKey: trpc.models.list.queryKey() });
    seenFinished.current = finished;
  }, [finished, queryClient, trpc]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate({ uri: uri.trim(), fileName: fileName.trim() || undefined }, { onSuccess: () => setFileName("") });
  };

  return (
    <section ref={section} id="add-model" aria-labelledby={`${uriId}-title`} className="scroll-mt-4 space-y-3 rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <h2 id={`${uriId}-title`} className="text-lg font-semibold">
        {t("title")}
      </h2>
      <form onSubmit={submit} className="grid gap-3 md:grid-cols-[minmax(0,2fr)_minmax(0,1fr)_auto] md:items-start">
        <div className="space-y-1">
          <label htmlFor={uriId} className="text-sm font-medium">
            {t("uri")}
          </label>
          <DataInput id={uriId} value={uri} onChange={setUri} placeholder="hf:OWNER/REPO:QUANT" required maxLength={2048} aria-describedby={formsId} />
          <div id={formsId} className="text-xs text-neutral-600 dark:text-neutral-400">
            <p>{t.rich("forms", { product: productTag })}</p>
            <ul className="mt-0.5 space-y-0.5">
              {examples.map((example) => (
                <li key={example}>{dataTag(example)}</li>
              ))}
            </ul>
          </div>
        </div>
        <div className="space-y-1">
          <label htmlFor={fileId} className="text-sm font-medium">
            {t("fileName")} <span className="font-normal text-neutral-600 dark:text-neutral-400">({t("optional")})</span>
          </label>
          <DataInput id={fileId} value={fileName} onChange={setFileName} placeholder="model.Q4_K_M.gguf" maxLength={200} aria-describedby={fileHelpId} />
          <p id={fileHelpId} className="text-xs break-words text-neutral-600 dark:text-neutral-400">
            {t.rich("fileNameHelp", { folder: modelsDirectory, code: dataTag })}
          </p>
        </div>
        <Button type="submit" variant="primary" className="justify-center md:mt-6" disabled={start.isPending || uri.trim() === ""}>
          {start.isPending ? t("starting") : t("download")}
        </Button>
      </form>
      {start.error ? <ErrorBox title={t("cannotStart")} message={describe(start.error)} /> : null}
      {downloads.data && downloads.data.length > 0 ? (
        <div className="space-y-2">
          <h3 className="text-sm font-semibold">{tDownloads("title")}</h3>
          <ul className="space-y-2">
            {downloads.data.map((download) => (
              <DownloadRow key={download.id} download={download} />
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  );
}
