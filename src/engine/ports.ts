/**
 * The engine's view of inference: a small interface of ours, implemented by the node-llama-cpp runtime
 * (src/runtime) and, in unit tests, by a fake. The engine never imports the runtime.
 */
import type { GenerationParams, HistoryTurn, LoadParams } from "../config/schema.js";

/** A model as the runtime needs it: where the file is and how to load it. */
export interface ResolvedModel {
  /** The name in models.yaml. */
  name: string;
  /** Absolute path of the GGUF file, already checked to be inside the models directory. */
  path: string;
  /** Load parameters after defaults and overrides. */
  load: Required<Pick<LoadParams, "context_size" | "gpu_layers" | "threads">> & Pick<LoadParams, "batch_size">;
  /**
   * Set for a model served by an OpenAI-compatible server (`backend: openai` in models.yaml): its calls go
   * over HTTP and `path` is empty. The key is read from the environment variable `apiKeyEnv` when called.
   */
  remote?: RemoteModel;
}

/** Where an OpenAI-compatible model is served. */
export interface RemoteModel {
  /** The API's base URL, up to and including `/v1` (for example `http://gpu-box:8000/v1`). */
  baseUrl: string;
  /** The model's name on that server. */
  model: string;
  /** The environment variable holding the API key, if the server wants one. */
  apiKeyEnv?: string;
  /** How long the server may stay silent (before its answer starts, between two parts of it); default 300 s. */
  timeoutMs?: number;
  /** How long connecting and the answer's headers may take; default 10 s. */
  connectTimeoutMs?: number;
  /** Attempts after the first for a refused connection, 429, 502, 503 or 504 before any text; default 3. */
  maxRetries?: number;
  /** Set (`cache: true` in models.yaml) when its stages may be served from the stage cache; off by default. */
  cache?: boolean;
}

/** Generation parameters after defaults, model overrides and stage parameters. */
export type ResolvedGenerationParams = GenerationParams & { max_tokens: number; temperature: number };

export interface GenerateRequest {
  model: ResolvedModel;
  prompt: string;
  /** System prompt; used only by models that have a chat template. */
  system?: string;
  /** Turns of a conversation before the prompt (see the stage's `history`): a chat model's turns, else a transcript. */
  history?: HistoryTurn[];
  params: ResolvedGenerationParams;
  /**
   * The calls made at once with this one on the same loaded model, itself included: a multi stage's models
   * that share a file and load settings. The runtime decodes them in one batch where that pays (see
   * `batchWidth`); absent: 1.
   */
  together?: number;
  /**
   * Names the calls made together (a multi stage's, see `together`): where `runtime.batch` is `auto`, the
   * runtime times them as one group to learn whether a batch or one call at a time is faster here.
   */
  group?: string;
  /**
   * How many calls this run's stages still to compute may make at once on this call's loaded model (a
   * multi stage's models, and those of stages that may run beside it, as two branches reading one draft),
   * an upper bound that is above 1 exactly when two calls may overlap: then the runtime makes the
   * sequences they need while the model's first call runs rather than when they are wanted (see the
   * worker's `PoolEntry.extra`); absent: 1.
   */
  runTogether?: number;
  /**
   * The run computes every stage (its stage cache is off): a remote server that keeps a cache of its own
   * (another studio's stage cache) is asked not to answer from it (see `freshHeader`).
   */
  fresh?: boolean;
}

/** What happened when the model was brought into memory for this call. */
export interface LoadReport {
  /** True when this call loaded the model; false when it was already warm in the pool. */
  loaded: boolean;
  loadMs: number;
  /** GPU layers in the end (0 on a CPU). */
  gpuLayers: number;
  threads: number;
  /** Set when the load had to fall back (fewer GPU layers, then CPU) after running out of memory. */
  fallback?: string;
}

export interface GenerateMetrics {
  tokensIn: number;
  /**
   * Of `tokensIn`, the prompt tokens this call evaluated; the rest were already in the KV cache (a
   * prefix shared with an earlier call on the same loaded model). Absent where it is not known.
   */
  promptTokensEvaluated?: number;
  tokensOut: number;
  /** From the call's start (after the model is loaded) to the first token, in ms. */
  timeToFirstTokenMs: number;
  /** Generated tokens per second, from the first token to the last. */
  tokensPerSecond: number;
  durationMs: number;
}

export interface GenerateResult extends GenerateMetrics {
  text: string;
  stopReason: "eos" | "max-tokens" | "stop-string" | "other";
  /** Whether a chat template was applied (false: plain completion). */
  chat: boolean;
  load: LoadReport;
}

export interface GenerateOptions {
  signal?: AbortSignal;
  /** Text as it is generated, in chunks of one or more tokens. */
  onText?: (text: string) => void;
  /** Model loading progress, 0..1; only called when the call loads the model. */
  onLoadProgress?: (progress: number) => void;
}

/**
 * Runs generations. Errors are `ProjectLlmError`s with codes `worker-crashed`, `model-load-failed`,
 * `out-of-memory`, `context-overflow`, `generation-failed` or `cancelled` (when the signal aborted).
 */
export interface InferencePort {
  generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult>;
}
