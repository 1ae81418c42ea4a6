#!/usr/bin/env node
// What the OpenAI-compatible API costs over the plain one (not a test): `npm run bench:openai`, against a
// studio that runs (`BENCH_URL`, default http://127.0.0.1:3000, access control off, with the example
// models). Interleaved rounds of the same model call, 64 tokens at temperature 0 on `storyteller`:
//   openai: a streamed chat completion through the official `openai` client;
//   plain:  POST /api/runs with the same one-stage pipeline, then its event stream until `run-end`.
// Both ask not to be served from the stage cache (`cache: false`): a repeated greedy call would otherwise
// be a cache hit, and the bench would measure the cache instead of the model's generation.
// Prints the medians of the time to the first text and to the end; BENCHMARKS.md keeps the figures.
import OpenAI from "openai";

const base = process.env.BENCH_URL ?? "http://127.0.0.1:3000";
const rounds = Number(process.env.BENCH_REPEATS ?? 20);
const model = process.env.BENCH_MODEL ?? "storyteller";
const maxTokens = 64;
const input = "Once upon a time";
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0 });

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};

async function viaOpenAi() {
  const start = performance.now();
  let first;
  let tokens = 0;
  let cached = 0;
  const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: input }], max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true }, cache: false });
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta.content) first ??= performance.now() - start;
    if (chunk.usage) {
      tokens = chunk.usage.completion_tokens;
      cached = chunk.usage.completion_tokens_details?.cached_tokens ?? 0;
    }
  }
  if (cached !== 0) throw new Error(`the openai call was served from the stage cache (${cached} tokens): the studio ignored cache: false`);
  return { first, total: performance.now() - start, tokens };
}

async function viaPlainApi() {
  const start = performance.now();
  const pipeline = { stages: [{ id: "chat", type: "single", model, params: { max_tokens: maxTokens, temperature: 0 } }] };
  const started = await fetch(`${base}/api/runs`, { method: "POST", headers: { "content-type": "application/json", connection: "close" }, body: JSON.stringify({ pipeline, input, cache: false }) });
  if (started.status !== 202) throw new Error(`POST /api/runs answered ${started.status}: ${await started.text()}`);
  const { id } = await started.json();
  const events = await fetch(`${base}/api/runs/${id}/events`, { headers: { connection: "close" } });
  const decoder = new TextDecoder();
  let buffered = "";
  let first;
  let tokens = 0;
  for await (const bytes of events.body) {
    buffered += decoder.decode(bytes, { stream: true });
    if (first === undefined && buffered.includes("event: stage-delta")) first = performance.now() - start;
    const end = /event: stage-end\ndata: (.*)\n/.exec(buffered);
    if (end) {
      const stageEnd = JSON.parse(end[1]);
      if (stageEnd.cached) throw new Error("the plain run was served from the stage cache: the studio ignored cache: false");
      tokens = stageEnd.metrics.tokensOut;
    }
    if (buffered.includes("event: run-end")) break;
  }
  return { first, total: performance.now() - start, tokens };
}

const results = { openai: [], plain: [] };
// One warm-up of each (the worker starts and loads the model), not counted.
await viaOpenAi();
await viaPlainApi();
for (let round = 0; round < rounds; round++) {
  // Alternate which goes first, so that neither always follows the other.
  const order = round % 2 ? [["plain", viaPlainApi], ["openai", viaOpenAi]] : [["openai", viaOpenAi], ["plain", viaPlainApi]];
  for (const [name, run] of order) results[name].push(await run());
}
const row = (name) => {
  const runs = results[name];
  return `| ${name} | ${median(runs.map((run) => run.first)).toFixed(1)} | ${median(runs.map((run) => run.total)).toFixed(1)} | ${median(runs.map((run) => run.tokens))} |`;
};
console.log(`${rounds} interleaved rounds, ${model}, ${maxTokens} tokens at temperature 0, against ${base}\n`);
console.log("| API | first text, ms (median) | whole call, ms (median) | tokens |\n|---|---|---|---|");
console.log(row("openai"));
console.log(row("plain"));
console.log(`\nopenai / plain, whole call: ${(median(results.openai.map((run) => run.total)) / median(results.plain.map((run) => run.total))).toFixed(3)}`);
