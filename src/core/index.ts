export { Studio, type RerunOptions, type RunOptions, type StudioOptions } from "./studio.js";
