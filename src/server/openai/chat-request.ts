/**
 * A chat completion request of the OpenAI API, read into what the studio runs: which pipeline or model,
 * its input, and the generation parameters for which stages. Plain functions, tested without a server.
 *
 * Unknown fields are ignored (OpenAI clients send many: `user`, `metadata`, `store`, `logit_bias`, ...);
 * two fields are extensions: the studio's own `cache`, and `ignore_eos` as vLLM and llama-server take it (see the README);
 * known fields of a wrong type, and features the studio does not have (`n` > 1, tools, images, JSON
 * output), are refused with an error that names the field.
 */
import { z } from "zod";
import type { GenerationParams, HistoryTurn, Pipeline } from "../../config/index.js";
import { sinkIds } from "../../engine/index.js";
import { speakers, transcript } from "../../runtime/conversation.js";
import { OpenAiError } from "./errors.js";

/** `pipeline/NAME`: a pipeline of the config folder; any other id is a model of models.yaml. */
export const pipelinePrefix = "pipeline/";

const textPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: z.union([z.string(), z.array(textPart)]).nullish(),
});
const nullableNumber = (schema: z.ZodNumber) => schema.nullish();

export const chatRequestSchema = z.looseObject({
  model: z.string().min(1).max(200),
  messages: z.array(message).min(1).max(10_000),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: nullableNumber(z.number().int().min(1).max(1_000_000)),
  max_completion_tokens: nullableNumber(z.number().int().min(1).max(1_000_000)),
  temperature: nullableNumber(z.number().min(0).max(2)),
  top_p: nullableNumber(z.number().gt(0).max(1)),
  seed: nullableNumber(z.number().int().min(0).max(2 ** 32 - 1)),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  n: nullableNumber(z.number().int().min(1)),
  tools: z.array(z.unknown()).nullish(),
  functions: z.array(z.unknown()).nullish(),
  response_format: z.looseObject({ type: z.string() }).nullish(),
  logprobs: z.boolean().nullish(),
  /** The studio's extension: false computes every stage, none served from (or stored in) the stage cache. */
  cache: z.boolean().nullish(),
  /** vLLM's and llama-server's extension: true writes max_tokens tokens, never stopping at an end token. */
  ignore_eos: z.boolean().nullish(),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** One message's text; `param` names it in an error. */
type Message = z.infer<typeof message>;

/** OpenAI's way to name a field: `messages[2].content`. */
function paramOf(path: PropertyKey[]): string {
  return path.reduce<string>((name, key) => (typeof key === "number" ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)), "");
}

/** Reads a parsed JSON body; `OpenAiError` (400) names the first field at fault. */
export function parseChatRequest(body: unknown): ChatRequest {
  const result = chatRequestSchema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const param = paramOf(issue.path);
    throw new OpenAiError(400, `${param || "body"}: ${issue.message}`, { param: param || null, code: "invalid_value" });
  }
  const request = result.data;
  if (request.n !== undefined && request.n !== null && request.n > 1) {
    throw new OpenAiError(400, "n: the studio writes one choice per request; send n: 1 (or leave it out) and make several requests", { param: "n", code: "unsupported_value" });
  }
  if ((request.tools?.length ?? 0) > 0 || (request.functions?.length ?? 0) > 0) {
    const param = (request.tools?.length ?? 0) > 0 ? "tools" : "functions";
    throw new OpenAiError(400, `${param}: the studio's models do not call tools; send the request without ${param}`, { param, code: "unsupported_parameter" });
  }
  if (request.response_format && request.response_format.type !== "text") {
    throw new OpenAiError(400, `response_format: only "text" is supported, not "${request.response_format.type.slice(0, 40)}"`, { param: "response_format", code: "unsupported_value" });
  }
  if (request.logprobs) throw new OpenAiError(400, "logprobs: the studio does not return log probabilities; leave logprobs out", { param: "logprobs", code: "unsupported_parameter" });
  request.messages.forEach((item, index) => messageText(item, index));
  return request;
}

/** A message's text: its string, or its text parts joined. Images, audio and files are refused. */
export function messageText(item: Message, index: number): string {
  if (item.content === null || item.content === undefined) return "";
  if (typeof item.content === "string") return item.content;
  return item.content
    .map((part, partIndex) => {
      if (part.type !== "text" || typeof part.text !== "string") {
        throw new OpenAiError(400, `messages[${index}].content[${partIndex}]: only text parts are supported, not "${part.type.slice(0, 40)}"`, {
          param: `messages[${index}].content[${partIndex}]`,
          code: "unsupported_value",
        });
      }
      return part.text;
    })
    .join("");
}

const isSystem = (item: Message) => item.role === "system" || item.role === "developer";
const speaker: Record<Message["role"], string> = { system: "System", developer: "System", user: speakers.user, assistant: speakers.assistant, tool: "Tool", function: "Tool" };

/**
 * A model's call from the messages. The studio's model calls take one system prompt, a prompt, and the
 * conversation's earlier turns (see the stage's `history`), so: the system (and developer) messages,
 * joined, are the system prompt (a model with a chat template reads it; a plain completion model has none
 * and ignores it); the last message, a user's, is the prompt, and the user and assistant messages before
 * it are the earlier turns (a chat model reads each as a turn of its template, a plain model a transcript).
 * Turns are sent only as every chat template takes them: user and assistant in turn, from a user's to a
 * user's (some templates refuse any other order). A conversation that cannot be told as such turns (a
 * tool's message, an assistant's first, two of one role in a row, or the assistant's last, for the model
 * to go on) is written as one transcript prompt, `User: ...`, `Assistant: ...`, `Tool: ...`, ending with
 * `Assistant:` when the model is to answer.
 */
export function modelCall(messages: readonly Message[]): { system?: string; prompt: string; history?: HistoryTurn[] } {
  const system = messages.filter(isSystem).map((item) => messageText(item, messages.indexOf(item)));
  const turns = messages.map((item, index) => ({ item, index })).filter(({ item }) => !isSystem(item));
  if (!turns.some(({ item }) => item.role === "user")) throw new OpenAiError(400, "messages: there is no user message; send at least one", { param: "messages", code: "invalid_value" });
  const last = turns.at(-1)!;
  const asTurns = turns.length % 2 === 1 && turns.every(({ item }, position) => item.role === (position % 2 === 0 ? "user" : "assistant"));
  const history = asTurns ? turns.slice(0, -1).map(({ item, index }): HistoryTurn => ({ role: item.role as HistoryTurn["role"], content: messageText(item, index) })) : [];
  const prompt = asTurns
    ? messageText(last.item, last.index)
    : transcript(
        turns.map(({ item, index }) => ({ speaker: speaker[item.role], text: messageText(item, index) })),
        last.item.role !== "assistant",
      );
  return { ...(system.length > 0 ? { system: system.join("\n\n") } : {}), prompt, ...(history.length > 0 ? { history } : {}) };
}

/** A pipeline's input: the last user message (a pipeline reads one input; its stages have their own prompts). */
export function pipelineInput(messages: readonly Message[]): string {
  for (let index = messages.length - 1; index >= 0; index--) {
    if (messages[index]!.role === "user") return messageText(messages[index]!, index);
  }
  throw new OpenAiError(400, "messages: there is no user message; a pipeline takes the last one as its input", { param: "messages", code: "invalid_value" });
}

/** The request's sampling parameters (every stage), and its length and stop parameters (the final stages): max_tokens, stop, ignore_eos. */
export function requestParams(request: ChatRequest): { sampling: GenerationParams; ending: GenerationParams } {
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  const stops = request.stop === undefined || request.stop === null ? [] : (typeof request.stop === "string" ? [request.stop] : request.stop).filter((stop) => stop.length > 0);
  return {
    sampling: {
      ...(request.temperature !== undefined && request.temperature !== null ? { temperature: request.temperature } : {}),
      ...(request.top_p !== undefined && request.top_p !== null ? { top_p: request.top_p } : {}),
      ...(request.seed !== undefined && request.seed !== null ? { seed: request.seed } : {}),
    },
    ending: {
      ...(maxTokens !== undefined && maxTokens !== null ? { max_tokens: maxTokens } : {}),
      ...(stops.length > 0 ? { stop: stops } : {}),
      ...(request.ignore_eos !== undefined && request.ignore_eos !== null ? { ignore_eos: request.ignore_eos } : {}),
    },
  };
}

/**
 * The parameters per stage for a pipeline: temperature, top_p and seed go to every stage (so that a fixed
 * seed or temperature 0 makes the whole run repeatable); max_tokens, stop and ignore_eos go to the final
 * stages alone (those whose output is the answer: what the request's length is about), each of their
 * models and their synthesis.
 */
export function pipelineParams(pipeline: Pick<Pipeline, "stages">, request: ChatRequest): Record<string, GenerationParams> {
  const { sampling, ending } = requestParams(request);
  const sinks = new Set(sinkIds(pipeline));
  const params: Record<string, GenerationParams> = {};
  for (const stage of pipeline.stages) {
    const stageParams = { ...sampling, ...(sinks.has(stage.id) ? ending : {}) };
    if (Object.keys(stageParams).length > 0) params[stage.id] = stageParams;
  }
  return params;
}

/** The stage id of the one-stage pipeline that a model's chat completion runs. */
export const chatStageId = "chat";

/** What a chat completion of one model runs: a one-stage pipeline with the request's parameters, and its input (the prompt). */
export function modelRun(model: string, request: ChatRequest): { pipeline: Pipeline; input: string } {
  const { system, prompt, history } = modelCall(request.messages);
  const { sampling, ending } = requestParams(request);
  const stage = { id: chatStageId, type: "single", model, ...(system !== undefined ? { system } : {}), ...(history ? { history } : {}), params: { ...sampling, ...ending }, output_mode: "answer_only" } as const;
  return { pipeline: { name: `Chat completion: ${model}`, stages: [stage] }, input: prompt };
}
