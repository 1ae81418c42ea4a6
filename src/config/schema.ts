/**
 * The zod schemas of `config/models.yaml` and `config/pipeline.yaml` (and `config/pipelines/NAME.yaml`).
 * Every object is strict: an unknown key is an error, never silently ignored.
 */
import { z } from "zod";
import { maxPipelineStages } from "../engine/graph.js";

/** Sampling and length parameters; every one optional so that a stage or a model can override a few. */
/** Run event streams one client address may hold open, unless models.yaml's runtime says otherwise. */
export const defaultStreamsPerClient = 32;

export const generationParamsSchema = z
  .strictObject({
    temperature: z.number().min(0).max(5),
    top_p: z.number().gt(0).max(1),
    top_k: z.number().int().min(0),
    min_p: z.number().min(0).max(1),
    repeat_penalty: z.number().min(0).max(5),
    max_tokens: z.number().int().positive().max(1_000_000),
    seed: z.number().int().min(0).max(2 ** 32 - 1),
    stop: z.array(z.string().min(1)).max(16),
    /**
     * Never sample an end-of-generation token: the model writes max_tokens tokens unless a `stop` string ends
     * it first (as vLLM's and llama-server's `ignore_eos`), for benchmarks and fixed-length drafts.
     */
    ignore_eos: z.boolean(),
  })
  .partial();
export type GenerationParams = z.infer<typeof generationParamsSchema>;

/** Load parameters of a model: how it is placed in memory. */
export const loadParamsSchema = z
  .strictObject({
    context_size: z.number().int().min(64).max(1_048_576),
    gpu_layers: z.union([z.literal("auto"), z.literal("max"), z.number().int().min(0)]),
    threads: z.union([z.literal("auto"), z.number().int().min(1).max(1024)]),
    batch_size: z.number().int().min(1).max(65_536),
  })
  .partial();
export type LoadParams = z.infer<typeof loadParamsSchema>;

/** Every parameter a model can take: load and generation. */
export const modelParamsSchema = z.strictObject({
  ...loadParamsSchema.shape,
  ...generationParamsSchema.shape,
});
export type ModelParams = z.infer<typeof modelParamsSchema>;

/** A model entry in `models.yaml` whose GGUF file runs here (`backend: local`, the default). */
export const localModelEntrySchema = z.strictObject({
  backend: z.literal("local").default("local"),
  /** Path of the GGUF file, relative to `models_directory` (it must stay inside it). */
  file: z.string().min(1),
  /** Declared quantization (such as `Q4_K_M`, `F32`): checked against the file, a mismatch is a warning. */
  quantization: z.string().min(1).optional(),
  /** The base pipeline refuses to run while a model marked so is missing. */
  required_for_base: z.boolean().default(false),
  /** Per-model parameters over `defaults`. */
  overrides: modelParamsSchema.partial().default({}),
  /** Free text shown in listings. */
  description: z.string().optional(),
});
export type LocalModelEntry = z.infer<typeof localModelEntrySchema>;

/**
 * An environment variable's name: what `api_key_env` holds (never the key itself). Capitals, digits and
 * `_` only, as such names are written: many keys (`hf_...`, `gsk_...`, `sk-...`) have small letters, so
 * a key pasted here is refused rather than taken for a name and later shown in a "variable not set" error.
 */
export const environmentNamePattern = /^[A-Z_][A-Z0-9_]{0,127}$/;

/** Keys under which a secret would be written in the file: refused with a message that says where it goes. */
export const secretKeys = ["api_key", "apiKey", "key", "token", "api_token", "authorization", "password", "headers"] as const;

/** Why a `base_url` is refused, or undefined when it is an http(s) address without credentials, query or fragment. */
export function baseUrlProblem(value: string): { reason: "address" | "scheme" | "credentials" | "query" | "endpoint"; message: string } | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { reason: "address", message: "base_url is not an address: write it like http://gpu-box:8000/v1" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { reason: "scheme", message: `base_url must start with http:// or https://, not ${url.protocol}//` };
  // The address goes into sessions and logs: a password in it would too.
  if (url.username || url.password) return { reason: "credentials", message: "base_url must hold no user name or password: put the key in an environment variable and name it with api_key_env" };
  if (url.search || url.hash) return { reason: "query", message: "base_url must have no query (?...) or fragment (#...): a key never goes in the address" };
  if (/\/(chat\/)?completions\/?$/.test(url.pathname)) return { reason: "endpoint", message: "base_url ends before /chat/completions: write the address up to /v1" };
  return undefined;
}

/**
 * A model entry in `models.yaml` served by an OpenAI-compatible server (`backend: openai`: vLLM,
 * llama-server, another studio). Only generation parameters apply: load parameters mean nothing to a
 * server that has its model loaded already, and are refused in `overrides`.
 */
export const remoteModelEntrySchema = z.strictObject({
  backend: z.literal("openai"),
  /** The API's address up to `/v1`, such as `http://gpu-box:8000/v1`. */
  base_url: z
    .string()
    .min(1)
    .max(2048)
    .superRefine((value, context) => {
      const problem = baseUrlProblem(value);
      if (problem) context.addIssue({ code: "custom", message: problem.message, params: { code: "invalid-base-url", params: { reason: problem.reason, example: "http://gpu-box:8000/v1", schemes: "http:// https://", setting: "api_key_env", suffix: "/v1" } } });
    })
    .transform((value) => value.replace(/\/+$/, "")),
  /** The model's name on that server (vLLM's `--served-model-name`, llama-server's alias). */
  model: z.string().min(1).max(512),
  /** The NAME of the environment variable holding the API key (sent as `Authorization: Bearer`). */
  api_key_env: z
    .string()
    .superRefine((value, context) => {
      // The value is never echoed: a key pasted here by mistake must not reach a log.
      if (!environmentNamePattern.test(value)) {
        context.addIssue({
          code: "custom",
          message: "api_key_env is the name of an environment variable (like OPENAI_API_KEY), not the key itself: put the key in that variable",
          params: { code: "invalid-env-name", params: { key: "api_key_env", example: "OPENAI_API_KEY" } },
        });
      }
    })
    .optional(),
  /** Seconds the server may stay silent: before its answer starts, and between two parts of the stream. */
  timeout: z.number().gt(0).max(86_400).default(300),
  /** Seconds to connect and get the answer's headers. */
  connect_timeout: z.number().gt(0).max(3_600).default(10),
  /** Attempts after the first when the server cannot take the call yet (refused, 429, 502, 503, 504), never once text came. */
  max_retries: z.number().int().min(0).max(10).default(3),
  /**
   * Whether the stage cache may serve (and store) this model's stages. Off by default: the studio cannot
   * see which weights a server holds under a name (a restart with others, a peer studio's edited
   * pipeline), and temperature 0 or a seed does not make vLLM or OpenAI repeat an answer exactly.
   */
  cache: z.boolean().default(false),
  /** Per-model generation parameters over `defaults`. */
  overrides: generationParamsSchema.default({}),
  /** Free text shown in listings. */
  description: z.string().optional(),
});
export type RemoteModelEntry = z.infer<typeof remoteModelEntrySchema>;

const loadKeySet = new Set(Object.keys(loadParamsSchema.shape));

/**
 * A model entry: local (a GGUF file) or remote (`backend: openai`). A secret written in the entry (an
 * `api_key`) is refused where it stands, saying to name an environment variable instead; a load parameter
 * in a remote model's overrides is refused, saying it means nothing there.
 */
export const modelEntrySchema = z.preprocess(
  (value, context) => {
    if (!value || typeof value !== "object" || Array.isArray(value)) return value;
    const entry = { ...(value as Record<string, unknown>) };
    for (const key of secretKeys) {
      if (!Object.hasOwn(entry, key)) continue;
      context.addIssue({
        code: "custom",
        path: [key],
        message: `a key is never written in models.yaml: remove "${key}", put the key in an environment variable and write its name as api_key_env`,
        params: { code: "secret-in-config", params: { key, setting: "api_key_env" } },
      });
      delete entry[key];
    }
    const overrides = entry.overrides;
    if (entry.backend === "openai" && overrides && typeof overrides === "object" && !Array.isArray(overrides)) {
      const kept = { ...(overrides as Record<string, unknown>) };
      for (const key of Object.keys(kept).filter((name) => loadKeySet.has(name))) {
        context.addIssue({
          code: "custom",
          path: ["overrides", key],
          message: `${key} is a load parameter, which means nothing for a model served by another server: remove it (set it on that server)`,
          params: { code: "remote-load-param", params: { key } },
        });
        delete kept[key];
      }
      entry.overrides = kept;
    }
    return entry;
  },
  z.discriminatedUnion("backend", [localModelEntrySchema, remoteModelEntrySchema]),
);
export type ModelEntry = z.infer<typeof modelEntrySchema>;

/** True for a model served by an OpenAI-compatible server. */
export function isRemoteEntry(entry: ModelEntry): entry is RemoteModelEntry {
  return entry.backend === "openai";
}

/** A model name: a letter or digit, then up to 63 letters, digits, ".", "_" or "-". */
export const modelNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const modelNameSchema = z.string().regex(modelNamePattern, "a model name is 1-64 letters, digits, '.', '_' or '-'");

/** `config/models.yaml`. */
export const modelsConfigSchema = z.strictObject({
  models_directory: z.string().min(1).default("models"),
  defaults: modelParamsSchema.partial().default({}),
  /** Share of free memory a model may take: 0.8 means "fits if it needs at most 80% of what is free". */
  memory_safety: z
    .strictObject({
      ram: z.number().gt(0).max(1).default(0.8),
      vram: z.number().gt(0).max(1).default(0.9),
    })
    .default({ ram: 0.8, vram: 0.9 }),
  runtime: z
    .strictObject({
      /** `auto` uses a GPU when there is one; `false` forces the CPU. */
      gpu: z.union([z.literal("auto"), z.literal(false), z.literal("cuda"), z.literal("vulkan"), z.literal("metal")]).default("auto"),
      /** Seconds after which an unused model is unloaded; 0 keeps it until evicted. */
      idle_unload_seconds: z.number().int().min(0).default(600),
      /** Most models kept loaded at once (least recently used is evicted first). */
      max_loaded_models: z.number().int().min(1).default(4),
      /** Generations run at once in the worker; `auto` is 1 on a CPU and 4 on a GPU. */
      parallel: z.union([z.literal("auto"), z.number().int().min(1).max(64)]).default("auto"),
      /**
       * `auto`: on a CPU, the models of a multi stage that share one loaded model (same file and load
       * parameters) decode in one batch or one at a time, whichever measured faster on this machine (see
       * runtime/batch-choice.ts); `false`: one at a time beyond `parallel`; a number: batches of at most
       * that many on any model.
       */
      batch: z.union([z.literal("auto"), z.literal(false), z.number().int().min(1).max(64)]).default("auto"),
      /** Runs going at once in the web server; `auto` is `parallel` (its resolved value). Later runs wait in a queue. */
      runs_in_flight: z.union([z.literal("auto"), z.number().int().min(1).max(256)]).default("auto"),
      /** Runs that may wait for a place; a start past this is refused (503) until one ends. */
      runs_waiting: z.number().int().min(0).max(10_000).default(32),
      /** Runs one user may have going and waiting together; a start past this is refused (429). */
      runs_per_user: z.number().int().min(1).max(10_000).default(4),
      /** Event streams (a Run page, a follower) one client address may hold open at once (429 past it). */
      streams_per_client: z.number().int().min(1).max(10_000).default(defaultStreamsPerClient),
      /**
       * `auto`: on a CPU, an inference worker whose models each compute on one thread keeps to one core
       * (see runtime/cpu-placement.ts); `false`: it runs wherever the system puts it.
       */
      cpu_affinity: z.union([z.literal("auto"), z.literal(false)]).default("auto"),
    })
    .default({ gpu: "auto", idle_unload_seconds: 600, max_loaded_models: 4, parallel: "auto", batch: "auto", runs_in_flight: "auto", runs_waiting: 32, runs_per_user: 4, streams_per_client: defaultStreamsPerClient, cpu_affinity: "auto" }),
  models: z.record(modelNameSchema, modelEntrySchema).default({}),
});
export type ModelsConfig = z.infer<typeof modelsConfigSchema>;

/** A stage id: a letter, then up to 63 letters, digits, "_" or "-". */
export const stageIdPattern = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** A pipeline name (`base`, or the NAME of config/pipelines/NAME.yaml): never a path. */
export const pipelineNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const stageIdSchema = z
  .string()
  .regex(stageIdPattern, "a stage id starts with a letter and has up to 64 letters, digits, '_' or '-'");

const aggregationObjectSchema = z.discriminatedUnion("method", [
  z.strictObject({
    method: z.literal("concat"),
    /** Put between answers; each answer is labelled with its model unless `labels: false`. */
    separator: z.string().default("\n\n"),
    labels: z.boolean().default(true),
  }),
  z.strictObject({ method: z.literal("vote") }),
  z.strictObject({
    method: z.literal("synthesis"),
    /** The model that reads every answer and writes one. */
    model: modelNameSchema,
    /** Prompt of the synthesis; placeholders `{{input}}`, `{{answers}}`, `{{answer.N}}`, `{{model.N}}`. */
    prompt: z.string().optional(),
    params: generationParamsSchema.default({}),
  }),
  z.strictObject({
    method: z.literal("template"),
    /** Placeholders `{{input}}`, `{{answers}}`, `{{answer.N}}`, `{{model.N}}`, `{{answer.MODEL}}`. */
    template: z.string().min(1),
  }),
]);
/** What `aggregation: synthesis` and `aggregation: template` lack, and how to write it. */
const shorthandNeeds = {
  synthesis: { needs: "model", message: "a synthesis needs the model that writes it: write { method: synthesis, model: NAME }" },
  template: { needs: "template", message: 'a template aggregation needs its template: write { method: template, template: "..." }' },
} as const;

/**
 * How a multi stage combines its answers. A bare method name is short for the mapping with that method
 * alone (`aggregation: vote` is `{ method: vote }`), as the original project's configs wrote it;
 * `synthesis` and `template` need more than their name, and the error says what.
 */
export const aggregationSchema = z.preprocess((value, context) => {
  if (typeof value !== "string") return value;
  if (Object.hasOwn(shorthandNeeds, value)) {
    const method = value as keyof typeof shorthandNeeds;
    const { needs, message } = shorthandNeeds[method];
    context.addIssue({ code: "custom", message, params: { code: "aggregation-needs", method, needs } });
    return value;
  }
  return { method: value };
}, aggregationObjectSchema);
export type Aggregation = z.infer<typeof aggregationSchema>;

/** One earlier turn of a conversation (see a stage's `history`). */
export const historyTurnSchema = z.strictObject({ role: z.enum(["user", "assistant"]), content: z.string() });
export type HistoryTurn = z.infer<typeof historyTurnSchema>;

const stageCommon = {
  id: stageIdSchema,
  /** Shown on the canvas and in the CLI; defaults to the id. */
  name: z.string().max(200).optional(),
  /** Prompt template. `{{input}}` is the stage's input; `{{stage.ID}}` an upstream stage's output. */
  prompt: z.string().optional(),
  /** System prompt for chat models (ignored by plain completion models). */
  system: z.string().optional(),
  /**
   * Turns of a conversation before the stage's prompt, oldest first (what the OpenAI-compatible API's
   * earlier messages become). A chat model reads each as a turn of its chat template; a plain completion
   * model reads them and the prompt as a transcript, `User: ...` and `Assistant: ...`, ending with
   * `Assistant:`. A multi stage's models read them; its synthesis does not.
   */
  history: z.array(historyTurnSchema).optional(),
  params: generationParamsSchema.default({}),
  /** One stage id or a list; absent means the user's input. */
  input_from: z.union([stageIdSchema, z.array(stageIdSchema).min(1)]).optional(),
  output_mode: z.enum(["answer_only", "input_plus_answer"]).default("answer_only"),
  /** Canvas position, written by the editor. */
  position: z.strictObject({ x: z.number(), y: z.number() }).optional(),
};

export const singleStageSchema = z.strictObject({
  ...stageCommon,
  type: z.literal("single"),
  model: modelNameSchema,
});
export const multiStageSchema = z.strictObject({
  ...stageCommon,
  type: z.literal("multi"),
  models: z.array(modelNameSchema).min(1),
  aggregation: aggregationSchema,
});
export const stageSchema = z.discriminatedUnion("type", [singleStageSchema, multiStageSchema]);
export type SingleStage = z.infer<typeof singleStageSchema>;
export type MultiStage = z.infer<typeof multiStageSchema>;
export type Stage = z.infer<typeof stageSchema>;

export const pipelineSchema = z.strictObject({
  name: z.string().max(200).optional(),
  description: z.string().optional(),
  stages: z
    .array(stageSchema)
    .min(1)
    .superRefine((stages, context) => {
      if (stages.length > maxPipelineStages) {
        context.addIssue({
          code: "custom",
          message: `the pipeline has ${stages.length} stages; a pipeline may have at most ${maxPipelineStages}`,
          params: { code: "too-many-stages", count: stages.length, limit: maxPipelineStages },
        });
      }
    }),
});
export type Pipeline = z.infer<typeof pipelineSchema>;

/** `config/pipeline.yaml`. */
export const basePipelineFileSchema = z.strictObject({ base_pipeline: pipelineSchema });
/** `config/pipelines/NAME.yaml`. */
export const namedPipelineFileSchema = z.strictObject({ pipeline: pipelineSchema });
