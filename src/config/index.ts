export { ConfigError, closest, configIssueCodes, editDistance, formatConfigIssue, formatPath, type ConfigIssue, type ConfigIssueCode } from "./issues.js";
export {
  ensureWorkingConfig,
  listPipelines,
  loadModelsConfig,
  loadModelsFile,
  loadPipeline,
  loadPipelineFile,
  pipelineFileKeys,
  pipelineFromValue,
  type LoadedModelsConfig,
  type LoadedPipeline,
  type PipelineFileOptions,
} from "./load.js";
export { fileQuantization, quantizationMatches } from "./quantization.js";
export { resolvePaths, type Environment, type ProjectPaths } from "./paths.js";
export * from "./schema.js";
export {
  assertValid,
  builtInDefaults,
  checkGgufHeader,
  ggufHeaderProblem,
  modelPath,
  resolveGenerationParams,
  resolveModel,
  validateSetup,
  type ValidationResult,
} from "./validate.js";
export { maxAliasCount, maxConfigBytes, parseYaml, readYamlFile, valueAsFile, type YamlFile } from "./yaml-file.js";
export {
  deletePipelineSource,
  pipelineFile,
  readPipelineSource,
  reconcile,
  savePipelineSource,
  textVersion,
  type PipelineSource,
  type SaveOptions,
} from "./pipeline-source.js";
export { addModelEntry, modelsUsingFile, type NewModelEntry } from "./models-source.js";
