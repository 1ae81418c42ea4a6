/**
 * A chat completion as a run of the studio: started through the RunManager (so the run queue's caps, the
 * session and its user apply like for any run), then its events read into the answer's text, how it
 * ended and its token counts.
 */
import { ProjectLlmError, errorCodes, type ErrorCode } from "../../common/index.js";
import type { Pipeline } from "../../config/index.js";
import { sinkIds, type RunEvent } from "../../engine/index.js";
import type { ServerInstance } from "../instance.js";
import { modelRun, pipelineInput, pipelineParams, pipelinePrefix, type ChatRequest } from "./chat-request.js";
import { OpenAiError } from "./errors.js";

export type FinishReason = "stop" | "length";

/**
 * Token counts of every model call of the run, those served from the stage cache included (they are the
 * answer's tokens all the same). What was not computed for this request is counted apart:
 * `prompt_tokens_details.cached_tokens` (OpenAI's own field) are prompt tokens not evaluated now, those of
 * a stage served from the stage cache and those a loaded model kept from an earlier call (its KV cache);
 * `completion_tokens_details.cached_tokens` (the studio's extension) are written tokens served from the
 * stage cache, not generated now.
 */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { cached_tokens: number };
}

/** What a run's events say, as a completion reads them. */
export type CompletionPart =
  /** The run has its place and started (after any wait in the queue). */
  | { type: "start" }
  | { type: "text"; text: string }
  /** `cachedStages`: how many stages were served from the stage cache, no model called. */
  | { type: "end"; finishReason: FinishReason; usage: Usage; cachedStages: number }
  /** The run failed, was cancelled or interrupted: no answer. */
  | { type: "error"; error: ProjectLlmError };

/** A run the completion follows. */
export interface StartedCompletion {
  runId: string;
  pipeline: Pipeline;
}

/**
 * Starts the run a request asks for: `pipeline/NAME` runs that pipeline with the last user message as its
 * input; a model's name runs a one-stage pipeline of that model (see `modelRun`). A model or pipeline the
 * studio does not have is a 404 `model_not_found`; the queue's refusals (429, 503) come from `start`.
 */
export async function startCompletion(server: ServerInstance, request: ChatRequest, user: string, options: { fresh?: boolean } = {}): Promise<StartedCompletion> {
  const { studio, runs } = server;
  if (request.model.startsWith(pipelinePrefix)) {
    const name = request.model.slice(pipelinePrefix.length);
    if (!(await studio.listPipelines()).includes(name)) throw modelNotFound(request.model);
    const { pipeline } = await studio.loadPipeline(name);
    const input = pipelineInput(request.messages);
    const params = pipelineParams(pipeline, request);
    const { id } = await runs.start({ pipeline: name, input, user, api: { model: request.model }, ...(Object.keys(params).length > 0 ? { params } : {}), ...cacheOption(request, options.fresh) });
    return { runId: id, pipeline };
  }
  const models = await studio.loadModels();
  if (!Object.hasOwn(models.config.models, request.model)) throw modelNotFound(request.model);
  const { pipeline, input } = modelRun(request.model, request);
  const { id } = await runs.start({ pipeline: pipeline as unknown as Record<string, unknown>, input, user, api: { model: request.model }, ...cacheOption(request, options.fresh) });
  return { runId: id, pipeline };
}

/**
 * The request's `cache` extension: false computes every stage (none served from, or stored in, the stage
 * cache). Without it, `fresh` (the header a studio's remote call sends for a run whose cache is off, see
 * `freshHeader`) turns it off too.
 */
export function cacheOption(request: Pick<ChatRequest, "cache">, fresh = false): { cache?: boolean } {
  if (typeof request.cache === "boolean") return { cache: request.cache };
  return fresh ? { cache: false } : {};
}

function modelNotFound(model: string): OpenAiError {
  return new OpenAiError(404, `the model "${model.slice(0, 200)}" does not exist here; GET /v1/models lists the pipelines (pipeline/NAME) and models this studio runs`, {
    param: "model",
    code: "model_not_found",
  });
}

/**
 * The stage whose text is the answer as it is written, when there is one: the one final stage, passing on
 * its answer alone, written by one model (a single stage) or by a synthesis. Otherwise (a vote, a concat,
 * several final stages, an output with its input) the answer comes whole when the run ends.
 */
export function liveStage(pipeline: Pick<Pipeline, "stages">): { stageId: string; part: "model" | "aggregation" } | undefined {
  const sinks = sinkIds(pipeline);
  if (sinks.length !== 1) return undefined;
  const stage = pipeline.stages.find((candidate) => candidate.id === sinks[0]);
  if (!stage || stage.output_mode !== "answer_only") return undefined;
  if (stage.type === "single") return { stageId: stage.id, part: "model" };
  return stage.aggregation.method === "synthesis" ? { stageId: stage.id, part: "aggregation" } : undefined;
}

/**
 * A run's events as a completion's parts: `start` once it runs, the answer's text as it is written, then
 * its end (or its error). Usage counts every model call of the run: the prompt tokens each read and the
 * tokens each wrote, and of them those not computed now (see `Usage`). The finish reason is `length` when a call of a final stage stopped at max_tokens.
 */
export async function* completionParts(events: AsyncIterable<RunEvent>, pipeline: Pick<Pipeline, "stages">): AsyncGenerator<CompletionPart> {
  const live = liveStage(pipeline);
  const sinks = new Set(sinkIds(pipeline));
  let sent = "";
  let promptTokens = 0;
  let completionTokens = 0;
  let cachedPromptTokens = 0;
  let cachedCompletionTokens = 0;
  let cachedStages = 0;
  let length = false;
  for await (const event of events) {
    switch (event.type) {
      case "run-start":
        yield { type: "start" };
        break;
      case "stage-delta":
        if (live && event.stageId === live.stageId && event.part === live.part && event.text.length > 0) {
          sent += event.text;
          yield { type: "text", text: event.text };
        }
        break;
      case "stage-end":
        if (event.reused) break;
        promptTokens += event.metrics.tokensIn;
        completionTokens += event.metrics.tokensOut;
        if (event.cached) {
          cachedStages += 1;
          cachedPromptTokens += event.metrics.tokensIn;
          cachedCompletionTokens += event.metrics.tokensOut;
        } else {
          cachedPromptTokens += Math.max(0, event.metrics.tokensIn - (event.metrics.promptTokensEvaluated ?? event.metrics.tokensIn));
        }
        if (sinks.has(event.stageId)) {
          const calls = [...event.models, ...(event.aggregation?.method === "synthesis" ? [event.aggregation.output] : [])];
          if (calls.some((call) => call.stopReason === "max-tokens")) length = true;
        }
        break;
      case "run-end": {
        if (event.status !== "completed") {
          yield { type: "error", error: runError(event) };
          return;
        }
        const answer = event.finalAnswer ?? "";
        // What was not streamed live: the whole answer when no stage writes it live.
        const rest = answer.startsWith(sent) ? answer.slice(sent.length) : "";
        if (rest.length > 0) yield { type: "text", text: rest };
        const usage: Usage = {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
          prompt_tokens_details: { cached_tokens: cachedPromptTokens },
          completion_tokens_details: { cached_tokens: cachedCompletionTokens },
        };
        yield { type: "end", finishReason: length ? "length" : "stop", usage, cachedStages };
        return;
      }
      default:
        break;
    }
  }
}

/** Why a run gave no answer, as an error of the studio (its code maps to the HTTP status). */
function runError(event: Extract<RunEvent, { type: "run-end" }>): ProjectLlmError {
  const status = event.status;
  if (status === "interrupted") return new ProjectLlmError("unavailable", event.error?.message ?? "the server stopped during the run; send the request again once it is back");
  const code = (errorCodes as readonly string[]).includes(event.error?.code ?? "") ? (event.error!.code as ErrorCode) : status === "cancelled" ? "cancelled" : "generation-failed";
  return new ProjectLlmError(code, event.error?.message ?? `the run ended ${status}`, event.error?.params ? { details: { params: event.error.params } } : undefined);
}
