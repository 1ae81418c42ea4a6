/** Integration: the generation options of `samplingOptions` on the real model, in this process. */
import path from "node:path";
import { getLlama, LlamaCompletion, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir, testModelsDir } from "../testing/fixtures.js";
import { writeStoriesWithEndToken } from "../testing/stories-with-end-token.js";
import { endOfGenerationTokens, samplingOptions } from "./sampling.js";

let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
});
afterAll(async () => llama.dispose());

describe("samplingOptions", () => {
  it("bans every end-of-generation token with ignore_eos, and only then", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // Its EOS is token 1: llama.cpp still ends at `</s>` (token 2), which is then neither
      // model.tokens.eos nor eot, so only the vocabulary's scan finds it.
      const file = await writeStoriesWithEndToken(path.join(dir, "stories-eos1.gguf"));
      const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
      try {
        expect([model.tokens.eos, model.tokens.eot]).toEqual([1, null]);
        expect([...endOfGenerationTokens(model)].sort()).toEqual([1, 2]);
        const params = { temperature: 0, max_tokens: 8 };
        expect(samplingOptions(params, model)).not.toHaveProperty("tokenBias");
        expect(samplingOptions({ ...params, ignore_eos: false }, model)).not.toHaveProperty("tokenBias");
        const { tokenBias } = samplingOptions({ ...params, ignore_eos: true }, model);
        expect([...(tokenBias as unknown as { _biases: Map<number, number> })._biases]).toEqual([
          [1, -Infinity],
          [2, -Infinity],
        ]);
      } finally {
        await model.dispose();
      }
    } finally {
      await cleanup();
    }
  });

  it("sets up no repeat penalty without one, and writes what node-llama-cpp's default (factor 1) writes", async () => {
    const model = await llama.loadModel({ modelPath: path.join(testModelsDir, "stories260K.gguf"), gpuLayers: 0 });
    try {
      expect(samplingOptions({ temperature: 0, max_tokens: 8 }, model).repeatPenalty).toBe(false);
      expect(samplingOptions({ temperature: 0, max_tokens: 8, repeat_penalty: 1 }, model).repeatPenalty).toBe(false);
      expect(samplingOptions({ temperature: 0, max_tokens: 8, repeat_penalty: 1.3 }, model).repeatPenalty).toEqual({ penalty: 1.3 });
      const context = await model.createContext({ contextSize: 512, threads: 1 });
      const sequence = context.getSequence();
      const completion = new LlamaCompletion({ contextSequence: sequence });
      const write = async (options: object) => {
        await sequence.clearHistory();
        return completion.generateCompletion("Once upon a time", { maxTokens: 48, temperature: 0, ...options });
      };
      const mapped = await write(samplingOptions({ temperature: 0, max_tokens: 48 }, model));
      expect(mapped.length).toBeGreaterThan(20);
      expect(mapped).toBe(await write({}));
      // A real penalty does change what is written: the comparison above could have failed.
      expect(await write(samplingOptions({ temperature: 0, max_tokens: 48, repeat_penalty: 1.8 }, model))).not.toBe(mapped);
      await context.dispose();
    } finally {
      await model.dispose();
    }
  });
});
