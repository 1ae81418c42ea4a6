"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { describeError, useTRPC } from "@/client/trpc";
import { Badge, Button, ErrorBox, formatBytes } from "@/components/ui";

/** Need against what is free after the safety coefficient, as a bar (red past 100%). */
function FitBar({ label, need, free, safety }: { label: string; need: number; free: number; safety: number }) {
  const budget = free * safety;
  const share = budget > 0 ? need / budget : Infinity;
  const fits = share <= 1;
  return (
    <div className="text-xs">
      <div className="flex justify-between gap-2">
        <span>{label}</span>
        <span className={fits ? "text-neutral-500" : "font-medium text-red-700 dark:text-red-300"}>
          {formatBytes(need)} of {formatBytes(budget)} usable ({Math.round(safety * 100)}% of {formatBytes(free)} free){fits ? "" : " — does not fit"}
        </span>
      </div>
      <div
        className="mt-0.5 h-2 rounded bg-neutral-200 dark:bg-neutral-800"
        role="meter"
        aria-label={`${label} needed`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.min(100, Math.round(share * 100))}
      >
        <div className={`h-2 rounded ${fits ? "bg-green-500" : "bg-red-500"}`} style={{ width: `${Math.min(100, Math.max(1, share * 100)).toFixed(1)}%` }} />
      </div>
    </div>
  );
}

export function ModelsPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.models.list.queryOptions());
  const unload = useMutation(trpc.models.unload.mutationOptions({ onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.models.list.queryKey() }) }));

  if (list.error) return <ErrorBox title="Cannot read the models" message={describeError(list.error)} />;
  if (!list.data) return <p className="text-sm text-neutral-500">Reading the models' files…</p>;
  const { models, modelsDirectory, memorySafety, gpu, vram } = list.data;
  // Missing and needed by the base pipeline: marked `required_for_base`, or used by one of its stages.
  const missingRequired = models.filter((model) => !model.present && (model.requiredForBase || model.baseStages.length > 0));
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-baseline gap-3">
        <h1 className="text-xl font-semibold">Models</h1>
        <span className="text-sm text-neutral-500">
          folder <code className="font-mono">{modelsDirectory}</code> · {gpu ? `GPU: ${gpu}` : "no GPU (CPU only)"}
        </span>
      </div>
      {missingRequired.length > 0 ? (
        <div role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
          The base pipeline needs {missingRequired.map((model) => model.name).join(", ")}, whose file{missingRequired.length > 1 ? "s are" : " is"} missing: put{" "}
          {[...new Set(missingRequired.map((model) => model.file))].map((file, index) => (
            <span key={file}>
              {index > 0 ? ", " : ""}
              <code className="font-mono">{file}</code>
            </span>
          ))}{" "}
          in <code className="font-mono">{modelsDirectory}</code> (or fix <code>file</code> in models.yaml), then reload this page.
        </div>
      ) : null}
      {models.length === 0 ? (
        <div className="rounded border border-dashed border-neutral-300 p-8 text-sm text-neutral-600 dark:border-neutral-700 dark:text-neutral-400">
          <p className="font-medium">No models yet.</p>
          <p className="mt-1">
            Put a <code>.gguf</code> file in <code className="font-mono">{modelsDirectory}</code>, then name it in <code>config/models.yaml</code> under <code>models:</code>, for example:
          </p>
          <pre className="mt-2 rounded bg-neutral-100 p-2 font-mono text-xs dark:bg-neutral-900">{"models:\n  mymodel:\n    file: my-model.Q4_K_M.gguf\n    quantization: Q4_K_M"}</pre>
        </div>
      ) : null}
      <ul className="grid gap-3 md:grid-cols-2 xl:grid-cols-3">
        {models.map((model) => (
          <li key={model.name} data-testid={`model-${model.name}`} className="space-y-2 rounded border border-neutral-200 p-3 dark:border-neutral-800">
            <div className="flex flex-wrap items-center gap-2">
              <h2 className="font-medium">{model.name}</h2>
              <Badge state={model.present ? "present" : "missing"}>{model.present ? "present" : "missing"}</Badge>
              {model.requiredForBase || model.baseStages.length > 0 ? (
                <Badge state={model.present ? "waiting" : "failed"}>
                  {model.requiredForBase ? "required by the base pipeline" : `used by the base pipeline (${model.baseStages.join(", ")})`}
                </Badge>
              ) : null}
              {model.loaded ? <Badge state="generating">loaded</Badge> : null}
            </div>
            <div className="font-mono text-xs text-neutral-600 dark:text-neutral-400">
              {model.file}
              {model.fileSize !== undefined ? ` · ${formatBytes(model.fileSize)}` : ""}
            </div>
            {!model.present ? (
              <p className="text-sm text-red-700 dark:text-red-300">
                No file at <code className="font-mono text-xs">{model.path}</code>: download the model there or correct its <code>file</code> in models.yaml.
              </p>
            ) : (
              <>
                <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-xs">
                  <dt className="text-neutral-500">architecture</dt>
                  <dd>{model.architecture ?? "—"}</dd>
                  <dt className="text-neutral-500">parameters</dt>
                  <dd>{model.parameters !== undefined ? `${(model.parameters / 1e6).toFixed(model.parameters < 1e7 ? 2 : 0)} M` : "—"}</dd>
                  <dt className="text-neutral-500">quantization</dt>
                  <dd>
                    {model.quantization ?? "—"}
                    {model.declaredQuantization ? <span className="text-neutral-500"> (declared {model.declaredQuantization})</span> : null}
                  </dd>
                  <dt className="text-neutral-500">context</dt>
                  <dd>
                    {model.contextSize} configured{model.trainContextSize ? ` · ${model.trainContextSize} trained` : ""}
                  </dd>
                  <dt className="text-neutral-500">chat template</dt>
                  <dd>{model.hasChatTemplate ? "yes" : "no (plain completion)"}</dd>
                  <dt className="text-neutral-500">threads · GPU layers</dt>
                  <dd>
                    {model.threads ?? "—"} · {model.gpuLayers ?? "—"}
                  </dd>
                </dl>
                {model.memory ? (
                  <div className="space-y-1">
                    <FitBar label="RAM" need={model.memory.totalRam} free={model.freeRam} safety={memorySafety.ram} />
                    {vram ? <FitBar label="VRAM" need={model.memory.totalVram} free={vram.free} safety={memorySafety.vram} /> : null}
                  </div>
                ) : null}
              </>
            )}
            {model.warnings.map((warning) => (
              <p key={warning} className="text-xs text-amber-800 dark:text-amber-300">
                ⚠ {warning}
              </p>
            ))}
            {model.error ? <p className="text-xs text-red-700 dark:text-red-300">{model.error}</p> : null}
            {model.loaded ? (
              <Button aria-label={`Unload ${model.name}`} onClick={() => unload.mutate({ name: model.name })} disabled={unload.isPending}>
                Unload
              </Button>
            ) : null}
          </li>
        ))}
      </ul>
      {unload.error ? <ErrorBox title="Cannot unload" message={describeError(unload.error)} /> : null}
    </div>
  );
}
