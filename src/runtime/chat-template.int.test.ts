/** The chat path: a model whose GGUF carries a chat template is prompted through it. */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeGgufWithChatTemplate } from "../testing/gguf-with-chat-template.js";
import { storiesFile, tempDir, testModelsDir } from "../testing/fixtures.js";
import { createRuntime, type Runtime } from "./index.js";

let runtime: Runtime;
let chatModel: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const temp = await tempDir();
  cleanup = temp.cleanup;
  chatModel = path.join(temp.dir, "stories-chat.gguf");
  await writeGgufWithChatTemplate(path.join(testModelsDir, storiesFile), chatModel);
  runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
});
afterAll(async () => {
  await runtime.dispose();
  await cleanup();
});

const request = (file: string, system?: string) => ({
  model: { name: "m", path: file, load: { context_size: 512, gpu_layers: 0 as const, threads: 1 } },
  prompt: "Tell me a story",
  system,
  params: { temperature: 0, max_tokens: 12 },
});

describe("chat templates", () => {
  it("applies the model's chat template, with the stage's system prompt and nothing else", async () => {
    expect((await runtime.inspect(chatModel, { contextSize: 512, gpuLayers: 0, threads: 1 })).hasChatTemplate).toBe(true);
    const plain = await runtime.generate(request(path.join(testModelsDir, storiesFile)));
    const chat = await runtime.generate(request(chatModel));
    const withSystem = await runtime.generate(request(chatModel, "You are a kind storyteller."));
    expect(plain.chat).toBe(false);
    expect(chat.chat).toBe(true);
    // The template wraps the prompt in role markers, so the chat call reads more tokens than plain text,
    // and a system prompt adds its own turn.
    expect(chat.tokensIn).toBeGreaterThan(plain.tokensIn + 5);
    expect(withSystem.tokensIn).toBeGreaterThan(chat.tokensIn + 5);
    expect(chat.tokensOut).toBeGreaterThan(0);
  });

  it("reads a conversation's earlier turns: a plain model's as a transcript, a chat model's as turns of its template, the next turn reusing what the last one left", async () => {
    const history = [
      { role: "user" as const, content: "Hi" },
      { role: "assistant" as const, content: "Hello." },
    ];
    const plainFile = path.join(testModelsDir, storiesFile);
    const plainTurns = await runtime.generate({ ...request(plainFile), history, prompt: "A story?" });
    const plainText = await runtime.generate({ ...request(plainFile), prompt: "User: Hi\n\nAssistant: Hello.\n\nUser: A story?\n\nAssistant:" });
    expect(plainTurns.chat).toBe(false);
    expect(plainTurns.tokensIn).toBe(plainText.tokensIn);
    expect(plainTurns.text).toBe(plainText.text);

    // A first turn, then the next one with it (and its answer) as history.
    const opening = "Tell me a long story about a little cat who lived in a big house with a garden full of flowers and birds";
    const first = await runtime.generate({ ...request(chatModel), prompt: opening });
    const next = await runtime.generate({
      ...request(chatModel),
      history: [
        { role: "user", content: opening },
        { role: "assistant", content: first.text },
      ],
      prompt: "And then?",
    });
    expect(next.chat).toBe(true);
    // Both turns and the new prompt are read, each in the template's role markers...
    expect(next.tokensIn).toBeGreaterThan(first.tokensIn + first.tokensOut);
    // ...and the first turn's tokens, its answer's too, held by the sequence the first call left, are not
    // evaluated again: only the new turn's (and a token or two where the template closes the answer).
    expect(next.promptTokensEvaluated).toBeLessThanOrEqual(next.tokensIn - (first.tokensIn + first.tokensOut) + 3);
  });

  it("reuses the KV cache of the sequence whose templated prompt shares the longest prefix", async () => {
    const system = "You are a kind storyteller who tells short stories about animals in the forest.";
    const call = (prompt: string, withSystem: boolean) => runtime.generate({ ...request(chatModel, withSystem ? system : undefined), prompt });
    const first = await call("Tell me a story about a cat", true);
    // A call that shares only the template's first tokens takes another sequence, and keeps the first one's tokens.
    await call("Zebra", false);
    const third = await call("Tell me a story about a cat and a dog", true);
    // Matched by the raw prompt, no sequence would share a prefix (each starts with the template's role
    // markers): the third call would evaluate its whole prompt again.
    expect(first.chat).toBe(true);
    expect(third.promptTokensEvaluated).toBeLessThan(third.tokensIn / 2);
  });
});
