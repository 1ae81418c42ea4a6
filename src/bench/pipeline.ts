/**
 * The pipeline part of `npm run bench`: whole pipelines run through the studio's own path (a `Studio`
 * with its file session store writing to a temp folder, so session files, checkpoints and their fsyncs
 * count) against a direct node-llama-cpp script (`direct-pipeline.ts`) making the same calls: the prompts
 * the engine rendered, each call's sampling parameters and token count, the same threads. Engine and
 * script take turns, round by round, so that the machine's drift hits both alike.
 *
 * Equal work is forced and checked: every call runs with `ignore_eos` (no end token ends it: it writes its
 * max_tokens, as vLLM's and llama.cpp's benchmarks have it), and in each round every call must have stopped
 * alike on both sides (see `RunFigures.callWork`); a round where one did not is void and left out of the
 * figures, and the report says how many were.
 *
 * Which side's process is made first in a round matters here: on this VM the process that loads the model
 * first in a round decodes slower, whichever side it is (four identical studios, made one after another
 * and run in turn: the first 8-10% slower than the others, in every try; in six rounds run by run on the
 * 27M model the ratio was 0.64-0.95 in the rounds the engine's worker was made first and 0.94-1.19 in
 * those the direct script was). The side made first alternates by round, and the ratios are reported
 * balanced: the geometric mean of the median ratio of the rounds each side was made first (a slowdown
 * by a factor of the order cancels out), with both medians beside it.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { median } from "../common/median.js";
import { Studio } from "../core/index.js";
import { findTaskset } from "../runtime/cpu-placement.js";
import type { StageRecord } from "../engine/index.js";
import type { CallTiming, DirectCall, DirectPipelineJob, DirectRunReport } from "./direct-pipeline.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.join(here, "..", "..");

/**
 * The input of each run of a round: the cold run's first, then one per warm run. Each differs from its
 * first token on: a run never finds its prompts in the KV cache its predecessor left (the engine keeps
 * several sequences, the direct script one), so that both sides evaluate the same prompts.
 */
export const benchInputs = ["Once upon a time", "The little dog", "A girl named Lily", "There was a big tree", "Tom and his mom", "In a small town", "The sun was hot", "Ben had a red ball", "My friend Sue", "Birds can fly", "Under the bed"];

/**
 * The inputs of the warm-up runs, made on each side after the cold run and not measured: a process's
 * first runs are slower while V8 compiles its hot code (on stories260K the same chain through the worker
 * alone took ~172 ms in its first six warm runs and ~150 ms from then on, and the direct script shows the
 * same curve), and a studio is a long-running server, whose runs are past that. Their first words are
 * none of `benchInputs`', so that no measured run finds a warm-up's prompt in the KV cache.
 */
export const warmupInputs = ["Jack went", "Anna saw", "Grandpa said", "Every day", "Lucy and Max", "Two frogs", "Sam found", "Zoe wanted"];

/** A chain of three stages, each reading the one before with its input: each prompt extends the previous one. */
const chainYaml = `pipeline:
  name: Chain
  stages:
    - id: a
      type: single
      model: storyteller
      prompt: "{{input}}"
      output_mode: input_plus_answer
      params: { max_tokens: 64, temperature: 0 }
    - id: b
      type: single
      model: storyteller
      input_from: a
      output_mode: input_plus_answer
      params: { max_tokens: 64, temperature: 0 }
    - id: c
      type: single
      model: storyteller
      input_from: b
      params: { max_tokens: 64, temperature: 0 }
`;

export interface StageFigures {
  stageId: string;
  wallMs: number;
  timeToFirstTokenMs: number;
  decodeMs: number;
  /**
   * What is neither: the stage's wall time less its calls' time to first token and decode (the time
   * outside node-llama-cpp's calls: IPC, the engine, session writes). 0 for the direct script, whose
   * stage is its calls.
   */
  overheadMs: number;
  tokensOut: number;
  /** Prompt tokens, and those evaluated (the rest came from the KV cache); engine only. */
  promptTokens?: number;
  promptTokensEvaluated?: number;
}

export interface RunFigures {
  wallMs: number;
  /** The prompt tokens of all its calls: on a model with random weights the two sides' answers, and so later prompts, may differ. */
  promptTokens: number;
  /**
   * Engine only: from the call to the first stage's start (configs, the plan, the session's record) and
   * from the last stage's end to the call's return (the session's durable write).
   */
  beforeStagesMs?: number;
  afterStagesMs?: number;
  tokensOut: number;
  stages: StageFigures[];
  /**
   * Each call's work, in call order: `max` for a call that wrote its max_tokens (that many decode steps,
   * whatever node-llama-cpp held back of bytes that make no character), else why it stopped and its
   * tokens out. Equal on both sides, or the round is void: a call that stops at an end token on one side
   * and not on the other did other work.
   */
  callWork: string[];
}

export interface PipelineBenchResult {
  model: string;
  pipeline: "demo" | "chain";
  threads: number;
  calls: number;
  rounds: number;
  /** Rounds whose warm runs, or cold runs, did not do equal work on both sides (left out of the figures). */
  voidRounds: number;
  voidColdRounds: number;
  /** For each void round, the tokens out per call on each side against the reference. */
  voidDetails: string[];
  engineWarm: RunFigures[];
  directWarm: RunFigures[];
  engineCold: number[];
  directCold: number[];
  /** For each warm run and each cold run kept (in the order of the arrays above): whether the engine's process was made first in its round. */
  warmEngineFirst: boolean[];
  coldEngineFirst: boolean[];
}

/**
 * Paired ratios balanced for the order their processes were made in (see the head of this file): the
 * median of the rounds the engine's process was made first, of those the script's was, and their geometric
 * mean (the median of all where only one order was run).
 */
export function orderBalanced(ratios: number[], engineFirst: boolean[]): { balanced: number; engineFirst: number; directFirst: number } {
  const first = median(ratios.filter((_, index) => engineFirst[index]));
  const second = median(ratios.filter((_, index) => !engineFirst[index]));
  const balanced = Number.isNaN(first) || Number.isNaN(second) ? median(ratios) : Math.sqrt(first * second);
  return { balanced, engineFirst: first, directFirst: second };
}

/** A config folder for one model file: the demo's models.yaml with every model on that file, the demo pipeline and the chain. */
async function writeConfig(root: string, modelPath: string): Promise<void> {
  const models = (await readFile(path.join(projectRoot, "config", "models.example.yaml"), "utf8"))
    .replaceAll("stories260K.gguf", path.basename(modelPath))
    // The declared quantization is the demo model's; another file would be refused for it.
    .replace(/^\s+quantization: F32\n/gm, "")
    // One call at a time, as the direct script makes them: a batch would compare other work.
    .replace(/^(\s+batch:) auto/m, "$1 false")
    // Equal work forced, as vLLM's and llama.cpp's benchmarks do: no call stops at an end token, every
    // one writes its max_tokens (a random-weight model's near-tie logits would else end the two sides'
    // calls at different tokens, and void the round).
    .replace(/^(\s+)(max_tokens: \d+.*)$/m, "$1$2\n$1ignore_eos: true");
  await mkdir(path.join(root, "config", "pipelines"), { recursive: true });
  await writeFile(path.join(root, "config", "models.yaml"), models);
  await copyFile(path.join(projectRoot, "config", "pipeline.example.yaml"), path.join(root, "config", "pipeline.yaml"));
  await writeFile(path.join(root, "config", "pipelines", "chain.yaml"), chainYaml);
}

function openStudio(root: string, modelPath: string): Studio {
  return Studio.open({
    cwd: root,
    packageRoot: projectRoot,
    env: {
      PROJECT_LLM_CONFIG_DIR: path.join(root, "config"),
      PROJECT_LLM_MODELS_DIR: path.dirname(modelPath),
      PROJECT_LLM_SESSIONS_DIR: path.join(root, "sessions"),
    },
  });
}

function stageFigures(record: StageRecord): StageFigures {
  const models = [...record.models, ...(record.aggregation?.method === "synthesis" ? [record.aggregation.output] : [])];
  const wallMs = (record.endedAt ?? 0) - (record.startedAt ?? 0);
  const timeToFirstTokenMs = models.reduce((sum, model) => sum + model.metrics.timeToFirstTokenMs, 0);
  // From the first token to the call's end: node-llama-cpp may hold back the last tokens it generated (bytes
  // that do not yet make a character), so the last token reported is not the end of the work.
  const decodeMs = models.reduce((sum, model) => sum + model.metrics.durationMs - model.metrics.timeToFirstTokenMs, 0);
  const evaluated = models.map((model) => model.metrics.promptTokensEvaluated);
  return {
    stageId: record.stageId,
    wallMs,
    timeToFirstTokenMs,
    decodeMs,
    overheadMs: wallMs - timeToFirstTokenMs - decodeMs,
    tokensOut: models.reduce((sum, model) => sum + model.metrics.tokensOut, 0),
    promptTokens: models.reduce((sum, model) => sum + model.metrics.tokensIn, 0),
    ...(evaluated.every((value) => value !== undefined) ? { promptTokensEvaluated: evaluated.reduce((sum, value) => sum + value!, 0) } : {}),
  };
}

const callWork = (stopReason: string, tokensOut: number) => (stopReason === "max-tokens" ? "max" : `${stopReason} after ${tokensOut}`);

/** The engine's model calls in the order the runtime made them (one at a time on a CPU): stage order, models, then the synthesis. */
function engineCalls(stages: StageRecord[]): Array<{ call: DirectCall; work: string; threads: number; gpuLayers: number }> {
  return stages.flatMap((record) =>
    [...record.models, ...(record.aggregation?.method === "synthesis" ? [record.aggregation.output] : [])].map((model) => ({
      call: { stageId: record.stageId, prompt: model.prompt, params: model.params as DirectCall["params"] },
      work: callWork(model.stopReason, model.metrics.tokensOut),
      threads: model.load?.threads ?? 1,
      gpuLayers: model.load?.gpuLayers ?? 0,
    })),
  );
}

async function engineRun(studio: Studio, pipeline: string, input: string): Promise<RunFigures> {
  const started = performance.now();
  // The stages' times are the wall clock's (`Date.now()`): the time before the first and after the last
  // are taken on it too, never against `performance.timeOrigin`, which a step of the system clock leaves behind.
  const startedAtEpoch = Date.now();
  // Every stage computed: the same deterministic run again would be served from the stage cache.
  const session = await studio.run({ pipeline, input, cache: false });
  const wallMs = performance.now() - started;
  const endedAtEpoch = Date.now();
  if (session.status !== "completed") throw new Error(`bench: the ${pipeline} pipeline ${session.status}: ${session.error?.message}`);
  const stages = Object.values(session.stages).sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0));
  const figures = stages.map(stageFigures);
  const beforeStagesMs = (stages[0]?.startedAt ?? startedAtEpoch) - startedAtEpoch;
  const afterStagesMs = endedAtEpoch - Math.max(...stages.map((stage) => stage.endedAt ?? 0));
  return { wallMs, promptTokens: figures.reduce((sum, stage) => sum + (stage.promptTokens ?? 0), 0), beforeStagesMs, afterStagesMs, tokensOut: figures.reduce((sum, stage) => sum + stage.tokensOut, 0), stages: figures, callWork: engineCalls(stages).map((call) => call.work) };
}

function directFigures(report: DirectRunReport): RunFigures {
  const byStage = new Map<string, CallTiming[]>();
  for (const call of report.calls) byStage.set(call.stageId, [...(byStage.get(call.stageId) ?? []), call]);
  const stages = [...byStage].map(([stageId, calls]) => {
    const sum = (pick: (call: CallTiming) => number) => calls.reduce((total, call) => total + pick(call), 0);
    const wallMs = sum((call) => call.wallMs);
    const timeToFirstTokenMs = sum((call) => call.timeToFirstTokenMs);
    // As on the engine's side: decode runs from the first token to the call's end.
    return { stageId, wallMs, timeToFirstTokenMs, decodeMs: wallMs - timeToFirstTokenMs, overheadMs: 0, tokensOut: sum((call) => call.tokensOut) };
  });
  return { wallMs: report.wallMs, promptTokens: report.calls.reduce((sum, call) => sum + call.promptTokens, 0), tokensOut: report.calls.reduce((sum, call) => sum + call.tokensOut, 0), stages, callWork: report.calls.map((call) => callWork(call.stopReason, call.tokensOut)) };
}

/**
 * The direct script's process: its cold run is measured from the spawn to its first run's report; each
 * later run is made when asked (`run`), so that the benchmark interleaves them with the engine's.
 */
class DirectScript {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  readonly #lines: AsyncIterator<string>;

  private constructor(child: ChildProcessByStdio<Writable, Readable, null>) {
    this.#child = child;
    this.#lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    // A script that died is told by its exit (see `close`), not by a write to its closed stdin.
    child.stdin.on("error", () => undefined);
  }

  static async start(jobFile: string): Promise<{ script: DirectScript; cold: number; coldWork: string[] }> {
    // Both ends on this process's monotonic clock: the script's own epoch time (its `timeOrigin` is read
    // from the wall clock when it starts) put the cold run 5-6 s off when the wall clock moved ahead of the
    // monotonic one while the bench ran. The report's trip through the pipe (~0.2 ms) counts against its cold run
    // (its warm runs are timed inside it).
    const spawnedAt = performance.now();
    const script = [process.execPath, path.join(here, "direct-pipeline.js"), jobFile];
    // `BENCH_DIRECT_CPU`: the script held to that one CPU, as the engine's worker holds itself (see
    // runtime/cpu-placement.ts), to tell the placement's share of a difference from the rest.
    const cpu = directCpu();
    const taskset = findTaskset();
    if (cpu !== undefined && !taskset) throw new Error("bench: BENCH_DIRECT_CPU needs util-linux's taskset");
    const [command, ...args] = cpu === undefined ? script : [taskset!, "-c", String(cpu), ...script];
    const child = spawn(command!, args, { env: { ...process.env, NODE_OPTIONS: "" }, stdio: ["pipe", "pipe", "inherit"] });
    const direct = new DirectScript(child);
    try {
      const cold = await direct.#next();
      return { script: direct, cold: performance.now() - spawnedAt, coldWork: directFigures(cold).callWork };
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
  }

  async run(): Promise<RunFigures> {
    this.#child.stdin.write("\n");
    return directFigures(await this.#next());
  }

  async close(): Promise<void> {
    const child = this.#child;
    const exited = new Promise<string>((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve(String(child.exitCode ?? child.signalCode)) : child.once("exit", (code, signal) => resolve(String(code ?? signal))),
    );
    child.stdin.end();
    const how = await exited;
    if (how !== "0") throw new Error(`bench: the direct script exited with ${how}`);
  }

  async #next(): Promise<DirectRunReport> {
    const line = await this.#lines.next();
    if (line.done) throw new Error("bench: the direct script ended before its run");
    return JSON.parse(line.value) as DirectRunReport;
  }
}

/** The CPU `BENCH_DIRECT_CPU` holds the direct script to, if any. */
export function directCpu(): number | undefined {
  const value = process.env.BENCH_DIRECT_CPU;
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`bench: BENCH_DIRECT_CPU must be a CPU number, not "${value}"`);
  return Number(value);
}

const sameWork = (a: string[], b: string[]) => a.length === b.length && a.every((value, index) => value === b[index]);

/**
 * One model, one pipeline: `rounds` rounds, each a cold run, `warmupRuns` unmeasured warm runs (see
 * `warmupInputs`) and `warmRuns` measured ones through a fresh studio (a new worker: its start and the
 * model's load count in the cold run), and the same through a fresh direct script process; which side
 * goes first alternates. `interleave`: `rounds`, each side's runs of a round in a row with its process
 * alone up; `runs`, both processes up and the warm runs alternating one by one (pairs of runs seconds
 * apart, robust to the machine's drift, each side idle while the other runs).
 */
export async function benchPipeline(modelPath: string, pipeline: "demo" | "chain", rounds: number, warmRuns: number, warmupRuns: number, interleave: "rounds" | "runs" = "rounds"): Promise<PipelineBenchResult> {
  const root = await mkdtemp(path.join(os.tmpdir(), "project-llm-bench-"));
  try {
    await writeConfig(root, modelPath);
    const name = pipeline === "demo" ? "base" : "chain";
    if (warmRuns + 1 > benchInputs.length) throw new Error(`bench: at most ${benchInputs.length - 1} warm runs (one input each)`);
    if (warmupRuns > warmupInputs.length) throw new Error(`bench: at most ${warmupInputs.length} warm-up runs (one input each)`);
    // In the order each side makes them: the cold run, the warm-up runs, the measured warm runs.
    const inputs = [benchInputs[0]!, ...warmupInputs.slice(0, warmupRuns), ...benchInputs.slice(1, warmRuns + 1)];
    // The reference runs, one per input: the calls the direct script makes.
    const referenceRuns: Array<ReturnType<typeof engineCalls>> = [];
    const reference = openStudio(root, modelPath);
    let gpu: DirectPipelineJob["gpu"];
    try {
      // The runtime's `gpu` as the studio has it (see `DirectPipelineJob.gpu`).
      gpu = (await reference.loadModels()).config.runtime?.gpu ?? "auto";
      for (const input of inputs) {
        const session = await reference.run({ pipeline: name, input, cache: false });
        referenceRuns.push(engineCalls(Object.values(session.stages).sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0))));
      }
    } finally {
      await reference.dispose();
    }
    const job: DirectPipelineJob = { modelPath, gpu, gpuLayers: referenceRuns[0]![0]!.gpuLayers, threads: referenceRuns[0]![0]!.threads, contextSize: 2048, runs: referenceRuns.map((calls) => calls.map((call) => call.call)) };
    const jobFile = path.join(root, "direct-job.json");
    await writeFile(jobFile, JSON.stringify(job));

    const result: PipelineBenchResult = { model: path.basename(modelPath), pipeline, threads: job.threads, calls: job.runs[0]!.length, rounds, voidRounds: 0, voidColdRounds: 0, voidDetails: [], engineWarm: [], directWarm: [], engineCold: [], directCold: [], warmEngineFirst: [], coldEngineFirst: [] };
    for (let round = 0; round < rounds; round++) {
      let studio: Studio | undefined;
      let script: DirectScript | undefined;
      const engineWarm: RunFigures[] = [];
      const directWarm: RunFigures[] = [];
      let engineResult = { cold: Number.NaN, coldWork: [] as string[] };
      let direct = { cold: Number.NaN, coldWork: [] as string[] };
      try {
        const engineCold = async () => {
          const started = performance.now();
          studio = openStudio(root, modelPath);
          const cold = await engineRun(studio, name, inputs[0]!);
          return { cold: performance.now() - started, coldWork: cold.callWork };
        };
        const directCold = async () => {
          const started = await DirectScript.start(jobFile);
          script = started.script;
          return { cold: started.cold, coldWork: started.coldWork };
        };
        const engineWarmRun = async (index: number) => {
          const figures = await engineRun(studio!, name, inputs[index]!);
          if (index > warmupRuns) engineWarm.push(figures);
        };
        const directWarmRun = async (index: number) => {
          const figures = await script!.run();
          if (index > warmupRuns) directWarm.push(figures);
        };
        // The engine's side first when `engineFirst`, then the script's; or the other way round.
        const inTurn = async (engineFirst: boolean, engineSide: () => Promise<void>, directSide: () => Promise<void>) => {
          await (engineFirst ? engineSide : directSide)();
          await (engineFirst ? directSide : engineSide)();
        };
        if (interleave === "runs") {
          // The cold runs one after the other (the side going first alternating by round), then the warm runs
          // in pairs, one input each, the side going first alternating by run: the two runs of a pair meet
          // the machine in the same state, and each side is idle while the other runs.
          await inTurn(round % 2 === 0, async () => void (engineResult = await engineCold()), async () => void (direct = await directCold()));
          for (let index = 1; index < inputs.length; index++) await inTurn((index + round) % 2 === 0, () => engineWarmRun(index), () => directWarmRun(index));
        } else {
          // Each side's runs in a row, its process alone up (the side going first alternating by round).
          await inTurn(
            round % 2 === 0,
            async () => {
              engineResult = await engineCold();
              for (let index = 1; index < inputs.length; index++) await engineWarmRun(index);
              await studio!.dispose();
              studio = undefined;
            },
            async () => {
              direct = await directCold();
              for (let index = 1; index < inputs.length; index++) await directWarmRun(index);
              await script!.close();
              script = undefined;
            },
          );
        }
      } finally {
        await (script as DirectScript | undefined)?.close();
        await (studio as Studio | undefined)?.dispose();
      }
      // Cold is checked against cold, warm against warm: a kept KV cache changes the floating-point sums a
      // little, and on a model whose next tokens are near ties (random weights) that changes the tokens.
      if (sameWork(engineResult.coldWork, direct.coldWork)) {
        result.engineCold.push(engineResult.cold);
        result.directCold.push(direct.cold);
        result.coldEngineFirst.push(round % 2 === 0);
      } else {
        result.voidColdRounds++;
        result.voidDetails.push(`cold: direct ${direct.coldWork.join(",")}; engine ${engineResult.coldWork.join(",")}`);
      }
      // Warm run by warm run: each has its own input.
      if (engineWarm.every((run, index) => sameWork(run.callWork, directWarm[index]!.callWork))) {
        result.engineWarm.push(...engineWarm);
        result.directWarm.push(...directWarm);
        result.warmEngineFirst.push(...engineWarm.map(() => round % 2 === 0));
      } else {
        result.voidRounds++;
        result.voidDetails.push(`warm: direct ${directWarm.map((run) => run.callWork.join(",")).join(" | ")}; engine ${engineWarm.map((run) => run.callWork.join(",")).join(" | ")}`);
      }
    }
    return result;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The Markdown lines of the pipeline part's report. */
export function pipelineReport(results: PipelineBenchResult[]): string[] {
  const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "—");
  const lines = [
    "| model | pipeline | calls | threads | warm: engine ms | warm: direct ms | warm: direct / engine time, balanced (paired runs' median in the rounds the engine's process was made first; the script's) | cold: engine ms | cold: direct ms | cold: direct / engine, balanced (engine's first; script's) | engine tok/s | direct tok/s | warm: prompt tokens a run, engine / direct (median of paired runs) | void rounds: warm; cold |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const balancedCell = (ratios: number[], engineFirst: boolean[]) => {
    const ratio = orderBalanced(ratios, engineFirst);
    return `${fixed(ratio.balanced, 3)} (${fixed(ratio.engineFirst, 3)}; ${fixed(ratio.directFirst, 3)})`;
  };
  for (const result of results) {
    const engineWall = result.engineWarm.map((run) => run.wallMs);
    const directWall = result.directWarm.map((run) => run.wallMs);
    // Tokens out (those node-llama-cpp streamed) over each run's time, by the median of the runs.
    const rate = (runs: RunFigures[]) => median(runs.map((run) => (run.tokensOut / run.wallMs) * 1000));
    const prompts = median(result.engineWarm.map((run, index) => run.promptTokens / result.directWarm[index]!.promptTokens));
    lines.push(
      `| ${result.model} | ${result.pipeline} | ${result.calls} | ${result.threads} | ${fixed(median(engineWall))} | ${fixed(median(directWall))} | ${balancedCell(directWall.map((direct, index) => direct / engineWall[index]!), result.warmEngineFirst)} | ${fixed(median(result.engineCold))} | ${fixed(median(result.directCold))} | ${balancedCell(result.directCold.map((direct, index) => direct / result.engineCold[index]!), result.coldEngineFirst)} | ${fixed(rate(result.engineWarm), 1)} | ${fixed(rate(result.directWarm), 1)} | ${fixed(prompts, 3)} | ${result.voidRounds}; ${result.voidColdRounds} of ${result.rounds} |`,
    );
  }
  lines.push("", "The engine's warm runs outside their stages (medians, ms; stage times are whole milliseconds): before the first stage (configs, the plan, the session's record), after the last (the session's durable write).", "");
  lines.push("| model | pipeline | before the first stage | after the last stage |", "| --- | --- | --- | --- |");
  for (const result of results) {
    lines.push(`| ${result.model} | ${result.pipeline} | ${fixed(median(result.engineWarm.map((run) => run.beforeStagesMs ?? Number.NaN)), 1)} | ${fixed(median(result.engineWarm.map((run) => run.afterStagesMs ?? Number.NaN)), 1)} |`);
  }
  lines.push("", "Per stage, warm runs (medians, ms): time to first token, decode (first token to the call's end), the engine's overhead (neither); prompt tokens (evaluated) on the engine.", "");
  lines.push("| model | pipeline | stage | engine TTFT | engine decode | engine overhead | direct TTFT | direct decode | prompt tokens (evaluated) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const result of results) {
    const stageIds = result.engineWarm[0]?.stages.map((stage) => stage.stageId) ?? [];
    for (const stageId of stageIds) {
      const pick = (runs: RunFigures[], field: keyof StageFigures) => median(runs.map((run) => Number(run.stages.find((stage) => stage.stageId === stageId)?.[field] ?? Number.NaN)));
      const evaluated = pick(result.engineWarm, "promptTokensEvaluated");
      lines.push(
        `| ${result.model} | ${result.pipeline} | ${stageId} | ${fixed(pick(result.engineWarm, "timeToFirstTokenMs"), 1)} | ${fixed(pick(result.engineWarm, "decodeMs"), 1)} | ${fixed(pick(result.engineWarm, "overheadMs"), 1)} | ${fixed(pick(result.directWarm, "timeToFirstTokenMs"), 1)} | ${fixed(pick(result.directWarm, "decodeMs"), 1)} | ${fixed(pick(result.engineWarm, "promptTokens"))}${Number.isFinite(evaluated) ? ` (${fixed(evaluated)})` : ""} |`,
      );
    }
  }
  return lines;
}
