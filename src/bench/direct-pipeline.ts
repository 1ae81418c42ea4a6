/**
 * The baseline of the pipeline benchmark: a direct node-llama-cpp script that makes a pipeline's model
 * calls one after another, with the prompts the engine rendered, each call's sampling parameters and
 * token count, in a process of its own. It loads the model once, keeps one context and one sequence (as
 * a careful hand-written script would: LlamaCompletion then reuses the sequence's matching prefix), and
 * makes each run's calls in turn. It prints one JSON line per run: the first (the cold run) at once, each
 * later one when a line comes on its stdin (the benchmark interleaves them with the engine's runs).
 * Its generation options come from the worker's own mapping (`samplingOptions`): the same calls, not a copy.
 * Usage: node dist/bench/direct-pipeline.js FILE.json (see `DirectPipelineJob`)
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { getLlama, LlamaCompletion, LlamaLogLevel, type Token } from "node-llama-cpp";
import { samplingOptions } from "../runtime/sampling.js";

/** One model call, as the engine made it (its rendered prompt and resolved parameters). */
export interface DirectCall {
  stageId: string;
  prompt: string;
  params: {
    max_tokens: number;
    temperature: number;
    top_k?: number;
    top_p?: number;
    min_p?: number;
    seed?: number;
    repeat_penalty?: number;
    stop?: string[];
    ignore_eos?: boolean;
  };
}

export interface DirectPipelineJob {
  modelPath: string;
  /**
   * `getLlama`'s `gpu`, as the studio's `runtime.gpu` has it (`auto` looks for a GPU's backend first: ~12 ms
   * more of a cold start here than `false`), and the layers the engine put on it.
   */
  gpu: "auto" | false | "cuda" | "vulkan" | "metal";
  gpuLayers: number;
  threads: number;
  contextSize: number;
  /** Each run's calls, in order (the first run is the cold one). */
  runs: DirectCall[][];
}

/** One call's figures: from its start to its first token, from the first token to the last, and in all. */
export interface CallTiming {
  stageId: string;
  /** Why the call stopped, as the engine names it: `max-tokens`, `eos`, `stop-string`, `other`. */
  stopReason: string;
  /** The prompt's tokens (as the worker counts them: without the beginning-of-text token). */
  promptTokens: number;
  timeToFirstTokenMs: number;
  decodeMs: number;
  wallMs: number;
  tokensOut: number;
}

export interface DirectRunReport {
  run: number;
  wallMs: number;
  loadMs: number;
  calls: CallTiming[];
}

const job = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as DirectPipelineJob;
const loadStart = performance.now();
const llama = await getLlama({ gpu: job.gpu, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: job.modelPath, gpuLayers: job.gpuLayers });
const context = await model.createContext({ contextSize: job.contextSize, threads: job.threads });
const sequence = context.getSequence();
const completion = new LlamaCompletion({ contextSequence: sequence });
const loadMs = performance.now() - loadStart;

const asked = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
for (const [run, runCalls] of job.runs.entries()) {
  if (run > 0 && (await asked.next()).done) break;
  const runStart = performance.now();
  const calls: CallTiming[] = [];
  for (const call of runCalls) {
    const start = performance.now();
    let firstTokenAt: number | undefined;
    let lastTokenAt = start;
    let tokensOut = 0;
    const { metadata } = await completion.generateCompletionWithMeta(call.prompt, {
      ...samplingOptions(call.params, model),
      onToken: (tokens: Token[]) => {
        const now = performance.now();
        firstTokenAt ??= now;
        lastTokenAt = now;
        tokensOut += tokens.length;
      },
    });
    const end = performance.now();
    calls.push({
      stageId: call.stageId,
      promptTokens: model.tokenize(call.prompt, false, "trimLeadingSpace").length,
      stopReason: metadata.stopReason === "maxTokens" ? "max-tokens" : metadata.stopReason === "eogToken" ? "eos" : metadata.stopReason === "customStopTrigger" ? "stop-string" : "other",
      timeToFirstTokenMs: (firstTokenAt ?? end) - start,
      decodeMs: lastTokenAt - (firstTokenAt ?? lastTokenAt),
      wallMs: end - start,
      tokensOut,
    });
  }
  const end = performance.now();
  const report: DirectRunReport = { run, wallMs: end - runStart, loadMs: run === 0 ? loadMs : 0, calls };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
await context.dispose();
await model.dispose();
await llama.dispose();
process.exit(0);
