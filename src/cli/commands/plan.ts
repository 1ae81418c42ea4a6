import { ProjectLlmError } from "../../common/index.js";
import { Studio, type RunPlan } from "../../core/index.js";
import { parse, pipelineMode, studioOptions, type Options } from "../args.js";
import { formatBytes, formatDuration, table } from "../format.js";

export const planHelp = `Usage: project-llm plan [--pipeline NAME|FILE] [--mode base|manual] [--input TEXT [--no-cache]] [--models FILE.yaml] [--json]

The plan of a run, before any model loads: the models to load in the pipeline's order, what the model
pool keeps warm or unloads between stages (max_loaded_models, the memory budget, least recently used
first), the memory each needs against free RAM and VRAM after memory_safety, and the time it should take
from the rates measured in past sessions on this machine. With --input, the stages the stage cache would
serve for that input are shown as cached: they load nothing and take no time (--no-cache: a run that
would not use the cache). A run that does not fit is refused the same way, saying what to change. Exit 0
when it fits, 2 when it does not.`;

export const planOptions = { pipeline: { type: "string", short: "p" }, mode: { type: "string" }, input: { type: "string" }, "no-cache": { type: "boolean" } } as const satisfies Options;

/** The plan as text: one line per model call, then memory and time, then why it does not fit. */
export function formatPlan(plan: RunPlan): string {
  const byName = new Map(plan.models.map((model) => [model.name, model]));
  const rows = plan.steps.map((step) => {
    const model = byName.get(step.model);
    const memory = step.action === "remote" ? "remote" : step.action === "load" ? formatBytes(model?.estimate?.ram) : "";
    const time = step.action === "cached" ? "from the stage cache" : step.estimatedMs === undefined ? (step.action === "remote" ? "remote: not estimated" : "no measurement yet") : `≤ ${formatDuration(step.estimatedMs)}`;
    return [step.stageId, step.model, step.action, step.unloads.join(", "), memory, time];
  });
  const lines = [
    table(["stage", "model", "action", "unloads first", "memory", "time"], rows),
    "",
    `RAM: peak ${formatBytes(plan.peakRam)} of ${formatBytes(plan.usableRam)} usable (${formatBytes(plan.freeRam)} free x memory_safety.ram ${plan.safety.ram}); pool: at most ${plan.maxLoadedModels} models, ${formatBytes(plan.budget)} budget`,
    ...(plan.freeVram === undefined ? [] : [`VRAM: peak ${formatBytes(plan.peakVram)} of ${formatBytes(plan.usableVram)} usable (${formatBytes(plan.freeVram)} free x memory_safety.vram ${plan.safety.vram})`]),
    `time: ${timeLine(plan)}`,
    ...plan.problems.map((problem) =>
      problem.code === "budget"
        ? `does not fit: ${problem.model} needs ${formatBytes(problem.need)}, over the ${formatBytes(problem.budget)} budget`
        : `does not fit: ${problem.model} needs ${formatBytes(problem.need)} of ${problem.code === "ram" ? "RAM" : "VRAM"}, ${formatBytes(problem.available)} usable`,
    ),
    ...(plan.advice.length > 0 ? [`change in models.yaml: ${plan.advice.join(", ")}`] : []),
  ];
  return lines.join("\n");
}

/** The run's time: the sum of the local steps, said to be partial when remote calls are left out of it. */
function timeLine(plan: RunPlan): string {
  const remote = plan.notEstimated.join(", ");
  if (plan.steps.length > 0 && plan.steps.every((step) => step.action === "cached")) return "every stage from the stage cache: no model is called";
  if (plan.estimatedMs !== undefined) {
    const local = `up to ${formatDuration(plan.estimatedMs)} (every stage at max_tokens)`;
    return remote ? `partial: ${local} for the local stages; ${remote} (remote) not estimated` : local;
  }
  if (plan.unmeasured.length > 0) return `no measurement yet for ${plan.unmeasured.join(", ")}`;
  return remote ? `remote: not estimated (${remote})` : "no measurement yet";
}

export async function planCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, planOptions);
  if (values.help) return void console.log(planHelp), 0;
  if (positionals.length > 0) throw new ProjectLlmError("usage", `plan takes no words, not "${positionals.join(" ")}": name a pipeline with --pipeline NAME|FILE`);
  const studio = Studio.open(studioOptions(values));
  try {
    if (values["no-cache"] && values.input === undefined) throw new ProjectLlmError("usage", "--no-cache goes with --input TEXT: without an input the plan looks nothing up in the stage cache");
    const plan = await studio.plan({ pipeline: values.pipeline, mode: pipelineMode(values.mode), ...(values.input === undefined ? {} : { input: values.input }), ...(values["no-cache"] ? { cache: false } : {}) });
    console.log(values.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
    return plan.fits ? 0 : 2;
  } finally {
    await studio.dispose();
  }
}
