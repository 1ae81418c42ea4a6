/** Integration: the inference worker process on the real model. */
import { readdirSync, readFileSync } from "node:fs";
import { copyFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { GgmlType, readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import type { GenerateRequest } from "../engine/index.js";
import { storiesFile, tempDir, testModelsDir } from "../testing/fixtures.js";
import { writeGgufWithChatTemplate } from "../testing/gguf-with-chat-template.js";
import { writeStoriesWithEndToken } from "../testing/stories-with-end-token.js";
import { repackedSyntheticHere, syntheticShape, writeSyntheticQ8 } from "../testing/synthetic-q8.js";
import { firstPairs, type BatchWay } from "./batch-choice.js";
import { createRuntime, type Runtime } from "./index.js";
import { allowedCpus, findTaskset, parseCpuList } from "./cpu-placement.js";
import { repackedTypesHere } from "./memory-estimate.js";

let runtime: Runtime;
const modelPath = path.join(testModelsDir, storiesFile);
/** The swap's size (`/proc/meminfo`'s SwapTotal; none where there is no such file). */
function swapBytes(): number {
  try {
    const kib = /^SwapTotal:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
    return kib === undefined ? 0 : Number(kib) * 1024;
  } catch {
    return 0;
  }
}

const request = (prompt: string, maxTokens = 32, file = modelPath): GenerateRequest => ({
  model: { name: "stories", path: file, load: { context_size: 256, gpu_layers: 0, threads: "auto" } },
  prompt,
  params: { temperature: 0, max_tokens: maxTokens },
});

beforeAll(() => {
  runtime = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false });
});
afterAll(async () => runtime.dispose());

describe("the inference runtime", () => {
  it("streams a completion in chunks with its figures", async () => {
    const chunks: string[] = [];
    const result = await runtime.generate(request("Once upon a time"), { onText: (text) => chunks.push(text) });
    expect(chunks.join("")).toBe(result.text);
    expect(result.text).toMatch(/^, there was a little girl/);
    expect(result).toMatchObject({ tokensOut: 32, stopReason: "max-tokens", chat: false });
    expect(result.tokensIn).toBeGreaterThan(2);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(result.load.threads).toBe(1);
  });

  it("streams a long completion in batches whose text is the answer's, up to a stop string", async () => {
    const chunks: string[] = [];
    const result = await runtime.generate({ ...request("Once upon a time", 240), params: { temperature: 0, max_tokens: 240, stop: ["Lily"] } }, { onText: (text) => chunks.push(text) });
    const whole = await runtime.generate(request("Once upon a time", 240));
    // Text goes in batches (the first at once): more than one, fewer than the tokens.
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.length).toBeLessThan(whole.tokensOut);
    expect(chunks.join("")).toBe(result.text);
    // The stop string ends the answer, and is not in it (nor in what streamed).
    expect(result.stopReason).toBe("stop-string");
    expect(whole.text.startsWith(result.text)).toBe(true);
    expect(whole.text.slice(result.text.length).trimStart()).toMatch(/^Lily/);
  });

  it("keeps the model warm: later calls load nothing", async () => {
    await runtime.generate(request("A"));
    const loads = runtime.stats().modelLoads;
    const second = await runtime.generate(request("B"));
    expect(second.load.loaded).toBe(false);
    expect(runtime.stats().modelLoads).toBe(loads);
    // On a CPU the status after a call is the pool the call's result told (no round trip), the same as the worker's.
    const status = await runtime.status();
    expect(status.loaded.map((entry) => entry.path)).toEqual([modelPath]);
    expect(status).toMatchObject({ gpu: false, loaded: [{ busy: 0, contextSize: 256 }] });
    expect(await runtime.unload()).toBe(1);
    expect((await runtime.status()).loaded).toEqual([]);
    expect((await runtime.generate(request("C"))).load.loaded).toBe(true);
  });

  it("unloads a model a call runs on once the call ends, and not before", async () => {
    await runtime.unload();
    let firstText: () => void = () => undefined;
    const writing = new Promise<void>((resolve) => (firstText = resolve));
    // Long enough (800 tokens: most of a second here) that the unload and the status come while it writes.
    const long: GenerateRequest = { ...request("Once upon a time", 800), model: { ...request("").model, load: { context_size: 2048, gpu_layers: 0, threads: "auto" } } };
    const call = runtime.generate(long, { onText: () => firstText() });
    await writing;
    expect(await runtime.unload(modelPath)).toBe(1);
    // Still there, busy, while its call runs; the call is not cut short.
    expect((await runtime.status()).loaded).toMatchObject([{ path: modelPath, busy: 1, unloading: true }]);
    expect((await call).tokensOut).toBe(800);
    expect((await runtime.status()).loaded).toEqual([]);
    expect((await runtime.generate(request("C", 4))).load.loaded).toBe(true);
  });

  it("unloads a model asked to unload while it loads, once the call that loads it ends", async () => {
    await runtime.unload();
    let unloading: Promise<number> | undefined;
    // Asked as soon as the load reports progress: the worker is loading the model for this call.
    const call = runtime.generate(request("Once upon a time", 200), {
      onLoadProgress: (progress) => {
        if (progress < 1) unloading ??= runtime.unload(modelPath);
      },
    });
    const result = await call;
    expect(unloading).toBeDefined();
    expect(await unloading).toBe(1);
    // The call ran whole on the model it loaded; then the model went.
    expect(result).toMatchObject({ tokensOut: 200, load: { loaded: true } });
    expect((await runtime.status()).loaded).toEqual([]);
    expect((await runtime.generate(request("C", 4))).load.loaded).toBe(true);
  });

  it("cancels mid-stream quickly, and the next call works", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const call = runtime.generate(request("Once upon a time", 2000), { signal: controller.signal, onText: () => controller.abort() });
    await expect(call).rejects.toMatchObject({ code: "cancelled" });
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await runtime.generate(request("Once upon a time", 4))).tokensOut).toBe(4);
  });

  it("cancels calls whose signal aborts while a new worker starts, and calls waiting for a slot", async () => {
    const fresh = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, parallel: 1 });
    try {
      const controller = new AbortController();
      const started = performance.now();
      // Three calls, one slot: the first would load the model and write 1,000 tokens, the others wait.
      const calls = [1000, 1000, 1000].map((tokens) => fresh.generate(request("Once upon a time", tokens), { signal: controller.signal }));
      controller.abort();
      for (const call of calls) await expect(call).rejects.toMatchObject({ code: "cancelled" });
      expect(performance.now() - started).toBeLessThan(5000);
      // The next call works.
      expect((await fresh.generate(request("Once upon a time", 8))).tokensOut).toBe(8);
    } finally {
      await fresh.dispose();
    }
  });

  it("refuses a prompt longer than the context, with the values its message names", async () => {
    const error = (await runtime.generate(request("story ".repeat(400))).catch((caught: unknown) => caught)) as ProjectLlmError;
    expect(error).toMatchObject({ code: "context-overflow", details: { params: { context: 256, setting: "context_size" } } });
    const { tokens } = error.details!.params as { tokens: number };
    expect(tokens).toBeGreaterThan(256);
    expect(error.message).toBe(`the prompt has ${tokens} tokens, more than the context of 256: shorten the input or raise context_size`);
  });

  it("evaluates a prompt that nearly fills the context whole, never cutting its start", async () => {
    // node-llama-cpp keeps a tenth of the context free by cutting a prompt's start: 230 of these 256.
    const per = (await runtime.generate(request("river ".repeat(10), 1))).tokensIn / 10;
    const near = await runtime.generate(request(`Lake ${"river ".repeat(Math.floor(240 / per))}`, 4));
    expect(near.tokensIn).toBeGreaterThan(232);
    expect(near.tokensIn).toBeLessThan(254);
    expect(near.promptTokensEvaluated).toBe(near.tokensIn);
    expect(near.tokensOut).toBe(4);
  });

  it("survives a file that is not a model: the call fails, the parent lives, the next call works", async () => {
    const { dir, cleanup } = await tempDir();
    const bad = path.join(dir, "bad.gguf");
    await copyFile(modelPath, bad);
    await writeFile(bad, Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(4, 3), Buffer.alloc(64, 0xff)]));
    const error = await runtime.generate(request("x", 4, bad)).catch((caught: unknown) => caught);
    expect(ProjectLlmError.isInstance(error)).toBe(true);
    expect(["model-load-failed", "worker-crashed"]).toContain((error as ProjectLlmError).code);
    expect((await runtime.generate(request("Once upon a time", 4))).tokensOut).toBe(4);
    await cleanup();
  });

  it("fails a load that does not fit in memory with out-of-memory, naming the file; the next call works", async () => {
    // A real load that runs out of memory on the CPU: a context whose KV cache needs about 1.6 times this
    // machine's RAM and swap (node-llama-cpp estimates about 1.3 KB a token for this model, and refuses a
    // context past the free RAM and swap), which node-llama-cpp's estimate refuses before allocating
    // anything. (Its estimate takes longer the larger the context: 7-12 s here at this size, 18-20 s at a
    // context of as many tokens as twice the RAM's KiB.)
    const contextSize = Math.ceil((1.25 * (os.totalmem() + swapBytes())) / 1024);
    const huge: GenerateRequest = { ...request("Once upon a time", 4), model: { ...request("x").model, load: { context_size: contextSize, gpu_layers: 0, threads: 1 } } };
    const error = (await runtime.generate(huge).catch((caught: unknown) => caught)) as ProjectLlmError;
    expect(ProjectLlmError.isInstance(error)).toBe(true);
    expect(error.code).toBe("out-of-memory");
    expect(error.message).toContain(`cannot load ${modelPath}: A context size of ${contextSize} is too large for the available RAM`);
    expect((await runtime.generate(request("Once upon a time", 4))).tokensOut).toBe(4);
  });

  it("reads the GGUF's facts and estimates its memory", async () => {
    const facts = await runtime.inspect(modelPath, { contextSize: 2048, gpuLayers: "auto", threads: "auto" });
    expect(facts).toMatchObject({ architecture: "llama", hasChatTemplate: false, trainContextSize: 2048, gpuLayers: 0, threads: 1 });
    expect(facts.fileType).toMatch(/^(ALL_)?F32$/);
    expect(facts.parameters).toBeGreaterThan(200_000);
    expect(facts.memory.totalRam).toBeGreaterThan(facts.memory.modelRam);
  });

  it("keeps llama.cpp's simulated contexts in a file, where the next worker takes them from", async () => {
    const { dir, cleanup } = await tempDir("project-llm-estimates-");
    const file = path.join(dir, "memory-estimates", "contexts.json");
    const inspect = async () => {
      const fresh = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, estimatesFile: file });
      try {
        return await fresh.inspect(modelPath, { contextSize: 1024, gpuLayers: 0, threads: 1 });
      } finally {
        await fresh.dispose();
      }
    };
    try {
      const facts = await inspect();
      const stored = JSON.parse(readFileSync(file, "utf8")) as { version: number; entries: Record<string, [number, number, number]> };
      const keys = Object.keys(stored.entries);
      expect(keys.length).toBeGreaterThanOrEqual(1);
      expect(keys.every((key) => key.includes(modelPath))).toBe(true);
      // What the file says is what the next worker counts: a MiB more in each kept context.
      const mib = 1024 * 1024;
      for (const key of keys) stored.entries[key]![0] += mib;
      await writeFile(file, JSON.stringify(stored));
      const again = await inspect();
      expect([mib, 2 * mib]).toContain(again.resident.parts.context - facts.resident.parts.context);
    } finally {
      await cleanup();
    }
  });
});

describe("what a load repacks", () => {
  // The load's memory is read from Linux's /proc: elsewhere nothing is learned.
  it.runIf(process.platform === "linux")("is counted for the types this CPU's rule repacks (every type where it is not known) until this machine has loaded the file, then no more than that load measured, in this worker and the next", async () => {
    const { dir, cleanup } = await tempDir("project-llm-repack-");
    const estimatesFile = path.join(dir, "memory-estimates", "contexts.json");
    const options = { contextSize: 256, gpuLayers: 0, threads: 1 } as const;
    // The worker's rule (see repackedTypesOn): on an x86-64 CPU with AVX2 and no AMX it repacks Q4_0 and
    // never Q8_0; where it is not known, every type is counted.
    const rule = repackedTypesHere;
    const synthetic = repackedSyntheticHere();
    try {
      if (rule !== undefined && !rule.has(GgmlType.Q8_0)) {
        // A Q8_0 model on this CPU: nothing repacked, before any load; and its load, measured (every type it
        // may repack on some CPU is), finds the rule true: less than the whole share grew.
        const q8 = await writeSyntheticQ8(path.join(dir, "synthetic-q8.gguf"), syntheticShape);
        const probeEstimates = path.join(dir, "probe-estimates", "contexts.json");
        const probe = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, estimatesFile: probeEstimates });
        try {
          expect((await probe.inspect(q8, options)).resident.parts.repacked).toBe(0);
          await probe.generate({ ...request("The cat", 2, q8), model: { ...request("", 2, q8).model, load: { context_size: 256, gpu_layers: 0, threads: 1 } } });
          expect(probe.stats().estimatesChanged).toBe(1);
          const stored = JSON.parse(readFileSync(probeEstimates, "utf8")) as { entries: Record<string, [number, number, number]> };
          const measuredQ8 = Object.entries(stored.entries).find(([key]) => key.startsWith('["repacked"'))![1][0];
          const info = await readGgufFileInfo(q8);
          const whole = (info.fullTensorInfo ?? []).filter((tensor) => tensor.ggmlType === GgmlType.Q8_0 && !tensor.name.startsWith("token_embd")).reduce((sum, tensor) => sum + (tensor.dimensions.reduce<number>((product, dimension) => product * Number(dimension), 1) * 34) / 32, 0);
          expect(measuredQ8).toBeLessThan(whole / 2);
          // Counted from now on: what the load grew by, no more (the rule said none).
          expect((await probe.inspect(q8, options)).resident.parts.repacked).toBe(measuredQ8);
        } finally {
          await probe.dispose();
        }
      }
      // A CPU whose rule repacks neither (no AVX2): nothing to measure.
      if (!synthetic) return;
      const { quantization } = synthetic;
      const file = await writeSyntheticQ8(path.join(dir, `synthetic-${quantization}.gguf`), synthetic.shape, quantization);
      // Every matrix but the token embedding, at 34 (Q8_0) or 18 (Q4_0) bytes a block of 32 values.
      const info = await readGgufFileInfo(file);
      const repackable = (info.fullTensorInfo ?? [])
        .filter((tensor) => tensor.ggmlType === GgmlType[quantization] && !tensor.name.startsWith("token_embd"))
        .reduce((sum, tensor) => sum + (tensor.dimensions.reduce<number>((product, dimension) => product * Number(dimension), 1) * (quantization === "Q4_0" ? 18 : 34)) / 32, 0);
      expect(repackable).toBeGreaterThan(40 * 1024 * 1024);
      let learned: number;
      const first = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, estimatesFile });
      try {
        const before = await first.inspect(file, options);
        expect(before.resident.parts.repacked).toBe(repackable);
        expect(first.stats().estimatesChanged).toBe(0);
        // Random weights may write the end token: its 4 tokens are asked for whatever they are.
        const loaded = await first.generate({ ...request("Once upon a time", 4, file), params: { temperature: 0, max_tokens: 4, ignore_eos: true }, model: { ...request("", 4, file).model, load: { context_size: 256, gpu_layers: 0, threads: 1 } } });
        expect(loaded.load.loaded).toBe(true);
        expect(loaded.tokensOut).toBe(4);
        expect(first.stats().estimatesChanged).toBe(1);
        const after = await first.inspect(file, options);
        learned = after.resident.parts.repacked;
        // All of it where the load's anonymous memory grew by half of it or more (this CPU repacks the type);
        // else that growth and 32 MiB (it repacks none of it: the load adds a few MiB besides).
        expect(learned === repackable || (learned >= 32 * 1024 * 1024 && learned < repackable)).toBe(true);
        // Nothing else of the estimate changes.
        expect({ ...after.resident.parts, repacked: 0 }).toEqual({ ...before.resident.parts, repacked: 0 });
        if (learned < repackable) expect(after.resident.ram).toBeLessThan(before.resident.ram);
        // The pool counts the loaded model by it.
        expect((await first.status()).loaded.find((entry) => entry.path === file)?.memoryBytes).toBe(after.resident.ram);
        // A second load of the file learns nothing more.
        await first.unload();
        await first.generate({ ...request("The cat", 2, file), model: { ...request("", 2, file).model, load: { context_size: 256, gpu_layers: 0, threads: 1 } } });
        expect(first.stats().estimatesChanged).toBe(1);
      } finally {
        await first.dispose();
      }
      // Kept in the estimates' file, where the next worker takes it from: a value written there is what it counts.
      const stored = JSON.parse(readFileSync(estimatesFile, "utf8")) as { version: number; entries: Record<string, [number, number, number]> };
      const keys = Object.keys(stored.entries).filter((key) => key.startsWith('["repacked"'));
      expect(keys).toHaveLength(1);
      expect(stored.entries[keys[0]!]![0]).toBe(learned);
      stored.entries[keys[0]!]![0] = 12_345;
      await writeFile(estimatesFile, JSON.stringify(stored));
      const next = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, estimatesFile });
      try {
        expect((await next.inspect(file, options)).resident.parts.repacked).toBe(12_345);
      } finally {
        await next.dispose();
      }
    } finally {
      await cleanup();
    }
  });
});

describe("the model pool's limits", () => {
  it("unloads the least recently used model past the memory budget", async () => {
    const tight = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, memoryBudgetBytes: 1 });
    try {
      const small = (contextSize: number): GenerateRequest => ({ ...request("A", 2), model: { ...request("A").model, load: { context_size: contextSize, gpu_layers: 0, threads: 1 } } });
      await tight.generate(small(256));
      await tight.generate(small(512));
      const loaded = (await tight.status()).loaded;
      expect(loaded.map((entry) => entry.contextSize)).toEqual([512]);
      expect(loaded[0]!.memoryBytes).toBeGreaterThan(0);
      // On a CPU nothing is on a GPU: the plan credits no VRAM when it unloads the model.
      expect(loaded[0]!.vramBytes).toBe(0);
      expect(tight.stats().modelLoads).toBe(2);
    } finally {
      await tight.dispose();
    }
  });

  it("keeps at most max_loaded_models", async () => {
    const few = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, maxLoadedModels: 2 });
    try {
      for (const contextSize of [256, 512, 768]) await few.generate({ ...request("A", 2), model: { ...request("A").model, load: { context_size: contextSize, gpu_layers: 0, threads: 1 } } });
      expect((await few.status()).loaded.map((entry) => entry.contextSize).sort()).toEqual([512, 768]);
    } finally {
      await few.dispose();
    }
  });

  it("unloads a model left idle past idle_unload_seconds", async () => {
    const brief = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, idleUnloadSeconds: 1 });
    try {
      await brief.generate(request("A", 2));
      expect((await brief.status()).loaded).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect((await brief.status()).loaded).toHaveLength(0);
    } finally {
      await brief.dispose();
    }
  });
});

describe("where the worker runs", () => {
  /** The CPUs each thread of a process may run on, one list per thread. */
  const threadCpus = (pid: number) =>
    readdirSync(`/proc/${pid}/task`).map((thread) => parseCpuList(/^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(`/proc/${pid}/task/${thread}/status`, "utf8"))![1]!));
  const settle = async (pid: number, wanted: number[]) => {
    // Up to 5 s: the placement comes 0.1 s after the last call, in a process of its own, on a busy machine.
    for (let tries = 0; tries < 250 && !threadCpus(pid).every((cpus) => JSON.stringify(cpus) === JSON.stringify(wanted)); tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    return threadCpus(pid);
  };
  const allowed = allowedCpus();
  const placeable = allowed !== undefined && allowed.length >= 2 && findTaskset() !== undefined;

  it.runIf(placeable)("keeps a worker whose model computes on one thread to one core while it is loaded, and lets it go with the model; never with cpuAffinity false", async () => {
    const held = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, parallel: 1 });
    const free = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, parallel: 1, cpuAffinity: false });
    try {
      expect((await held.generate(request("Once upon a time", 8))).load.threads).toBe(1);
      const pid = held.stats().workerPid!;
      // Every thread of the worker, those node-llama-cpp made included, on one CPU (the one it was on).
      const onOneCpu = () => threadCpus(pid).every((cpus) => cpus?.length === 1 && cpus[0] === threadCpus(pid)[0]![0]);
      for (let tries = 0; tries < 250 && !onOneCpu(); tries++) await new Promise((resolve) => setTimeout(resolve, 20));
      const one = threadCpus(pid)[0]!;
      expect(one).toHaveLength(1);
      expect(allowed).toContain(one[0]);
      const threads = await settle(pid, one);
      expect(threads.length).toBeGreaterThan(3);
      expect(new Set(threads.map((cpus) => JSON.stringify(cpus)))).toEqual(new Set([JSON.stringify(one)]));
      // Still right on one core: the next call's answer is the first one's.
      expect((await held.generate(request("Once upon a time", 8))).text).toBe((await free.generate(request("Once upon a time", 8))).text);
      expect(new Set((await settle(held.stats().workerPid!, one)).map((cpus) => JSON.stringify(cpus)))).toEqual(new Set([JSON.stringify(one)]));
      expect(await held.unload()).toBe(1);
      expect(new Set((await settle(pid, allowed!)).map((cpus) => JSON.stringify(cpus)))).toEqual(new Set([JSON.stringify(allowed)]));
      // Turned off: the same model, and the worker stays where the system puts it, well past the 0.1 s
      // after which the other one was held (checked for half a second).
      const freePid = free.stats().workerPid!;
      for (let tries = 0; tries < 25; tries++) {
        expect(new Set(threadCpus(freePid).map((cpus) => JSON.stringify(cpus)))).toEqual(new Set([JSON.stringify(allowed)]));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await held.dispose();
      await free.dispose();
    }
  });
});

describe("KV prefix reuse", () => {
  it("evaluates only the new tokens of a prompt that extends the previous call's", async () => {
    const fresh = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, parallel: 1 });
    try {
      const first = await fresh.generate(request("Once upon a time", 24));
      expect(first.promptTokensEvaluated).toBe(first.tokensIn);
      // An input_plus_answer chain: the next prompt is this one, a blank line and the answer. It extends the
      // first call's whole prompt: only the tokens after it (give or take the one where the texts join) are evaluated.
      const secondPrompt = `Once upon a time\n\n${first.text}`;
      const second = await fresh.generate(request(secondPrompt, 24));
      const added = second.tokensIn - first.tokensIn;
      expect(added).toBeGreaterThan(10);
      expect(second.promptTokensEvaluated).toBeGreaterThan(0);
      expect(second.promptTokensEvaluated).toBeLessThanOrEqual(added + 1);
      // The same prompt again: at most its last token is evaluated (for the logits of the first new one).
      const again = await fresh.generate(request(secondPrompt, 24));
      expect(again.tokensIn).toBe(second.tokensIn);
      expect(again.promptTokensEvaluated).toBe(1);
      expect(again.text).toBe(second.text);
      // A prompt that shares the opening of a sequence but less than half of what it holds, and not its
      // whole last prompt, takes another sequence: the one it shares with keeps its tokens.
      const branch = await fresh.generate(request(`Once upon a time\n\n${first.text.slice(0, 12)} and then`, 8));
      expect(branch.promptTokensEvaluated).toBe(branch.tokensIn);
      const back = await fresh.generate(request(secondPrompt, 24));
      expect(back.promptTokensEvaluated).toBe(1);
      // A prompt that shares only the beginning-of-text token (not one of its tokens) is evaluated whole.
      const other = await fresh.generate(request("The cat", 8));
      expect(other.promptTokensEvaluated).toBe(other.tokensIn);
    } finally {
      await fresh.dispose();
    }
  });
});

describe("a loaded model's other sequences", () => {
  it("are made once the model is idle after a lone call, and while the first call runs when its run calls the model several times at once", async () => {
    const sequences = async (of: Runtime) => (await of.status()).loaded[0]?.sequences;
    const lone = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, parallel: 1 });
    try {
      await lone.generate(request("Once upon a time", 8));
      // The call had the load's one sequence alone: nothing was made beside it.
      expect(await sequences(lone)).toBe(1);
      const deadline = Date.now() + 10_000;
      while ((await sequences(lone)) === 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(await sequences(lone)).toBeGreaterThan(1);
    } finally {
      await lone.dispose();
    }
    const ahead = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, parallel: 1 });
    try {
      // A run that may call this model several times at once: its sequences are made while the first call runs.
      await ahead.generate({ ...request("Once upon a time", 200), runTogether: 3 });
      expect(await sequences(ahead)).toBeGreaterThan(1);
    } finally {
      await ahead.dispose();
    }
  });
});

describe("batching", () => {
  it("decodes the calls on one model together in one batch beyond `parallel`, with the answers of one at a time", async () => {
    const prompts = ["Once upon a time", "Once upon a time", "The little dog"];
    // Which call wrote text when, against when each ended: batched calls all start before any ends.
    const run = async (batch: number | false, memoryBudgetBytes?: number, together?: number) => {
      const fresh = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, parallel: 1, batch, ...(memoryBudgetBytes ? { memoryBudgetBytes } : {}) });
      try {
        const order: string[] = [];
        const results = await Promise.all(
          prompts.map((prompt, index) => {
            let first = true;
            return fresh
              .generate({ ...request(prompt, 48), ...(together ? { together } : {}) }, {
                onText: () => {
                  if (first) order.push(`first ${index}`);
                  first = false;
                },
              })
              .then((result) => {
                order.push(`end ${index}`);
                return result;
              });
          }),
        );
        return { order, texts: results.map((result) => result.text) };
      } finally {
        await fresh.dispose();
      }
    };
    const alone = await run(false);
    // A batch whose KV caches would not fit in the memory budget gets one sequence: the calls take turns on it.
    const cramped = await run(3, 1);
    expect(cramped.order).toEqual(alone.order);
    expect(cramped.texts).toEqual(alone.texts);
    expect(alone.order).toEqual(["first 0", "end 0", "first 1", "end 1", "first 2", "end 2"]);
    const batched = await run(3);
    expect(batched.order.slice(0, 3).sort()).toEqual(["first 0", "first 1", "first 2"]);
    expect(batched.texts).toEqual(alone.texts);
    // Made together (a multi stage's models), the calls all take sequences of the extra context, and batch.
    const together = await run(3, undefined, 3);
    expect(together.order.slice(0, 3).sort()).toEqual(["first 0", "first 1", "first 2"]);
    expect(together.texts).toEqual(alone.texts);
  });

  it("decodes a multi stage's four models in one batch by default, the first of them reusing what a call alone left", async () => {
    const fresh = createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, parallel: 1 });
    try {
      // The load's first call; then a draft, whose sequence a batch after it can find.
      await fresh.generate(request("The cat", 4));
      const draft = await fresh.generate(request("Once upon a time", 24));
      const prompt = `Once upon a time${draft.text}`;
      const order: string[] = [];
      const results = await Promise.all(
        [0, 1, 2, 3].map((index) => {
          let first = true;
          return fresh
            .generate(
              { ...request(prompt, 24), params: { ...request(prompt, 24).params, temperature: 0.8, seed: index + 1 }, together: 4 },
              {
                onText: () => {
                  if (first) order.push("first");
                  first = false;
                },
              },
            )
            .then((result) => {
              order.push("end");
              return result;
            });
        }),
      );
      // A batch of four: every call writes before any ends.
      expect(order.slice(0, 4)).toEqual(["first", "first", "first", "first"]);
      // One of them takes the draft's sequence and evaluates only the draft's answer's tokens; the others theirs whole.
      const evaluated = results.map((result) => result.promptTokensEvaluated!).sort((a, b) => a - b);
      expect(evaluated[0]).toBeLessThan(results[0]!.tokensIn / 2);
      expect(evaluated.slice(1)).toEqual([results[0]!.tokensIn, results[0]!.tokensIn, results[0]!.tokensIn]);
    } finally {
      await fresh.dispose();
    }
  });
});

describe("batch: auto", () => {
  it("times a multi stage's calls each way in turn, then takes the faster by pairs of groups, and keeps the figures for the next runtime", async () => {
    const { dir, cleanup } = await tempDir();
    const batchFile = path.join(dir, "batching.json");
    const make = () => createRuntime({ workerPath: path.resolve("dist/runtime/worker.js"), gpu: false, parallel: 1, batchFile });
    const fresh = make();
    /** A multi stage's three calls on one model: which wrote first and which ended, in order. */
    const group = async (name: string) => {
      const order: string[] = [];
      await Promise.all(
        [0, 1, 2].map((index) => {
          let first = true;
          const call = request("Once upon a time", 24);
          return fresh
            .generate(
              { ...call, params: { ...call.params, temperature: 0.8, seed: index + 1 }, together: 3, group: name },
              {
                onText: () => {
                  if (first) order.push("first");
                  first = false;
                },
              },
            )
            .then(() => order.push("end"));
        }),
      );
      return order;
    };
    const oneAtATime = ["first", "end", "first", "end", "first", "end"];
    const wayOf = (order: string[]): BatchWay => (order.join() === oneAtATime.join() ? "one-at-a-time" : "batched");
    const figures = () => fresh.batchFigures(request("x", 1));
    try {
      // The load's call: a group that loads the model would say nothing of either way.
      await fresh.generate(request("The cat", 2));
      // A model's first batch in a worker costs more than the next: not counted.
      const ways = [wayOf(await group("warm"))];
      expect(figures()).toMatchObject({ ratios: [], next: "batched" });
      // Then each way in turn: each group next to one the other way makes a pair.
      for (let index = 0; index <= firstPairs; index++) ways.push(wayOf(await group(`group ${index}`)));
      expect(ways).toEqual(["batched", "batched", "one-at-a-time", "batched", "one-at-a-time"]);
      const measured = figures();
      expect(measured.ratios).toHaveLength(firstPairs);
      const faster = [...measured.ratios].sort((a, b) => a - b)[1]! >= 1 ? "batched" : "one-at-a-time";
      expect(measured.next).toBe(faster);
      expect(wayOf(await group("chosen"))).toBe(faster);
    } finally {
      await fresh.dispose();
    }
    try {
      // A new runtime (a restarted studio) starts from what was measured.
      const next = make().batchFigures(request("x", 1));
      expect(next.ratios.length).toBeGreaterThanOrEqual(firstPairs);
    } finally {
      await cleanup();
    }
  });
});

describe("ignore_eos", () => {
  it("writes exactly max_tokens tokens where the model would stop at its end token", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = await writeStoriesWithEndToken(path.join(dir, "stories-eos1.gguf"));
      const call = (ignoreEos: boolean): GenerateRequest => ({
        model: { name: "stories-eos1", path: file, load: { context_size: 512, gpu_layers: 0, threads: "auto" } },
        prompt: "The cat",
        params: { temperature: 0, max_tokens: 400, ignore_eos: ignoreEos },
      });
      const stopping = await runtime.generate(call(false));
      expect(stopping.stopReason).toBe("eos");
      expect(stopping.tokensOut).toBeLessThan(400);
      const ignoring = await runtime.generate(call(true));
      expect(ignoring).toMatchObject({ stopReason: "max-tokens", tokensOut: 400 });
      // The same greedy text up to where the end token came.
      expect(ignoring.text.startsWith(stopping.text.trimEnd())).toBe(true);
      // A stop string still ends it.
      const stopped = await runtime.generate({ ...call(true), params: { ...call(true).params, stop: ["."] } });
      expect(stopped.stopReason).toBe("stop-string");
      expect(stopped.tokensOut).toBeLessThan(400);
    } finally {
      await cleanup();
    }
  });

  it("writes max_tokens on the chat path too, where a seeded call would stop at the end token", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const chatModel = path.join(dir, "stories-eos1-chat.gguf");
      await writeGgufWithChatTemplate(await writeStoriesWithEndToken(path.join(dir, "stories-eos1.gguf")), chatModel);
      const call = (seed: number, ignoreEos: boolean): GenerateRequest => ({
        model: { name: "stories-eos1-chat", path: chatModel, load: { context_size: 512, gpu_layers: 0, threads: 1 } },
        prompt: "The cat",
        params: { temperature: 0.8, seed, repeat_penalty: 1.1, max_tokens: 400, ignore_eos: ignoreEos },
      });
      // Greedy, the template's markers keep the tiny model from ending a story: some seeds do.
      let seed = 1;
      let stopping = await runtime.generate(call(seed, false));
      while (stopping.stopReason !== "eos" && seed < 8) stopping = await runtime.generate(call(++seed, false));
      expect(stopping).toMatchObject({ chat: true, stopReason: "eos" });
      expect(stopping.tokensOut).toBeLessThan(400);
      expect(await runtime.generate(call(seed, true))).toMatchObject({ chat: true, stopReason: "max-tokens", tokensOut: 400 });
    } finally {
      await cleanup();
    }
  });
});
