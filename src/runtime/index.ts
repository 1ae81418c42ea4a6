export { configuredLoadKey, type ModelFacts, type WorkerSettings, type WorkerStatus } from "./protocol.js";
export { inspectModels, type ModelWarning, type RegistryEntry, type RegistryEntryInput } from "./registry.js";
export { createRuntime, Runtime, type RuntimeOptions, type RuntimeStats } from "./supervisor.js";
export { freshHeader, maxRetryAfterMs, parseRetryAfter, remoteDefaults, RemotePort, routeInference, type RemoteFailure, type RemotePortOptions } from "./remote.js";
export { chooseThreads, smallModelBytes, type ThreadChoice } from "./threads.js";
export { systemMemory, type SystemMemory, type SystemMemoryOptions } from "./system-memory.js";
