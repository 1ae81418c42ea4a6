/**
 * What every OpenAI-compatible server must do for a remote model, run against any of them:
 * `remoteBackendConformance("name", async () => ({ model, onEarlyClose, cleanup }))`. The fake server of
 * src/testing runs it here; a real server (another studio's /v1, a vLLM) runs it by giving its own address.
 */
import { describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import type { GenerateRequest, ResolvedModel } from "../engine/ports.js";
import { RemotePort } from "./remote.js";

export interface RemoteBackendUnderTest {
  /** The model as resolution makes it: `remote` names the server (base URL, model, key variable). */
  model: ResolvedModel;
  /** Where the key variable is read (default: the process's environment). */
  env?: Record<string, string | undefined>;
  /** Resolves once the server saw a request's connection close before its answer ended; absent when it cannot tell. */
  nextEarlyClose?: () => Promise<void>;
  cleanup: () => Promise<void>;
}

const request = (model: ResolvedModel, overrides: Partial<GenerateRequest["params"]> = {}): GenerateRequest => ({
  model,
  system: "You tell short stories.",
  prompt: "Once upon a time",
  params: { max_tokens: 24, temperature: 0, seed: 7, ...overrides },
});

export function remoteBackendConformance(name: string, setup: () => Promise<RemoteBackendUnderTest>): void {
  describe(`remote backend conformance: ${name}`, () => {
    it("streams an answer in parts whose sum is the answer, with its token counts and a stop reason", async () => {
      const backend = await setup();
      try {
        const port = new RemotePort({ env: backend.env });
        const parts: string[] = [];
        const result = await port.generate(request(backend.model), { onText: (text) => parts.push(text) });
        expect(result.text.length).toBeGreaterThan(0);
        expect(parts.join("")).toBe(result.text);
        expect(result.tokensOut).toBeGreaterThan(0);
        expect(["eos", "max-tokens", "stop-string"]).toContain(result.stopReason);
        expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
        expect(result.durationMs).toBeGreaterThanOrEqual(result.timeToFirstTokenMs);
      } finally {
        await backend.cleanup();
      }
    });

    it("cancels a call mid-stream: the call ends as cancelled, and the server sees its connection close", async () => {
      const backend = await setup();
      try {
        const port = new RemotePort({ env: backend.env });
        const controller = new AbortController();
        const closed = backend.nextEarlyClose?.();
        const call = port.generate(request(backend.model, { max_tokens: 4096 }), { signal: controller.signal, onText: () => controller.abort() });
        const error = await call.then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        // 4096 tokens asked: no server is done before the abort that follows its first text.
        expect(ProjectLlmError.isInstance(error) && error.code).toBe("cancelled");
        if (closed) await closed;
      } finally {
        await backend.cleanup();
      }
    });
  });
}
