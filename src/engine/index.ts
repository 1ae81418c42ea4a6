/**
 * The engine: graph maths, templates, aggregations and the scheduler that runs a pipeline through an
 * InferencePort. Pure TypeScript; nothing outside imports past this file.
 */
export { aggregateWithoutModel, concatAnswers, normaliseAnswer, voteAnswers, type Answer, type VoteOutcome } from "./aggregate.js";
export {
  aggregationResultSchema,
  loadReportSchema,
  messageParamsSchema,
  metricsSchema,
  modelOutputSchema,
  runEventSchema,
  runWarningSchema,
  stageRecordSchema,
  stageSummarySchema,
  type AggregationResult,
  type ModelOutput,
  type RunEvent,
  type RunEventBody,
  type RunEventType,
  type RunWarning,
  type StageMetrics,
  type StageRecord,
} from "./events.js";
export { downstreamOf, findCycle, inputIds, maxPipelineStages, sinkIds, stageModels, topologicalOrder } from "./graph.js";
export { planRerun, type RerunPlanOptions, type RerunReason, type RerunStagePlan } from "./rerun-plan.js";
export type {
  GenerateMetrics,
  GenerateOptions,
  GenerateRequest,
  GenerateResult,
  InferencePort,
  LoadReport,
  ResolvedGenerationParams,
  RemoteModel,
  ResolvedModel,
} from "./ports.js";
export { isCacheable, isDeterministic, stageCacheKey, type StageCacheCall, type StageCacheKey, type StageCachePort } from "./stage-cache.js";
export { pipelineProblems, runPipeline, stageOutput, stagesInCache, type RunPipelineOptions, type RunResult, type RunStatus } from "./run-pipeline.js";
export {
  aggregationTemplateNames,
  answerValues,
  checkStageTemplates,
  defaultSynthesisPrompt,
  labelledAnswers,
  mergeInputs,
  renderTemplate,
  stagePromptNames,
  templatePlaceholders,
  unknownPlaceholders,
  type TemplateIssue,
} from "./templates.js";
