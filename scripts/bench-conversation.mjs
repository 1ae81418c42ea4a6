#!/usr/bin/env node
// A chat completion's conversation, turn after turn (`node scripts/bench-conversation.mjs [MODEL.gguf]`,
// after `npm run build:node`): each turn's call carries the earlier turns as its `history` (as
// /v1/chat/completions sends them) to a chat model, through the inference runtime. It prints per turn the
// prompt's tokens (template, earlier turns and answers included), those evaluated (the rest held in the KV
// cache from the turn before) and the time to first token. The model defaults to stories260K with a
// ChatML template written into a copy of it (src/testing/gguf-with-chat-template.ts).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createRuntime } from "../dist/runtime/index.js";
import { writeGgufWithChatTemplate } from "../dist/testing/gguf-with-chat-template.js";

const temp = await mkdtemp(path.join(os.tmpdir(), "project-llm-conversation-"));
let file = process.argv[2];
if (!file) {
  file = path.join(temp, "stories-chat.gguf");
  await writeGgufWithChatTemplate(path.join(process.env.PROJECT_LLM_TEST_MODELS ?? "models", "stories260K.gguf"), file);
}
const runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
const model = { name: "chat", path: file, load: { context_size: 2048, gpu_layers: 0, threads: 1 } };
const questions = ["Tell me a story about a little cat who lived in a big house", "What did the cat find in the garden?", "Who came to play with the cat?", "How does the story end?"];
try {
  const history = [];
  console.log("| turn | prompt tokens | evaluated | time to first token |\n| --- | --- | --- | --- |");
  for (const [index, question] of questions.entries()) {
    const result = await runtime.generate({ model, history: history.slice(), prompt: question, params: { temperature: 0, max_tokens: 48 } });
    if (!result.chat) throw new Error(`${file} has no chat template: its turns would be a transcript`);
    console.log(`| ${index + 1} | ${result.tokensIn} | ${result.promptTokensEvaluated} | ${result.timeToFirstTokenMs.toFixed(1)} ms |`);
    history.push({ role: "user", content: question }, { role: "assistant", content: result.text });
  }
} finally {
  await runtime.dispose();
  await rm(temp, { recursive: true, force: true });
}
