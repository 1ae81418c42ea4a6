"use client";
/** One configured model: present or missing, its GGUF's facts, its memory needs and fit, and Unload. */
import { useTranslations } from "next-intl";
import { useId, type ReactNode } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import { Badge, Button } from "@/components/ui";
import { useFormat } from "@/components/use-format";
import type { AppRouter } from "@/server/trpc/router";
import { dataTag } from "./use-download-error";

export type ModelsList = inferRouterOutputs<AppRouter>["models"]["list"];
export type ModelEntry = ModelsList["models"][number];

/** Need against what is free after the safety coefficient, as a bar (red past 100%). */
function FitBar({ label, need, free, safety }: { label: string; need: number; free: number; safety: number }) {
  const t = useTranslations("models.card");
  const format = useFormat();
  const budget = free * safety;
  const share = budget > 0 ? need / budget : Infinity;
  const fits = share <= 1;
  return (
    <div className="text-xs">
      <div className="flex flex-wrap justify-between gap-x-2">
        <span>{label}</span>
        <span className={fits ? "text-neutral-600 dark:text-neutral-400" : "font-medium text-red-700 dark:text-red-300"}>
          {t("fit", { need: format.bytes(need), budget: format.bytes(budget), percent: format.number(Math.round(safety * 100)), free: format.bytes(free) })}
          {fits ? "" : t("doesNotFit")}
        </span>
      </div>
      <div
        className="mt-0.5 h-2 rounded bg-neutral-200 dark:bg-neutral-800"
        role="meter"
        aria-label={t("needed", { label })}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.min(100, Math.round(share * 100))}
      >
        <div className={`h-2 rounded ${fits ? "bg-green-500" : "bg-red-500"}`} style={{ width: `${Math.min(100, Math.max(1, share * 100)).toFixed(1)}%` }} />
      </div>
    </div>
  );
}

/** A card's first line: the model's name (the card's label, by `id`) and its badges. */
function CardHead({ id, name, children }: { id: string; name: string; children: ReactNode }) {
  return (
    <div className="flex flex-wrap items-center gap-2">
      <h2 id={id} className="font-medium break-all" translate="no">
        {name}
      </h2>
      {children}
    </div>
  );
}

export function ModelCard(props: {
  model: ModelEntry;
  memorySafety: ModelsList["memorySafety"];
  vram: ModelsList["vram"];
  onUnload: () => void;
  unloading: boolean;
  /** For a missing model: fill "Add a model" to download its file. */
  onDownload: () => void;
}) {
  const { model, memorySafety, vram, onUnload, unloading, onDownload } = props;
  const t = useTranslations("models.card");
  const format = useFormat();
  const nameId = useId();
  const unloadId = useId();
  const downloadId = useId();
  const none = "—";
  const usedByBase = model.requiredForBase || model.baseStages.length > 0;
  if (model.remote) {
    // Served by an OpenAI-compatible server: where, and with which key's variable; no file, facts or memory here.
    return (
      <li data-testid={`model-${model.name}`} className="space-y-2 rounded border border-neutral-200 p-3 dark:border-neutral-800">
        <CardHead id={nameId} name={model.name}>
          <Badge state="waiting">{t("remote")}</Badge>
          {usedByBase ? <Badge state="waiting">{t.rich("usedByBase", { stages: model.baseStages.join(", "), code: dataTag })}</Badge> : null}
        </CardHead>
        <p className="text-sm break-words">{t.rich("remoteServed", { baseUrl: model.remote.baseUrl, model: model.remote.model, code: dataTag })}</p>
        <p className="text-xs text-neutral-600 dark:text-neutral-400">
          {model.remote.apiKeyEnv ? t.rich("remoteKey", { variable: model.remote.apiKeyEnv, code: dataTag }) : t("remoteNoKey")} {t("remoteHere")}
        </p>
      </li>
    );
  }
  return (
    <li data-testid={`model-${model.name}`} className="space-y-2 rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <CardHead id={nameId} name={model.name}>
        <Badge state={model.present ? "present" : "missing"} />
        {usedByBase ? (
          <Badge state={model.present ? "waiting" : "failed"}>{model.requiredForBase ? t("requiredByBase") : t.rich("usedByBase", { stages: model.baseStages.join(", "), code: dataTag })}</Badge>
        ) : null}
        {model.loaded ? <Badge state="generating">{model.unloading ? t("unloading") : t("loaded")}</Badge> : model.fileLoaded ? <Badge state="waiting">{t("fileLoaded")}</Badge> : null}
      </CardHead>
      <div className="font-mono text-xs break-all text-neutral-600 dark:text-neutral-400">
        <span translate="no">{model.file}</span>
        {model.fileSize !== undefined ? ` · ${format.bytes(model.fileSize)}` : ""}
      </div>
      {!model.present ? (
        <>
          <p className="text-sm break-words text-red-700 dark:text-red-300">{t.rich("missingFile", { path: model.path, code: dataTag })}</p>
          {/^[^\\/]+\.gguf$/i.test(model.file) ? (
            <Button id={downloadId} aria-labelledby={`${downloadId} ${nameId}`} onClick={onDownload}>
              {t("downloadIt")}
            </Button>
          ) : null}
        </>
      ) : (
        <>
          <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-xs">
            <dt className="text-neutral-600 dark:text-neutral-400">{t("architecture")}</dt>
            <dd translate="no">{model.architecture ?? none}</dd>
            <dt className="text-neutral-600 dark:text-neutral-400">{t("parameters")}</dt>
            <dd>{model.parameters !== undefined ? t("millions", { value: format.number(model.parameters / 1e6, model.parameters < 1e7 ? 2 : 0) }) : none}</dd>
            <dt className="text-neutral-600 dark:text-neutral-400">{t("quantization")}</dt>
            <dd>
              <span translate="no">{model.quantization ?? none}</span>
              {model.declaredQuantization ? <span className="text-neutral-600 dark:text-neutral-400"> {t.rich("declared", { quantization: model.declaredQuantization, code: dataTag })}</span> : null}
            </dd>
            <dt className="text-neutral-600 dark:text-neutral-400">{t("context")}</dt>
            <dd>
              {t("contextConfigured", { configured: format.number(model.contextSize) })}
              {model.trainContextSize ? ` · ${t("contextTrained", { trained: format.number(model.trainContextSize) })}` : ""}
            </dd>
            <dt className="text-neutral-600 dark:text-neutral-400">{t("chatTemplate")}</dt>
            <dd>{model.hasChatTemplate ? t("chatYes") : t("chatNo")}</dd>
            <dt className="text-neutral-600 dark:text-neutral-400">{t("threadsGpuLayers")}</dt>
            <dd>
              {format.number(model.threads)} · {format.number(model.gpuLayers)}
            </dd>
          </dl>
          {model.memory ? (
            <div className="space-y-1">
              <FitBar label="RAM" need={model.resident?.ram ?? model.memory.totalRam} free={model.freeRam} safety={memorySafety.ram} />
              {vram ? <FitBar label="VRAM" need={model.resident?.vram ?? model.memory.totalVram} free={vram.free} safety={memorySafety.vram} /> : null}
            </div>
          ) : null}
        </>
      )}
      {model.warnings.map((warning) => (
        <p key={warning.code} className="text-xs text-amber-800 dark:text-amber-300">
          ⚠ {warning.code === "quantization-mismatch" ? t.rich("warnings.quantization-mismatch", { ...warning.params, code: dataTag }) : t.rich("warnings.context-over-trained", { configured: format.number(warning.params.configured), trained: format.number(warning.params.trained), code: dataTag })}
        </p>
      ))}
      {model.error ? <p className="text-xs break-words text-red-700 dark:text-red-300">{t.rich("cannotInspect", { error: model.error, code: dataTag })}</p> : null}
      {/* A load of its file held and not going, its own or another's: Unload frees every load of the file. */}
      {model.fileLoaded ? (
        <Button id={unloadId} aria-labelledby={`${unloadId} ${nameId}`} onClick={onUnload} disabled={unloading}>
          {t("unload")}
        </Button>
      ) : null}
    </li>
  );
}
