export { downloadModel, partialSuffix, planDownload, type DownloadOptions, type DownloadPlan, type DownloadProgress, type DownloadResult } from "./download-model.js";
export { checkModelFileName, freeModelName, modelNameFromFile } from "./file-name.js";
export { displayAddress, huggingFaceEndpoint, isLoopbackHost, parseModelUri, resolveModelSource, type ModelSource, type ResolvedSource } from "./model-uri.js";
export { downloadedModelEntry } from "./model-entry.js";
