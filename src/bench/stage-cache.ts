/**
 * `npm run bench:cache`: what a rerun of an unchanged deterministic pipeline costs when the stage cache
 * serves it, through the studio core with the real file session store, the real inference worker and the
 * demo configs (config/*.example.yaml: the three-stage base pipeline on stories260K, every model greedy or
 * seeded). The sessions folder first gets BENCH_SESSIONS sessions (default 10,000) and three cache
 * entries each, so that a lookup happens among many (it reads one file named by the signature; nothing
 * scans the sessions).
 *
 * Then BENCH_ROUNDS rounds (default 20), interleaved: a run served from the cache, and the same run with
 * `cache: false` (every stage computed). For each: the wall time of `studio.run` (the server's whole time:
 * configs read and checked, the session created and saved with fsync, the stages), the engine's own time
 * (run-start to run-end) and the model calls the runtime counted.
 *
 * Prints a Markdown table and the figures as JSON. Not a test: the figures go in BENCHMARKS.md.
 */
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "../common/median.js";
import { Studio } from "../core/index.js";
import type { StageCacheKey } from "../engine/index.js";
import { createRuntime } from "../runtime/index.js";
import { FileSessionStore, FileStageCache, installedVersion, newRunId } from "../store/index.js";
import { makeRunSession, makeStageRecord } from "../testing/session-records.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, "..", "..");
const sessionsCount = Number(process.env.BENCH_SESSIONS ?? 10_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 20);
const modelsDir = path.resolve(process.env.PROJECT_LLM_TEST_MODELS ?? path.join(projectRoot, "models"));

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;

/** Sessions as files (as a three-stage run writes them) and three cache entries each, under random keys. */
async function fill(sessionsDir: string, modelFile: string): Promise<void> {
  await mkdir(sessionsDir, { recursive: true });
  const start = Date.UTC(2026, 0, 1);
  const ids: string[] = [];
  for (let index = 0; index < sessionsCount; index++) {
    const time = start + index * 1000;
    const id = newRunId(new Date(time));
    ids.push(id);
    const session = makeRunSession(time, index, { id, status: "completed" });
    await writeFile(path.join(sessionsDir, `${id}.json`), JSON.stringify(session));
  }
  const sessions = new FileSessionStore(sessionsDir);
  await sessions.rebuildIndex();
  const cache = new FileStageCache(path.join(sessionsDir, "stage-cache"), sessions);
  const model = { name: "storyteller", path: modelFile, load: { context_size: 2048, gpu_layers: 0 as const, threads: 1 } };
  const runtime = { gpu: false as const, nodeLlamaCpp: await installedVersion(projectRoot, "node-llama-cpp") };
  for (const [index, id] of ids.entries()) {
    for (const stageId of ["draft", "voices", "ending"]) {
      const prompt = `Once upon a time number ${index}, ${stageId}`;
      const key: StageCacheKey = { version: 2, type: "single", outputMode: "answer_only", input: prompt, inputs: [], prompt, calls: [{ part: "model", name: "storyteller", model, params: { temperature: 0, max_tokens: 48 } }] };
      await cache.put(key, runtime, id, makeStageRecord(stageId, `answer ${index}`));
    }
  }
  await sessions.flush();
}

async function main(): Promise<void> {
  const root = path.join(os.tmpdir(), `project-llm-bench-cache-${process.pid}`);
  await rm(root, { recursive: true, force: true });
  const configDir = path.join(root, "config");
  await mkdir(configDir, { recursive: true });
  await copyFile(path.join(projectRoot, "config", "models.example.yaml"), path.join(configDir, "models.yaml"));
  await copyFile(path.join(projectRoot, "config", "pipeline.example.yaml"), path.join(configDir, "pipeline.yaml"));
  const sessionsDir = path.join(root, "sessions");
  const filledAt = performance.now();
  await fill(sessionsDir, path.join(modelsDir, "stories260K.gguf"));
  const fillMs = performance.now() - filledAt;

  const runtime = createRuntime({ workerPath: path.join(here, "..", "runtime", "worker.js"), gpu: false });
  const studio = Studio.open({ cwd: root, runtime, env: { PROJECT_LLM_CONFIG_DIR: configDir, PROJECT_LLM_SESSIONS_DIR: sessionsDir, PROJECT_LLM_MODELS_DIR: modelsDir } });
  const input = "Once upon a time there was a fox";
  const runOnce = async (cache: boolean) => {
    const before = runtime.stats().generations;
    const startedAt = performance.now();
    const session = await studio.run({ input, cache });
    const wallMs = performance.now() - startedAt;
    if (session.status !== "completed") throw new Error(`run ${session.id} ${session.status}: ${session.error?.message ?? ""}`);
    const events = session.events ?? [];
    const engineMs = (events.at(-1)?.at ?? 0) - (events.find((event) => event.type === "run-start")?.at ?? 0);
    const stages = Object.values(session.stages);
    return { wallMs, engineMs, calls: runtime.stats().generations - before, cachedStages: stages.filter((record) => record.cached).length, stages: stages.length };
  };
  try {
    // The first run computes every stage (and loads the model); its stages go into the cache.
    const first = await runOnce(true);
    const cached: Array<Awaited<ReturnType<typeof runOnce>>> = [];
    const computed: Array<Awaited<ReturnType<typeof runOnce>>> = [];
    for (let round = 0; round < rounds; round++) {
      cached.push(await runOnce(true));
      computed.push(await runOnce(false));
    }
    const row = (name: string, results: typeof cached) =>
      `| ${name} | ${median(results.map((result) => result.wallMs)).toFixed(1)} | ${quantile(results.map((result) => result.wallMs), 0.9).toFixed(1)} | ${median(results.map((result) => result.engineMs)).toFixed(1)} | ${Math.max(...results.map((result) => result.calls))} | ${Math.min(...results.map((result) => result.cachedStages))}/${results[0]!.stages} |`;
    console.log(`sessions in the folder: ${sessionsCount} (+ ${sessionsCount * 3} cache entries), filled in ${(fillMs / 1000).toFixed(1)} s; ${rounds} rounds; first run ${first.wallMs.toFixed(0)} ms, ${first.calls} model calls\n`);
    console.log("| run | studio.run median, ms | p90, ms | engine median, ms | model calls | stages cached |");
    console.log("|---|---|---|---|---|---|");
    console.log(row("rerun, served from the cache", cached));
    console.log(row("rerun with cache: false", computed));
    console.log(JSON.stringify({ sessionsCount, rounds, fillMs, first, cached, computed }));
  } finally {
    await studio.dispose();
    await runtime.dispose();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
