export { Studio, type InlinePipeline, type PipelineMode, type RerunOptions, type RunOptions, type StudioOptions } from "./studio.js";
