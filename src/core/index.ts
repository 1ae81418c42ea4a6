export { measuredRates, planRun, type MeasuredRates, type PlanAdvice, type PlanInput, type PlanModel, type PlanProblem, type PlanStep, type RunPlan } from "./plan.js";
export { Studio, type InlinePipeline, type PipelineMode, type RerunOptions, type RunOptions, type StudioOptions } from "./studio.js";
