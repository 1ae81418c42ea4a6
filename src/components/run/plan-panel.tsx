"use client";
/**
 * The plan of the pipeline a Run would run, before Run (the Run page's form, or the editor's canvas with
 * its unsaved edits, sent whole): the models it loads in order, what the model
 * pool keeps or unloads between stages, memory against free RAM and VRAM after the safety coefficients,
 * and the time from rates measured on this machine. A plan that does not fit says why and what to change
 * (the server refuses that run the same way). With the form's input (while the stage cache is used), the
 * stages the cache would serve are marked so: they load nothing and take no time.
 */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslations } from "next-intl";
import { useTRPC } from "@/client/trpc";
import { Badge } from "@/components/ui";
import { useDescribeError } from "@/components/use-describe-error";
import { useFormat } from "@/components/use-format";
import type { RunPlan } from "@/core/plan";

/** How long the input must stay unchanged before the plan is asked again for it (not at every key). */
const inputSettleMs = 400;

/** The pipeline planned: a saved one by name, or one sent whole (the editor's unsaved edits) with the saved pipeline it was edited from. */
export type PlannedPipeline = { name: string } | { inline: Record<string, unknown>; basedOn?: string };

/** Which pipeline a plan is of: a plan shown stays while the next one of the same pipeline comes. */
const plannedName = (input: { pipeline?: unknown; basedOn?: unknown } | undefined) => (typeof input?.pipeline === "string" ? input.pipeline : input?.basedOn);

export function PlanPanel({ pipeline, input, cache, unsaved = false }: { pipeline: PlannedPipeline; input: string; cache: boolean; unsaved?: boolean }) {
  const trpc = useTRPC();
  const [settled, setSettled] = useState(input);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(input), inputSettleMs);
    return () => clearTimeout(timer);
  }, [input]);
  // The stage cache is looked up only for a run that may use it, and an input to run.
  const lookup = cache && settled.trim() !== "" ? { input: settled } : {};
  const asked = "name" in pipeline ? { pipeline: pipeline.name } : { pipeline: pipeline.inline, ...(pipeline.basedOn === undefined ? {} : { basedOn: pipeline.basedOn }) };
  const name = "name" in pipeline ? pipeline.name : pipeline.basedOn;
  // While the plan for a new input or edit comes, the last one of the same pipeline stays (no flash of
  // "working out the plan"); another pipeline's is never shown for this one.
  const plan = useQuery({
    ...trpc.runs.plan.queryOptions({ ...asked, ...lookup }),
    placeholderData: (previous, previousQuery) =>
      plannedName((previousQuery?.queryKey[1] as { input?: { pipeline?: unknown; basedOn?: unknown } } | undefined)?.input) === name ? previous : undefined,
  });
  const t = useTranslations("run.plan");
  const describe = useDescribeError();
  return (
    <section aria-labelledby="run-plan" data-testid="run-plan" className="rounded border border-neutral-200 p-3 text-sm dark:border-neutral-800">
      <div className="flex flex-wrap items-center gap-2">
        <h2 id="run-plan" className="text-sm font-medium">
          {unsaved ? t("titleUnsaved") : t("title")}
        </h2>
        {plan.data ? (
          <span data-testid="plan-fit">
            <Badge state={plan.data.fits ? "completed" : "failed"}>{plan.data.fits ? t("fits") : t("doesNotFit")}</Badge>
          </span>
        ) : null}
      </div>
      {plan.error ? <p className="mt-1 text-xs text-red-800 dark:text-red-300">{describe.errorContent(plan.error)}</p> : null}
      {plan.isPending ? <p className="mt-1 text-xs text-neutral-500">{t("loading")}</p> : null}
      {plan.data ? <PlanBody plan={plan.data} /> : null}
    </section>
  );
}

function PlanBody({ plan }: { plan: RunPlan }) {
  const t = useTranslations("run.plan");
  const format = useFormat();
  const byName = new Map(plan.models.map((model) => [model.name, model]));
  const data = (value: string) => (
    <span translate="no" className="font-mono">
      {value}
    </span>
  );
  return (
    <div className="mt-2 space-y-2">
      <ol className="space-y-1" aria-label={t("steps")}>
        {plan.steps.map((step, index) => {
          const model = byName.get(step.model);
          return (
            <li key={`${step.stageId}-${step.model}-${index}`} data-testid="plan-step" className="flex flex-wrap items-baseline gap-x-2 text-xs">
              <span className="text-neutral-500">{index + 1}.</span>
              {data(step.stageId)}
              <span className="text-neutral-400">·</span>
              {data(step.model)}
              <span data-testid="plan-action" data-action={step.action} className={step.action === "load" ? "font-medium" : "text-neutral-600 dark:text-neutral-400"}>
                {t(`action.${step.action}`)}
                {step.action === "load" && model?.estimate ? ` ${format.bytes(model.estimate.ram)}` : ""}
              </span>
              {step.unloads.length > 0 ? <span className="text-amber-800 dark:text-amber-300">{t.rich("unloads", { models: () => data(step.unloads.join(", ")) })}</span> : null}
              {step.action === "cached" ? null : (
                <span className="text-neutral-500">{step.estimatedMs !== undefined ? t("upTo", { duration: format.ms(step.estimatedMs) }) : step.action === "remote" ? t("remoteNotEstimated") : t("noMeasurement")}</span>
              )}
            </li>
          );
        })}
      </ol>
      <dl className="grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-1 text-xs">
        <dt className="text-neutral-500">{t("ram")}</dt>
        <dd data-testid="plan-ram">
          {t("memoryLine", { peak: format.bytes(plan.peakRam), usable: format.bytes(plan.usableRam), free: format.bytes(plan.freeRam), safety: format.number(plan.safety.ram) })}
        </dd>
        {plan.freeVram !== undefined ? (
          <>
            <dt className="text-neutral-500">{t("vram")}</dt>
            <dd>{t("memoryLine", { peak: format.bytes(plan.peakVram), usable: format.bytes(plan.usableVram), free: format.bytes(plan.freeVram), safety: format.number(plan.safety.vram) })}</dd>
          </>
        ) : null}
        <dt className="text-neutral-500">{t("pool")}</dt>
        <dd>{t("poolLine", { count: plan.maxLoadedModels, budget: format.bytes(plan.budget) })}</dd>
        <dt className="text-neutral-500">{t("time")}</dt>
        <dd data-testid="plan-time">
          <TimeLine plan={plan} data={data} />
        </dd>
      </dl>
      {plan.problems.length > 0 ? (
        <div data-testid="plan-problems" className="rounded border border-red-300 bg-red-50 p-2 text-xs text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
          <ul className="space-y-1">
            {plan.problems.map((problem, index) => (
              <li key={index}>
                {t.rich(`problem.${problem.code}`, {
                  model: () => data(problem.model),
                  need: format.bytes(problem.need),
                  available: format.bytes(problem.code === "budget" ? problem.budget : problem.available),
                })}
              </li>
            ))}
          </ul>
          {plan.advice.length > 0 ? (
            <>
              <p className="mt-2 font-medium">{t.rich("change", { file: () => data("models.yaml") })}</p>
              <ul className="list-disc pl-4">
                {plan.advice.map((advice) => (
                  <li key={advice} data-testid="plan-advice">
                    {t.rich(`advice.${advice}`, { key: () => data(advice === "memory_safety" ? "memory_safety.ram" : advice) })}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

/** The run's time: the sum of the local steps, said to be partial when remote calls are left out of it. */
function TimeLine({ plan, data }: { plan: RunPlan; data: (value: string) => React.ReactNode }) {
  const t = useTranslations("run.plan");
  const format = useFormat();
  if (plan.steps.length > 0 && plan.steps.every((step) => step.action === "cached")) return t("allCached");
  if (plan.estimatedMs !== undefined) {
    const duration = format.ms(plan.estimatedMs);
    const key = () => data("max_tokens");
    return plan.notEstimated.length > 0 ? t.rich("timeLinePartial", { duration, key, models: () => data(plan.notEstimated.join(", ")) }) : t.rich("timeLine", { duration, key });
  }
  if (plan.unmeasured.length > 0) return t.rich("unmeasured", { models: () => data(plan.unmeasured.join(", ")) });
  return plan.notEstimated.length > 0 ? t("remoteOnly") : t("noMeasurement");
}
