#!/usr/bin/env node
// Browser figures of the studio (not a test): `npm run bench:web`. Starts the app (a production build)
// on 127.0.0.1:3300 with the e2e config and the real models, then measures in Debian's chromium:
//   1. from clicking Run to the first model token painted, against the engine's own time to first token;
//   2. events per second one browser, and 20 browsers at once, take from the run-events stream
//      (the replay of a synthetic session of 20,000 events: named as such, never shown as a real run);
//   3. frame times while a real run streams tokens as fast as the model writes them.
// Prints a Markdown report; BENCHMARKS.md keeps the figures.
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { chromium } from "@playwright/test";
import { writeSyntheticSession } from "../dist/testing/synthetic-session.js";

const port = Number(process.env.BENCH_PORT ?? 3300);
const base = `http://127.0.0.1:${port}`;
const work = path.resolve("e2e/.work-bench");
const models = path.resolve(process.env.PROJECT_LLM_TEST_MODELS || process.env.PROJECT_LLM_MODELS_DIR || "models");
const rounds = Number(process.env.BENCH_REPEATS ?? 10);
/** `BENCH_PARTS=first,browsers,server,frames,live` (a comma list) measures those parts alone. */
const parts = process.env.BENCH_PARTS ?? "all";

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};
const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];

async function prepare() {
  await new Promise((resolve, reject) =>
    spawn(process.execPath, ["e2e/prepare.mjs"], { stdio: "inherit", env: { ...process.env, E2E_WORK: work } }).on("exit", (code) => (code === 0 ? resolve() : reject(new Error("prepare failed")))),
  );
  await writeFile(
    path.join(work, "config", "pipelines", "quick.yaml"),
    "pipeline:\n  name: One quick stage\n  stages:\n    - id: only\n      type: single\n      model: storyteller\n      params: { max_tokens: 32 }\n",
  );
  // Synthetic sessions (named as such, never shown as real runs): the stream measured alone, no model runs.
  // "burst": 20,000 one-word text events, replayed as fast as they go. "paced": 2,000 tokens a second for
  // 10 s in events of 10 tokens 5 ms apart (the shape of the worker's batches), replayed at that pace.
  await writeSyntheticSession(path.join(work, "sessions"), "20000101-000000-5e5e5e", { count: 20_000, tokensPerEvent: 1, gapMs: 1 });
  await writeSyntheticSession(path.join(work, "sessions"), "20000101-000000-2a2a2a", { count: 2_000, tokensPerEvent: 10, gapMs: 5 });
  return { syntheticId: "20000101-000000-5e5e5e", syntheticEvents: 20_004, pacedId: "20000101-000000-2a2a2a" };
}

async function startServer() {
  const server = spawn(process.execPath, ["scripts/start.mjs"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      PROJECT_LLM_CONFIG_DIR: path.join(work, "config"),
      PROJECT_LLM_SESSIONS_DIR: path.join(work, "sessions"),
      PROJECT_LLM_MODELS_DIR: models,
    },
  });
  for (let attempt = 0; attempt < 600; attempt++) {
    try {
      if ((await fetch(`${base}/api/health`)).ok) return server;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  server.kill();
  throw new Error("the server did not start");
}

const { syntheticId, syntheticEvents, pacedId } = await prepare();
const server = await startServer();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-background-timer-throttling", "--disable-renderer-backgrounding"] });
const want = (part) => parts === "all" || parts.split(",").includes(part);
const figures = {};
const row = (label, value) => `| ${label} | ${value} |`;
const frameStats = (frames) => `${frames.length}; ${median(frames).toFixed(1)} ms, ${quantile(frames, 0.95).toFixed(1)} ms, ${Math.max(...frames).toFixed(1)} ms; ${frames.filter((frame) => frame > 50).length} over 50 ms`;

/** Records the interval between animation frames in the page, from now on, in `window.__frames`. */
async function recordFrames(page) {
  await page.evaluate(() => {
    const frames = [];
    let last = performance.now();
    const tick = (now) => {
      frames.push(now - last);
      last = now;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    window.__frames = frames;
  });
}

/** Opens a run in a page already on the studio (no page load), and waits for its final answer. */
async function follow(page, query) {
  await page.evaluate(() => (window.__frames.length = 0));
  await page.evaluate((search) => window.history.pushState(null, "", `/?${search}`), query);
  await page.getByTestId("final-answer").waitFor({ timeout: 300_000 });
  return page.evaluate(() => window.__frames.slice(1));
}

try {
  if (want("first")) {
    // 1. Click to first token painted, with the model warm (one run first).
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const firstToken = [];
    for (let round = 0; round <= rounds; round++) {
      await page.goto(`${base}/?pipeline=quick`);
      await page.getByLabel("Input").fill(`Once upon a time ${round}`);
      await page.getByRole("button", { name: "Run", exact: true }).click();
      const mark = page.getByTestId("first-paint");
      await mark.waitFor();
      const paintedMs = Number(await mark.getAttribute("data-ms"));
      await page.getByTestId("final-answer").waitFor();
      const id = new URL(page.url()).searchParams.get("run");
      const session = await (await fetch(`${base}/api/sessions/${id}`)).json();
      const engineMs = session.stages.only.metrics.timeToFirstTokenMs;
      if (round > 0) firstToken.push({ paintedMs, engineMs, overMs: paintedMs - engineMs });
    }
    await page.close();
    figures.firstToken = firstToken;
    console.log(`click → first token painted, per run: ${firstToken.map((entry) => `${entry.paintedMs.toFixed(0)} ms (engine ${entry.engineMs.toFixed(1)} ms)`).join(", ")}`);
  }

  if (want("browsers")) {
    // 2. Events per second from the stream, to one browser and to 20 at once (each in its own context).
    // The pages are loaded first; the clock runs from opening the run (its stream) to its final answer.
    const streamTo = async (count, id = syntheticId, events = syntheticEvents, pace = "instant") => {
      const contexts = await Promise.all(Array.from({ length: count }, () => browser.newContext({ viewport: { width: 1200, height: 800 } })));
      const pages = await Promise.all(contexts.map((context) => context.newPage()));
      // Loaded and hydrated (its first queries done): only then does the app follow a pushState.
      await Promise.all(pages.map((tab) => tab.goto(`${base}/`, { waitUntil: "networkidle" })));
      const started = performance.now();
      const times = await Promise.all(
        pages.map(async (tab) => {
          await tab.evaluate((search) => window.history.pushState(null, "", `/?${search}`), `run=${id}${pace === "recorded" ? "&pace=recorded" : ""}`);
          await tab.getByTestId("final-answer").waitFor({ timeout: Number(process.env.BENCH_WAIT_MS ?? 300_000) }).catch(async (error) => {
            await mkdir("bench-results", { recursive: true });
            await tab.screenshot({ path: "bench-results/stuck.png" });
            throw error;
          });
          return performance.now() - started;
        }),
      );
      await Promise.all(contexts.map((context) => context.close()));
      const slowest = Math.max(...times);
      return { perBrowser: events / (median(times) / 1000), total: (events * count) / (slowest / 1000), slowestMs: slowest };
    };
    await streamTo(1);
    figures.one = await streamTo(1);
    // 20 browsers at once: each follows the 10 s stream of 2,000 tokens/s (200 events/s); keeping up means
    // finishing in about 10 s. Then each takes the 2,004 events as fast as they come.
    figures.twentyPaced = await streamTo(20, pacedId, 2_004, "recorded");
    figures.twenty = await streamTo(20, pacedId, 2_004, "instant");
  }

  if (want("server")) {
    // 3. The server alone: 20 plain SSE clients (no browser) read the same stream at once.
    const readStream = async () => {
      const started = performance.now();
      const response = await fetch(`${base}/api/runs/${syntheticId}/events`);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let events = 0;
      let rest = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += decoder.decode(value, { stream: true });
        const blocks = rest.split("\n\n");
        rest = blocks.pop();
        events += blocks.filter((block) => block.includes("\ndata: ")).length;
      }
      return { events, ms: performance.now() - started };
    };
    const raw = await Promise.all(Array.from({ length: 20 }, readStream));
    const slowest = Math.max(...raw.map((entry) => entry.ms));
    figures.raw = { total: raw.reduce((sum, entry) => sum + entry.events, 0) / (slowest / 1000), fewest: Math.min(...raw.map((entry) => entry.events)) };
  }

  if (want("frames")) {
    // 4. Frames in one browser: the 20,000 events as fast as they come; then 2,000 tokens/s for 10 s.
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${base}/`, { waitUntil: "networkidle" });
    await recordFrames(page);
    figures.burstFrames = await follow(page, `run=${syntheticId}`);
    figures.pacedFrames = await follow(page, `run=${pacedId}&pace=recorded`);
    await page.close();
  }

  if (want("live")) {
    // 5. Frames while a real run streams as fast as the model writes.
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${base}/?pipeline=long`);
    await page.getByLabel("Input").fill("Once upon a time");
    await recordFrames(page);
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.getByTestId("stage-one").waitFor();
    await page.evaluate(() => (window.__frames.length = 0));
    await page.getByTestId("final-answer").waitFor({ timeout: 120_000 });
    const frames = await page.evaluate(() => window.__frames.slice(1));
    const id = new URL(page.url()).searchParams.get("run");
    const session = await (await fetch(`${base}/api/sessions/${id}`)).json();
    figures.live = {
      frames,
      rates: Object.values(session.stages).map((stage) => stage.metrics.tokensPerSecond),
      textEvents: session.events.filter((event) => event.type === "stage-delta").length,
    };
    await page.close();
  }

  const { firstToken, one, twenty, raw, burstFrames, pacedFrames, live } = figures;
  const report = [
    `Machine: 2 cores, Debian chromium (headless), production build; ${rounds} runs for the first figures.`,
    "",
    "| figure | value |",
    "| --- | --- |",
    ...(firstToken
      ? [
          row("click Run → first token painted (median; p90)", `${median(firstToken.map((entry) => entry.paintedMs)).toFixed(0)} ms; ${quantile(firstToken.map((entry) => entry.paintedMs), 0.9).toFixed(0)} ms`),
          row("engine's time to first token (median)", `${median(firstToken.map((entry) => entry.engineMs)).toFixed(1)} ms`),
          row("painted − engine (median; p90)", `${median(firstToken.map((entry) => entry.overMs)).toFixed(0)} ms; ${quantile(firstToken.map((entry) => entry.overMs), 0.9).toFixed(0)} ms`),
        ]
      : []),
    ...(one ? [row(`events/s to one browser (${syntheticEvents} events)`, one.perBrowser.toFixed(0))] : []),
    ...(figures.twentyPaced
      ? [row("20 browsers following a 10 s stream of 200 events/s (2,000 tokens/s): each (median); all together; the slowest done after", `${figures.twentyPaced.perBrowser.toFixed(0)}; ${figures.twentyPaced.total.toFixed(0)}; ${(figures.twentyPaced.slowestMs / 1000).toFixed(1)} s`)]
      : []),
    ...(twenty ? [row("20 browsers at once, 2,004 events as fast as they go: events/s each (median); all together", `${twenty.perBrowser.toFixed(0)}; ${twenty.total.toFixed(0)} (the slowest done after ${(twenty.slowestMs / 1000).toFixed(1)} s)`)] : []),
    ...(raw ? [row("events/s the server streams to 20 plain SSE clients at once: all together (each)", `${raw.total.toFixed(0)} (${(raw.total / 20).toFixed(0)}); every client got ${raw.fewest} of ${syntheticEvents}`)] : []),
    ...(burstFrames ? [row(`one browser taking ${syntheticEvents} events as fast as they come: frames; median, p95, worst interval`, frameStats(burstFrames))] : []),
    ...(pacedFrames ? [row("one browser, 2,000 tokens/s for 10 s (200 events/s): frames; median, p95, worst interval", frameStats(pacedFrames))] : []),
    ...(live
      ? [
          row("live run: model tok/s per stage", `${live.rates.map((rate) => rate.toFixed(0)).join(", ")} (${live.textEvents} text events)`),
          row("live run: frames; median, p95, worst interval", frameStats(live.frames)),
        ]
      : []),
  ].join("\n");
  console.log(report);
  await mkdir("bench-results", { recursive: true });
  await writeFile("bench-results/web.json", JSON.stringify(figures, null, 1));
} finally {
  await browser.close();
  server.kill("SIGTERM");
}
