import { describe, expect, it } from "vitest";
import { modelCall, modelRun, parseChatRequest, pipelineInput, pipelineParams } from "./chat-request.js";
import { OpenAiError } from "./errors.js";

const user = (content: string) => ({ role: "user" as const, content });

/** The OpenAI error a request gets, or undefined when it is accepted. */
function refusal(body: unknown): { status: number; param: string | null; message: string } | undefined {
  try {
    parseChatRequest(body);
    return undefined;
  } catch (error) {
    if (!(error instanceof OpenAiError)) throw error;
    return { status: error.status, param: error.param, message: error.message };
  }
}

describe("a chat completion request", () => {
  it("ignores the fields it does not know, as OpenAI clients send many", () => {
    expect(refusal({ model: "m", messages: [user("Hi")], user: "someone", metadata: { a: 1 }, store: false, logit_bias: {}, n: 1, tools: [] })).toBeUndefined();
  });

  it("refuses a known field of the wrong type and names it", () => {
    expect(refusal({ model: "m", messages: [user("Hi")], temperature: "hot" })).toMatchObject({ status: 400, param: "temperature" });
    expect(refusal({ model: "m", messages: [{ role: "wizard", content: "Hi" }] })).toMatchObject({ status: 400, param: "messages[0].role" });
    expect(refusal({ model: "m", messages: [] })).toMatchObject({ status: 400, param: "messages" });
    expect(refusal({ messages: [user("Hi")] })).toMatchObject({ status: 400, param: "model" });
    expect(refusal({ model: "m", messages: [user("Hi")], max_tokens: 0 })).toMatchObject({ status: 400, param: "max_tokens" });
  });

  it("reads the studio's own field, cache, as a boolean", () => {
    expect(parseChatRequest({ model: "m", messages: [user("Hi")], cache: false }).cache).toBe(false);
    expect(parseChatRequest({ model: "m", messages: [user("Hi")] }).cache).toBeUndefined();
    expect(refusal({ model: "m", messages: [user("Hi")], cache: "no" })).toMatchObject({ status: 400, param: "cache" });
  });

  it("reads ignore_eos, vLLM's and llama-server's extension, as a boolean", () => {
    expect(parseChatRequest({ model: "m", messages: [user("Hi")], ignore_eos: true }).ignore_eos).toBe(true);
    expect(refusal({ model: "m", messages: [user("Hi")], ignore_eos: "yes" })).toMatchObject({ status: 400, param: "ignore_eos" });
  });

  it("refuses what the studio cannot do: several choices, tools, images, JSON output, log probabilities", () => {
    expect(refusal({ model: "m", messages: [user("Hi")], n: 2 })).toMatchObject({ status: 400, param: "n" });
    expect(refusal({ model: "m", messages: [user("Hi")], tools: [{ type: "function", function: { name: "f" } }] })).toMatchObject({ status: 400, param: "tools" });
    expect(refusal({ model: "m", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] })).toMatchObject({ status: 400, param: "messages[0].content[0]" });
    expect(refusal({ model: "m", messages: [user("Hi")], response_format: { type: "json_object" } })).toMatchObject({ status: 400, param: "response_format" });
    expect(refusal({ model: "m", messages: [user("Hi")], logprobs: true })).toMatchObject({ status: 400, param: "logprobs" });
  });
});

describe("a model's call from the messages", () => {
  it("sends a lone user message as the prompt, and the system messages as the system prompt", () => {
    expect(modelCall([{ role: "system", content: "Be brief." }, { role: "developer", content: "Kind." }, user("Once upon a time")])).toEqual({ system: "Be brief.\n\nKind.", prompt: "Once upon a time" });
    expect(modelCall([{ role: "user", content: [{ type: "text", text: "Once " }, { type: "text", text: "upon" }] }])).toEqual({ prompt: "Once upon" });
  });

  it("sends a conversation's earlier user and assistant messages as turns before the last user message", () => {
    expect(modelCall([{ role: "system", content: "Be brief." }, user("Hi"), { role: "assistant", content: "Hello." }, user("A story?")])).toEqual({
      system: "Be brief.",
      prompt: "A story?",
      history: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello." },
      ],
    });
  });

  it("writes a conversation that is not such turns as a transcript for the model to go on", () => {
    // An assistant message last is the start of the answer: the model goes on from it.
    expect(modelCall([user("Hi"), { role: "assistant", content: "Once" }])).toEqual({ prompt: "User: Hi\n\nAssistant: Once" });
    expect(modelCall([user("Hi"), { role: "tool", content: "42" }, user("So?")])).toEqual({ prompt: "User: Hi\n\nTool: 42\n\nUser: So?\n\nAssistant:" });
    // Not in turn from a user's message: some chat templates refuse it, so it is one transcript.
    expect(modelCall([{ role: "system", content: "Be brief." }, { role: "assistant", content: "Hello!" }, user("Hi")])).toEqual({ system: "Be brief.", prompt: "Assistant: Hello!\n\nUser: Hi\n\nAssistant:" });
    expect(modelCall([user("Hi"), user("Are you there?")])).toEqual({ prompt: "User: Hi\n\nUser: Are you there?\n\nAssistant:" });
  });

  it("refuses messages with no user message, as a conversation of the assistant alone", () => {
    expect(() => modelCall([{ role: "system", content: "Be brief." }, { role: "assistant", content: "Once" }])).toThrow(/no user message/);
  });

  it("runs a conversation as one stage whose history holds the earlier turns, and whose input is the last user message", () => {
    const request = parseChatRequest({ model: "storyteller", messages: [user("Hi"), { role: "assistant", content: "Hello." }, user("A story?")] });
    expect(modelRun("storyteller", request)).toEqual({
      pipeline: {
        name: "Chat completion: storyteller",
        stages: [{ id: "chat", type: "single", model: "storyteller", history: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello." }], params: {}, output_mode: "answer_only" }],
      },
      input: "A story?",
    });
  });

  it("runs one stage of the model with the request's parameters", () => {
    const request = parseChatRequest({ model: "storyteller", messages: [user("Hi")], temperature: 0, seed: 3, max_completion_tokens: 9, max_tokens: 50, stop: ".", ignore_eos: true });
    expect(modelRun("storyteller", request)).toEqual({
      pipeline: { name: "Chat completion: storyteller", stages: [{ id: "chat", type: "single", model: "storyteller", params: { temperature: 0, seed: 3, max_tokens: 9, stop: ["."], ignore_eos: true }, output_mode: "answer_only" }] },
      input: "Hi",
    });
  });
});

describe("a pipeline's call from the messages", () => {
  it("takes the last user message as the input", () => {
    expect(pipelineInput([{ role: "system", content: "ignored" }, user("first"), { role: "assistant", content: "a" }, user("second")])).toBe("second");
    expect(() => pipelineInput([{ role: "system", content: "alone" }])).toThrow(/no user message/);
  });

  it("puts sampling on every stage and max_tokens, stop and ignore_eos on the final stages only", () => {
    const pipeline = {
      stages: [
        { id: "draft", type: "single" as const, model: "a", params: {}, output_mode: "answer_only" as const },
        { id: "left", type: "single" as const, model: "a", input_from: "draft", params: {}, output_mode: "answer_only" as const },
        { id: "right", type: "single" as const, model: "a", input_from: "draft", params: {}, output_mode: "answer_only" as const },
      ],
    };
    const request = parseChatRequest({ model: "pipeline/x", messages: [user("Hi")], temperature: 0, top_p: 0.5, max_tokens: 7, stop: ["\n", ""], ignore_eos: false });
    expect(pipelineParams(pipeline, request)).toEqual({
      draft: { temperature: 0, top_p: 0.5 },
      left: { temperature: 0, top_p: 0.5, max_tokens: 7, stop: ["\n"], ignore_eos: false },
      right: { temperature: 0, top_p: 0.5, max_tokens: 7, stop: ["\n"], ignore_eos: false },
    });
    expect(pipelineParams(pipeline, parseChatRequest({ model: "pipeline/x", messages: [user("Hi")] }))).toEqual({});
  });
});
