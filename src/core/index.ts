export { Studio, type InlinePipeline, type RerunOptions, type RunOptions, type StudioOptions } from "./studio.js";
