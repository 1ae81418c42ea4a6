/** The OpenAI-compatible API: chat completions over the studio's pipelines and models, and their list. */
export { chatCompletions } from "./chat-completions.js";
export { findModel, listModels, type OpenAiModel } from "./models.js";
export { OpenAiError, openAiErrorResponse, toOpenAiResponse } from "./errors.js";
