/** A plan that does not fit, as the error that refuses its run. */
import { ProjectLlmError } from "../common/index.js";
import { formatBytes } from "../common/format.js";
import type { RunPlan } from "./plan.js";

/** Throws `plan-does-not-fit` when the plan does not fit: its first problem in words, the plan in `details.plan`. */
export function planRefusal(plan: RunPlan): void {
  const problem = plan.problems[0];
  if (!problem) return;
  const change = plan.advice.join(", ");
  const what =
    problem.code === "budget"
      ? `${problem.model} needs ${formatBytes(problem.need)} of RAM, more than the ${formatBytes(problem.budget)} the loaded models may take (memory_safety.ram of the total)`
      : `${problem.model} needs ${formatBytes(problem.need)} of ${problem.code === "ram" ? "RAM" : "VRAM"} and ${formatBytes(problem.available)} is free for it after the safety coefficient`;
  throw new ProjectLlmError("plan-does-not-fit", `the run does not fit in memory: ${what}; change ${change} in models.yaml`, {
    details: {
      params: {
        reason: problem.code,
        model: problem.model,
        need: formatBytes(problem.need),
        available: formatBytes(problem.code === "budget" ? problem.budget : problem.available),
        change,
      },
      plan,
    },
  });
}
