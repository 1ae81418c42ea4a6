/**
 * `npm run bench:store`: the session store at team scale. Makes BENCH_SESSIONS sessions (default 100,000)
 * as files in BENCH_DIR (default: a folder in the system's temp folder, kept and reused between runs), then
 * measures, each phase in this one process so that every stall of its event loop is the store's (or the
 * garbage collector's on the store's behalf):
 *
 * - a rebuild of the index from the files (`rebuildIndex` and the index written), and the longest stall;
 * - the first page while the index is rebuilt (a store opened on a folder without an index, then a
 *   `partial` listing), and the whole listing after it;
 * - the open of a store on the indexed folder, up to its first page;
 * - BENCH_RUNS runs at once (default 8) saving their sessions every BENCH_CHECKPOINT_MS (default 500; the
 *   studio checkpoints every 2 s) for BENCH_SECONDS (default 30), each run lasting 10 s, while History
 *   lists every 100 ms (the first page, a status filter, a search, a pipeline's second page): the
 *   longest event-loop stall (perf_hooks' monitorEventLoopDelay, and a 10 ms timer's lateness), list
 *   and save latencies.
 *
 * An idle event loop is watched the same way first: on a shared machine the process is sometimes not
 * given a core for a while, and that reads as a stall that no code caused.
 *
 * Prints a Markdown table and the figures as JSON. Not a test: the figures go in BENCHMARKS.md.
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { FileSessionStore, type ListOptions } from "../store/index.js";
import { makeRunSession } from "../testing/session-records.js";

const count = Number(process.env.BENCH_SESSIONS ?? 100_000);
const folder = path.resolve(process.env.BENCH_DIR ?? path.join(os.tmpdir(), `project-llm-bench-sessions-${count}`));
const runs = Number(process.env.BENCH_RUNS ?? 8);
const checkpointMs = Number(process.env.BENCH_CHECKPOINT_MS ?? 500);
const seconds = Number(process.env.BENCH_SECONDS ?? 30);
const runMs = 10_000;

async function makeFolder(): Promise<void> {
  const present = await readdir(folder).catch(() => [] as string[]);
  const sessionFiles = present.filter((name) => /^\d{8}-\d{6}-[0-9a-f]{6}\.json$/.test(name)).length;
  if (sessionFiles === count) return;
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  // A year of sessions, oldest first, a few minutes apart.
  const start = Date.UTC(2025, 10, 1);
  const step = Math.floor((365 * 24 * 3600 * 1000) / count);
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    const session = makeRunSession(start + index * step, index);
    await writeFile(path.join(folder, `${session.id}.json`), JSON.stringify(session, null, 1));
  }
  console.error(`made ${count} sessions in ${folder} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * The event loop's longest stall while `work` runs: perf_hooks' histogram, and a 10 ms timer's lateness.
 * `maxBusyMs` bounds the work that held the loop by the CPU time the process used meanwhile (all its
 * threads: an upper bound): on a machine with more runnable processes than cores, a stall is mostly time
 * spent waiting for a core, which the wall clock alone cannot tell from work.
 */
async function watched<T>(work: () => Promise<T>): Promise<{ result: T; ms: number; maxStallMs: number; stallsOver50: number; maxBusyMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let last = performance.now();
  let cpu = process.cpuUsage();
  let maxLate = 0;
  let maxBusy = 0;
  let stallsOver50 = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const late = now - last - 10;
    if (late > maxLate) maxLate = late;
    if (late > 50) stallsOver50++;
    const busy = Math.min(late, (used.user + used.system) / 1000 - 10);
    if (busy > maxBusy) maxBusy = busy;
    last = now;
  }, 10);
  const started = performance.now();
  try {
    const result = await work();
    return { result, ms: performance.now() - started, maxStallMs: Math.max(maxLate, histogram.max / 1e6 - 10), stallsOver50, maxBusyMs: Math.max(0, maxBusy) };
  } finally {
    clearInterval(timer);
    histogram.disable();
  }
}

async function removeIndex(): Promise<void> {
  for (const name of await readdir(folder)) if (name.startsWith("index.")) await rm(path.join(folder, name), { force: true });
}

const percentile = (values: number[], share: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
};

// Options of this version's listing: `partial` asks for the sessions indexed so far while the index is built.
const partialPage = { limit: 50, partial: true } as ListOptions;

async function main(): Promise<void> {
  await makeFolder();
  const loadBefore = os.loadavg()[0]!;
  // The machine's own noise: the same watch over an event loop that does nothing.
  const idle = await watched(() => new Promise((resolve) => setTimeout(resolve, 10_000)));

  await removeIndex();
  const rebuilding = new FileSessionStore(folder);
  const rebuild = await watched(async () => {
    await rebuilding.rebuildIndex();
    await rebuilding.flush();
  });

  await removeIndex();
  const opening = new FileSessionStore(folder);
  let firstPageMs = 0;
  let firstPageTotal = 0;
  let fullPageMs = 0;
  const duringRebuild = await watched(async () => {
    const started = performance.now();
    const page = await opening.list(partialPage);
    firstPageMs = performance.now() - started;
    firstPageTotal = page.total;
    // History asks again each second while it is told the index is being built; here every 50 ms.
    while ((await opening.list(partialPage)).items.length < 50) await new Promise((resolve) => setTimeout(resolve, 50));
    fullPageMs = performance.now() - started;
    await opening.list({ limit: 50 });
    await opening.flush();
  });

  const store = new FileSessionStore(folder);
  const open = await watched(async () => {
    await store.open();
    return (await store.list({ limit: 50 })).total;
  });

  const listMs: number[] = [];
  const saveMs: number[] = [];
  let saves = 0;
  const made: string[] = [];
  const load = await watched(async () => {
    const end = Date.now() + seconds * 1000;
    const listings: ListOptions[] = [{ limit: 50 }, { limit: 50, status: "failed" }, { limit: 50, query: "fox lake" }, { limit: 50, offset: 50, pipeline: "story" }];
    const lister = (async () => {
      for (let turn = 0; Date.now() < end; turn++) {
        const started = performance.now();
        await store.list(listings[turn % listings.length]);
        listMs.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const runner = async (lane: number) => {
      for (let round = 0; Date.now() < end; round++) {
        const begun = Date.now();
        const running = makeRunSession(begun, count + lane * 1000 + round, { status: "running", finalAnswer: undefined, endedAt: undefined, durationMs: undefined });
        made.push(running.id);
        for (let step = 0; Date.now() - begun < runMs && Date.now() < end; step++) {
          const started = performance.now();
          await store.save({ ...running, finalAnswer: `text so far, checkpoint ${step} `.repeat(step + 1) });
          saveMs.push(performance.now() - started);
          saves++;
          await new Promise((resolve) => setTimeout(resolve, checkpointMs));
        }
        await store.save({ ...running, status: "completed", finalAnswer: "and they lived happily", endedAt: new Date().toISOString(), durationMs: Date.now() - begun });
        saves++;
      }
    };
    await Promise.all([lister, ...Array.from({ length: runs }, (_, lane) => runner(lane))]);
    await store.flush();
  });
  // The folder is kept for the next run as it was made.
  for (const id of made) await store.delete(id);
  await store.flush();

  const figures = {
    sessions: count,
    machine: { cores: os.cpus().length, loadAverageBefore: loadBefore, loadAverageAfter: os.loadavg()[0], idleMaxStallMs: idle.maxStallMs, idleStallsOver50ms: idle.stallsOver50 },
    rebuild: { seconds: rebuild.ms / 1000, maxStallMs: rebuild.maxStallMs, maxBusyMs: rebuild.maxBusyMs },
    firstPageDuringRebuild: { ms: firstPageMs, sessionsIndexedThen: firstPageTotal, fiftySessionsMs: fullPageMs, wholeListingSeconds: duringRebuild.ms / 1000, maxStallMs: duringRebuild.maxStallMs, maxBusyMs: duringRebuild.maxBusyMs },
    open: { ms: open.ms, maxStallMs: open.maxStallMs, maxBusyMs: open.maxBusyMs, listed: open.result },
    whileRunsSave: {
      runs,
      checkpointMs,
      seconds,
      saves,
      maxStallMs: load.maxStallMs,
      maxBusyMs: load.maxBusyMs,
      stallsOver50ms: load.stallsOver50,
      listings: listMs.length,
      listP50Ms: percentile(listMs, 0.5),
      listP99Ms: percentile(listMs, 0.99),
      listMaxMs: Math.max(...listMs),
      saveP50Ms: percentile(saveMs, 0.5),
      saveP99Ms: percentile(saveMs, 0.99),
    },
  };
  const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;
  const rows = [
    ["an idle event loop for 10 s (the machine's own noise)", `longest stall ${ms(idle.maxStallMs)} (CPU-bounded ${ms(idle.maxBusyMs)}), ${idle.stallsOver50} over 50 ms; load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0]!.toFixed(1)} after, ${os.cpus().length} cores`],
    ["rebuild from the files (index written)", `${figures.rebuild.seconds.toFixed(1)} s; longest stall ${ms(rebuild.maxStallMs)} (CPU-bounded ${ms(rebuild.maxBusyMs)})`],
    ["first page while the index is rebuilt", `${ms(firstPageMs)} (${firstPageTotal} sessions indexed then), 50 sessions after ${ms(fullPageMs)}; whole listing after ${figures.firstPageDuringRebuild.wholeListingSeconds.toFixed(1)} s; longest stall ${ms(duringRebuild.maxStallMs)} (CPU-bounded ${ms(duringRebuild.maxBusyMs)})`],
    ["open to first page", `${ms(open.ms)}; longest stall ${ms(open.maxStallMs)} (CPU-bounded ${ms(open.maxBusyMs)})`],
    [
      `${runs} runs saving every ${checkpointMs} ms for ${seconds} s, History listing every 100 ms`,
      `longest stall ${ms(load.maxStallMs)} (CPU-bounded ${ms(load.maxBusyMs)}), ${load.stallsOver50} stalls over 50 ms; list p50 ${ms(figures.whileRunsSave.listP50Ms)}, p99 ${ms(figures.whileRunsSave.listP99Ms)}, max ${ms(figures.whileRunsSave.listMaxMs)} (${listMs.length} listings); save p50 ${ms(figures.whileRunsSave.saveP50Ms)}, p99 ${ms(figures.whileRunsSave.saveP99Ms)} (${saves} saves)`,
    ],
  ];
  console.log(`\n${count.toLocaleString("en")} sessions in ${folder}\n\n| figure | value |\n| --- | --- |\n${rows.map(([name, value]) => `| ${name} | ${value} |`).join("\n")}\n`);
  console.log(JSON.stringify(figures));
}

await main();
