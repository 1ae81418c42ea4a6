/**
 * The baseline of the decode benchmark: the smallest direct node-llama-cpp script that generates
 * `maxTokens` tokens from a prompt, in a process of its own. It prints one JSON line of figures.
 * Usage: node dist/bench/direct-decode.js '{"modelPath": "...", "threads": 1, "prompt": "...", "maxTokens": 256}'
 */
import { getLlama, LlamaCompletion } from "node-llama-cpp";

interface DirectOptions {
  modelPath: string;
  threads: number;
  prompt: string;
  maxTokens: number;
  contextSize?: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as DirectOptions;
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never });
const loadStart = performance.now();
const model = await llama.loadModel({ modelPath: options.modelPath, gpuLayers: 0 });
const context = await model.createContext({ contextSize: options.contextSize ?? 2048, threads: options.threads });
const loadMs = performance.now() - loadStart;
const completion = new LlamaCompletion({ contextSequence: context.getSequence() });

const start = performance.now();
let firstTokenAt: number | undefined;
let lastTokenAt = start;
let tokens = 0;
await completion.generateCompletion(options.prompt, {
  maxTokens: options.maxTokens,
  temperature: 0,
  onToken: (chunk) => {
    const now = performance.now();
    firstTokenAt ??= now;
    lastTokenAt = now;
    tokens += chunk.length;
  },
});
const decodeSeconds = (lastTokenAt - (firstTokenAt ?? start)) / 1000;
process.stdout.write(
  `${JSON.stringify({
    threads: options.threads,
    tokens,
    loadMs,
    timeToFirstTokenMs: (firstTokenAt ?? start) - start,
    // Tokens after the first, over the time from the first to the last: the decode rate alone.
    decodeTokensPerSecond: tokens > 1 ? (tokens - 1) / decodeSeconds : 0,
  })}\n`,
);
await context.dispose();
await model.dispose();
await llama.dispose();
