"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { useMemo, useState } from "react";
import { useTRPC } from "@/client/trpc";
import { Button, ErrorBox } from "@/components/ui";
import { useDescribeError } from "@/components/use-describe-error";
import type { Pipeline } from "@/config/schema";
import { planRerun } from "@/engine/rerun-plan";
import type { SessionData } from "./session-data";

/**
 * Reruns a session from a stage as a branch, optionally with an edited input. Before the rerun starts it
 * lists, as the user picks the stage and edits the input, which stages will be computed again (and why)
 * and which keep their stored answers: the studio's own rule (`planRerun`).
 */
export function RerunForm({ session }: { session: SessionData }) {
  const t = useTranslations("history.rerun");
  const describe = useDescribeError();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const stages = (session.pipeline as Pipeline).stages;
  const [fromStage, setFromStage] = useState(stages[0]?.id ?? "");
  const [editInput, setEditInput] = useState(false);
  const [input, setInput] = useState(session.input);
  const sentInput = editInput ? input : undefined;
  const inputEdited = sentInput !== undefined && sentInput !== session.input;
  const plan = useMemo(
    () =>
      planRerun(
        { stages },
        {
          fromStage,
          inputEdited,
          completedStageIds: Object.values(session.stages)
            .filter((record) => record.status === "completed")
            .map((record) => record.stageId),
        },
      ),
    [stages, fromStage, inputEdited, session.stages],
  );
  const recompute = plan.filter((step) => !step.reuse).length;
  const rerun = useMutation(
    trpc.sessions.rerun.mutationOptions({
      onSuccess: ({ id }) => {
        void queryClient.invalidateQueries({ queryKey: trpc.sessions.tree.queryKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.sessions.list.queryKey() });
        router.push(`/?run=${id}`);
      },
    }),
  );
  const field = "w-full rounded border border-neutral-300 bg-white text-sm dark:border-neutral-700 dark:bg-neutral-900";

  return (
    <section aria-label={t("label")} className="space-y-2 rounded border border-neutral-200 p-3 dark:border-neutral-800">
      <h2 className="font-medium">{t("title")}</h2>
      <label htmlFor="from-stage" className="block text-sm">
        {t("fromStage")}
      </label>
      <select id="from-stage" value={fromStage} onChange={(event) => setFromStage(event.target.value)} className={`${field} px-2 py-1.5`} translate="no">
        {stages.map((stage) => (
          <option key={stage.id} value={stage.id}>
            {stage.id}
          </option>
        ))}
      </select>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" checked={editInput} onChange={(event) => setEditInput(event.target.checked)} /> {t("withEditedInput")}
      </label>
      {editInput ? (
        <textarea aria-label={t("editedInput")} value={input} onChange={(event) => setInput(event.target.value)} rows={5} className={`${field} p-2 font-mono`} translate="no" />
      ) : null}
      {editInput && !inputEdited ? <p className="text-xs text-neutral-500">{t("sameInput")}</p> : null}
      <p className="text-xs text-neutral-500">{t("explain")}</p>
      <ul aria-label={t("planLabel")} className="space-y-1 text-sm">
        {plan.map((step) => (
          <li key={step.stageId} data-testid={`rerun-plan-${step.stageId}`} data-action={step.reuse ? "reuse" : "recompute"} className="flex gap-2">
            <span aria-hidden="true" className={step.reuse ? "text-teal-700 dark:text-teal-300" : "text-blue-700 dark:text-blue-300"}>
              {step.reuse ? "✓" : "↻"}
            </span>
            <span className="min-w-0">
              <span translate="no" className="font-mono text-xs font-semibold">
                {step.stageId}
              </span>{" "}
              <span className={step.reuse ? "text-neutral-600 dark:text-neutral-400" : ""}>— {step.reuse ? t("reuse") : t(`reasons.${step.reason ?? "upstream"}`)}</span>
            </span>
          </li>
        ))}
      </ul>
      <p className="text-xs text-neutral-500" aria-live="polite">
        {t("summary", { recompute, reuse: plan.length - recompute })}
      </p>
      <Button variant="primary" disabled={rerun.isPending || !fromStage} onClick={() => rerun.mutate({ id: session.id, fromStage, input: sentInput })}>
        {rerun.isPending ? t("starting") : t("start")}
      </Button>
      {rerun.error ? <ErrorBox title={t("cannotStart")} message={describe.error(rerun.error)} /> : null}
    </section>
  );
}
