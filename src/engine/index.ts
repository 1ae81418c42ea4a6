export { aggregateWithoutModel, concatAnswers, normaliseAnswer, voteAnswers, type Answer } from "./aggregate.js";
export * from "./events.js";
export { downstreamOf, findCycle, inputIds, sinkIds, stageModels, topologicalOrder } from "./graph.js";
export type {
  GenerateMetrics,
  GenerateOptions,
  GenerateRequest,
  GenerateResult,
  InferencePort,
  LoadReport,
  ResolvedGenerationParams,
  ResolvedModel,
} from "./ports.js";
export { runPipeline, stageOutput, type RunPipelineOptions, type RunResult, type RunStatus } from "./run-pipeline.js";
export {
  answerValues,
  defaultSynthesisPrompt,
  labelledAnswers,
  mergeInputs,
  renderTemplate,
  stagePromptNames,
  templatePlaceholders,
} from "./templates.js";
