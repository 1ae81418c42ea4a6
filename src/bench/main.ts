/**
 * `npm run bench [-- [--pipeline] [--batch] [--decode] MODEL.gguf ...]`: the parts named (all when none
 * is): the pipeline part (see pipeline.ts), batching (see batch.ts), and the decode part: decode speed through the engine against a minimal direct
 * node-llama-cpp script, the runtime's own thread choice against the best measured, model loads across
 * runs of a three-stage pipeline, and the plan's memory estimate against the worker's measured growth
 * (src/bench/memory.ts; `BENCH_ONLY=memory` measures that alone). Models come from the arguments, else every .gguf in PROJECT_LLM_MODELS_DIR (or
 * PROJECT_LLM_TEST_MODELS, or ./models). Prints a Markdown report and writes it as JSON to
 * bench-results/latest.json. Not a test: figures go in BENCHMARKS.md.
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Pipeline } from "../config/index.js";
import { runPipeline, type RunEvent } from "../engine/index.js";
import { createRuntime, type Runtime } from "../runtime/index.js";
import { batchReport, benchBatch, type BatchBenchResult } from "./batch.js";
import { benchPipeline, directCpu, pipelineReport, type PipelineBenchResult } from "./pipeline.js";
import { measureMemory, type MemoryFigures } from "./memory.js";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside";
const repeats = Number(process.env.BENCH_REPEATS ?? 5);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function directRun(modelPath: string, threads: number, maxTokens: number): Promise<number> {
  const { stdout } = await run(process.execPath, [path.join(here, "direct-decode.js"), JSON.stringify({ modelPath, threads, prompt, maxTokens })], {
    env: { ...process.env, NODE_OPTIONS: "" },
    maxBuffer: 1 << 20,
  });
  const line = stdout.trim().split("\n").pop()!;
  return (JSON.parse(line) as { decodeTokensPerSecond: number }).decodeTokensPerSecond;
}

async function throughEngine(runtime: Runtime, modelPath: string, threads: "auto" | number, maxTokens: number): Promise<{ tokensPerSecond: number; threads: number }> {
  const pipeline: Pipeline = { stages: [{ id: "decode", type: "single", model: "m", params: {}, output_mode: "answer_only" }] };
  let end: Extract<RunEvent, { type: "stage-end" }> | undefined;
  const result = await runPipeline({
    runId: "bench",
    pipeline,
    pipelineName: "bench",
    input: prompt,
    port: runtime,
    resolveModel: (name) => ({ name, path: modelPath, load: { context_size: 2048, gpu_layers: 0, threads } }),
    resolveParams: () => ({ temperature: 0, max_tokens: maxTokens }),
    onEvent: (event) => {
      if (event.type === "stage-end") end = event;
    },
  });
  if (result.status !== "completed" || !end) throw new Error(`bench run ${result.status}: ${result.error?.message}`);
  return { tokensPerSecond: end.models[0]!.metrics.tokensPerSecond, threads: end.models[0]!.load!.threads };
}

/**
 * The direct script and the engine are measured in turns, each thread count in every round, so that
 * the machine's drift hits both alike; the figure kept is the best of the rounds (noise only slows a run
 * down, so the best is the closest to what each can do).
 */
async function benchModel(modelPath: string) {
  const size = (await stat(modelPath)).size;
  // Enough tokens for a steady rate, few enough to finish in seconds on a large model.
  const maxTokens = size > 64 * 1024 * 1024 ? 192 : 400;
  const cores = os.availableParallelism();
  const threadCounts = Array.from({ length: cores }, (_, index) => index + 1);
  const runtime = createRuntime({ workerPath: path.join(here, "..", "runtime", "worker.js"), gpu: false, idleUnloadSeconds: 0, maxLoadedModels: cores + 1 });
  const warm = await throughEngine(runtime, modelPath, "auto", 8);
  for (const threads of threadCounts) await throughEngine(runtime, modelPath, threads, 8);

  const direct: Record<number, number[]> = {};
  const engine: Record<number, number[]> = {};
  const auto: number[] = [];
  for (let round = 0; round < repeats; round++) {
    for (const threads of threadCounts) {
      (direct[threads] ??= []).push(await directRun(modelPath, threads, maxTokens));
      (engine[threads] ??= []).push((await throughEngine(runtime, modelPath, threads, maxTokens)).tokensPerSecond);
    }
    auto.push((await throughEngine(runtime, modelPath, "auto", maxTokens)).tokensPerSecond);
  }
  await runtime.dispose();

  const best = (values: number[]) => Math.max(...values);
  const directBest = Object.fromEntries(threadCounts.map((threads) => [threads, best(direct[threads]!)]));
  const bestThreads = threadCounts.reduce((chosen, threads) => (directBest[threads]! > directBest[chosen]! ? threads : chosen), 1);
  const bestDirect = directBest[bestThreads]!;
  const engineAtBest = best(engine[bestThreads]!);
  return {
    model: path.basename(modelPath),
    sizeBytes: size,
    maxTokens,
    directByThreads: directBest,
    directMedianByThreads: Object.fromEntries(threadCounts.map((threads) => [threads, median(direct[threads]!)])),
    engineByThreads: Object.fromEntries(threadCounts.map((threads) => [threads, best(engine[threads]!)])),
    engineMedianByThreads: Object.fromEntries(threadCounts.map((threads) => [threads, median(engine[threads]!)])),
    engineMedianRatio: median(engine[bestThreads]!) / median(direct[bestThreads]!),
    autoMedianRatio: median(auto) / Math.max(...threadCounts.map((threads) => median(direct[threads]!))),
    samples: { direct, engine, auto },
    bestThreads,
    bestDirect,
    engine: engineAtBest,
    engineRatio: engineAtBest / bestDirect,
    autoThreads: warm.threads,
    auto: best(auto),
    autoRatio: best(auto) / bestDirect,
  };
}

async function loadsAcrossRuns(modelPath: string) {
  const runtime = createRuntime({ workerPath: path.join(here, "..", "runtime", "worker.js"), gpu: false });
  const pipeline: Pipeline = {
    stages: [
      { id: "a", type: "single", model: "m", params: {}, output_mode: "answer_only" },
      { id: "b", type: "single", model: "m", input_from: "a", params: {}, output_mode: "answer_only" },
      { id: "c", type: "single", model: "m", input_from: "b", params: {}, output_mode: "answer_only" },
    ],
  };
  const loads: number[] = [];
  for (let index = 0; index < 2; index++) {
    const before = runtime.stats().modelLoads;
    await runPipeline({
      runId: `loads-${index}`,
      pipeline,
      pipelineName: "bench",
      input: prompt,
      port: runtime,
      resolveModel: (name) => ({ name, path: modelPath, load: { context_size: 2048, gpu_layers: 0, threads: "auto" } }),
      resolveParams: () => ({ temperature: 0, max_tokens: 16 }),
      onEvent: () => undefined,
    });
    loads.push(runtime.stats().modelLoads - before);
  }
  await runtime.dispose();
  return { firstRun: loads[0]!, secondRun: loads[1]! };
}

async function modelFiles(args: string[]): Promise<string[]> {
  if (args.length > 0) return args.map((file) => path.resolve(file));
  const dir = path.resolve(process.env.PROJECT_LLM_MODELS_DIR ?? process.env.PROJECT_LLM_TEST_MODELS ?? "models");
  return (await readdir(dir)).filter((name) => name.endsWith(".gguf")).map((name) => path.join(dir, name));
}

const args = process.argv.slice(2);
const named = ["--pipeline", "--batch", "--decode"].filter((flag) => args.includes(flag));
// `BENCH_ONLY=memory`: the memory figures alone (the decode part's first step).
const all = named.length === 0 && process.env.BENCH_ONLY !== "memory";
const parts = { pipeline: all || named.includes("--pipeline"), batch: all || named.includes("--batch"), decode: all || named.includes("--decode") || process.env.BENCH_ONLY === "memory" };
const files = await modelFiles(args.filter((arg) => !arg.startsWith("--")));
if (files.length === 0) {
  console.error("bench: no .gguf files: give them as arguments or set PROJECT_LLM_MODELS_DIR");
  process.exit(2);
}
await mkdir("bench-results", { recursive: true });

/**
 * `rounds` (default): each side makes its runs of a round in a row; `runs` (`BENCH_INTERLEAVE=runs`): both
 * processes stay up and the warm runs alternate one by one (see `benchPipeline`).
 */
const interleave = process.env.BENCH_INTERLEAVE === "runs" ? "runs" : "rounds";

/** Unmeasured runs after the cold one (see `warmupInputs`); a large model's tokens dwarf the compiler's warm-up. */
const defaultWarmupRuns = (large: boolean) => (large ? 1 : 6);

if (parts.pipeline) {
  // Rounds of one cold, `BENCH_WARMUP_RUNS` unmeasured and `BENCH_WARM_RUNS` measured warm runs a side; the model's size sets how many fit in minutes.
  const pipelineResults: PipelineBenchResult[] = [];
  for (const file of files) {
    const large = (await stat(file)).size > 64 * 1024 * 1024;
    // An even number: each side's process is made first in as many rounds as the other's (see `orderBalanced`).
    const rounds = Number(process.env.BENCH_PIPELINE_ROUNDS ?? (large ? 4 : 6));
    const warmRuns = Number(process.env.BENCH_WARM_RUNS ?? (large ? 2 : 3));
    const warmupRuns = Number(process.env.BENCH_WARMUP_RUNS ?? defaultWarmupRuns(large));
    const chosen = (process.env.BENCH_PIPELINES ?? "chain,demo").split(",");
    for (const pipeline of (["chain", "demo"] as const).filter((name) => chosen.includes(name))) {
      console.error(`bench: pipeline ${pipeline} on ${path.basename(file)} …`);
      pipelineResults.push(await benchPipeline(file, pipeline, rounds, warmRuns, warmupRuns, interleave));
    }
  }
  const warmupLabel = process.env.BENCH_WARMUP_RUNS !== undefined ? `${process.env.BENCH_WARMUP_RUNS} unmeasured warm-up runs a side` : `${defaultWarmupRuns(false)} unmeasured warm-up runs a side (${defaultWarmupRuns(true)} on models of 64 MiB or more)`;
  console.log(
    [
      `Pipelines. Machine: ${os.cpus()[0]?.model ?? "cpu"}, ${os.availableParallelism()} cores, load average ${os.loadavg().map((value) => value.toFixed(2)).join(" ")}, Node ${process.version}. Time: the run's wall time (warm: the worker up and the model loaded, after ${warmupLabel}, interleaved by ${interleave}; cold: from a fresh worker or process to the run's end (the script's: its report received), the load included).${directCpu() === undefined ? "" : ` The direct script held to CPU ${directCpu()} (BENCH_DIRECT_CPU).`}`,
      "",
      ...pipelineReport(pipelineResults),
      "",
    ].join("\n"),
  );
  await writeFile(path.join("bench-results", "pipeline.json"), JSON.stringify({ at: new Date().toISOString(), results: pipelineResults }, null, 2));
}
if (parts.batch) {
  const batchResults: BatchBenchResult[] = [];
  for (const file of files) {
    const large = (await stat(file)).size > 64 * 1024 * 1024;
    console.error(`bench: batching on ${path.basename(file)} …`);
    batchResults.push(await benchBatch(file, Number(process.env.BENCH_BATCH_SEQUENCES ?? 3), large ? 32 : 64, Number(process.env.BENCH_BATCH_ROUNDS ?? 3)));
  }
  console.log(
    [
      `Batching: K generations from one prompt on one loaded model, one at a time against one batch. Load average ${os.loadavg().map((value) => value.toFixed(2)).join(" ")}.`,
      "",
      ...batchReport(batchResults),
      "",
    ].join("\n"),
  );
  await writeFile(path.join("bench-results", "batch.json"), JSON.stringify({ at: new Date().toISOString(), results: batchResults }, null, 2));
}
if (!parts.decode) process.exit(0);

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const memory: MemoryFigures[] = [];
for (const file of files) {
  console.error(`bench: memory of ${path.basename(file)} …`);
  memory.push(await measureMemory(file, path.join(here, "..", "runtime", "worker.js"), prompt));
}
const memoryLines = [
  "Memory: the plan's estimate against the worker's peak growth (VmHWM over VmRSS before) when the model is loaded and run (context 2048).",
  "",
  "| model | the plan | estimate (weights + repacked + context + allowance, +10%) | node-llama-cpp's estimate | growth: 8 tokens | growth: long prompt | estimate over the larger |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...memory.flatMap((first) =>
    [first, first.loaded!].map(
      (figures, index) =>
        `| ${figures.model} | ${index === 0 ? "before its first load here" : "once loaded here"} | ${mib(figures.estimate)} (${Object.values(figures.parts).map((bytes) => mib(bytes)).join(" + ")}) | ${mib(figures.libraryEstimate)} | ${mib(figures.growthShort)} | ${mib(figures.growthLong)} | ${figures.over >= 0 ? "+" : ""}${(figures.over * 100).toFixed(1)}% |`,
    ),
  ),
];
if (process.env.BENCH_ONLY === "memory") {
  console.log(memoryLines.join("\n"));
  process.exit(0);
}
const results = [];
for (const file of files) {
  console.error(`bench: ${path.basename(file)} …`);
  results.push(await benchModel(file));
}
const loads = await loadsAcrossRuns(files[0]!);

const lines = [
  `Machine: ${os.cpus()[0]?.model ?? "cpu"}, ${os.availableParallelism()} cores, ${mib(os.totalmem())} RAM, Node ${process.version}; best of ${repeats} interleaved rounds.`,
  "",
  "| model | size | tokens | direct tok/s by threads | engine tok/s by threads | best threads | engine / direct at best | auto threads | auto tok/s | auto / best |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ...results.map(
    (result) =>
      `| ${result.model} | ${mib(result.sizeBytes)} | ${result.maxTokens} | ${Object.entries(result.directByThreads)
        .map(([threads, rate]) => `${threads}: ${rate.toFixed(1)}`)
        .join(", ")} | ${Object.entries(result.engineByThreads)
        .map(([threads, rate]) => `${threads}: ${rate.toFixed(1)}`)
        .join(", ")} | ${result.bestThreads} | ${result.engineRatio.toFixed(3)} | ${result.autoThreads} | ${result.auto.toFixed(1)} | ${result.autoRatio.toFixed(3)} |`,
  ),
  "",
  "Medians (the same rounds): " +
    results
      .map(
        (result) =>
          `${result.model}: direct ${Object.entries(result.directMedianByThreads)
            .map(([threads, rate]) => `${threads}t ${rate.toFixed(1)}`)
            .join(", ")}; engine ${Object.entries(result.engineMedianByThreads)
            .map(([threads, rate]) => `${threads}t ${rate.toFixed(1)}`)
            .join(", ")}; engine / direct at best threads ${result.engineMedianRatio.toFixed(3)}; auto / best ${result.autoMedianRatio.toFixed(3)}`,
      )
      .join(". ") +
    ".",
  "",
  `Three-stage pipeline on one model (${path.basename(files[0]!)}): model loads on the first run ${loads.firstRun}, on the second ${loads.secondRun}.`,
  "",
  ...memoryLines,
];
console.log(lines.join("\n"));
await mkdir("bench-results", { recursive: true });
await writeFile(path.join("bench-results", "latest.json"), JSON.stringify({ at: new Date().toISOString(), results, loads, memory }, null, 2));
