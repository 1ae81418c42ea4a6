#!/usr/bin/env node
// Load figures of the run queue (not a test): `npm run bench:load`. Starts a studio (a production build,
// real HTTP, the real model stories260K) on 127.0.0.1:3400 with the e2e config, then:
//   1. starts one run of a three-stage pipeline and opens 200 followers of its event stream at once;
//   2. meanwhile sends 400 starts at once (POST /api/runs, a one-stage pipeline);
//   3. waits for every accepted run to end, and compares what each follower got with the session's
//      stored events (events lost: stored events a follower did not get, or got changed).
// It records accepted / refused (by status) / completed runs, events lost and the server's peak resident
// memory (sampled every 50 ms), and prints a Markdown line for BENCHMARKS.md.
//
// LOAD_PER_USER=N sets models.yaml's runtime.runs_per_user (default: the studio's default, 4: every
// request of this script is the one local user); LOAD_CAPS=off writes no cap at all (a studio from before
// the queue, whose config schema has none); LOAD_ROOT=DIR runs the studio of another checkout.
import { execFileSync, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { clearInterval, setInterval } from "node:timers";
import { Buffer } from "node:buffer";
import http from "node:http";
import path from "node:path";

const port = Number(process.env.BENCH_PORT ?? 3400);
const base = `http://127.0.0.1:${port}`;
const root = path.resolve(process.env.LOAD_ROOT ?? ".");
const work = path.resolve("e2e/.work-load");
const models = path.resolve(process.env.PROJECT_LLM_TEST_MODELS || process.env.PROJECT_LLM_MODELS_DIR || "models");
const starts = Number(process.env.LOAD_STARTS ?? 400);
const followers = Number(process.env.LOAD_FOLLOWERS ?? 200);

async function prepare() {
  await new Promise((resolve, reject) =>
    spawn(process.execPath, ["e2e/prepare.mjs"], { stdio: "inherit", env: { ...process.env, E2E_WORK: work } }).on("exit", (code) => (code === 0 ? resolve() : reject(new Error("prepare failed")))),
  );
  const file = path.join(work, "config", "models.yaml");
  let yaml = await readFile(file, "utf8");
  if (process.env.LOAD_CAPS === "off") yaml = yaml.replace(/^ {2}(runs_in_flight|runs_waiting|runs_per_user|streams_per_client):.*\n/gm, "");
  else {
    // Room for the 200 followers of one client (the default is 32 streams per client).
    yaml = yaml.replace(/streams_per_client: \d+/, `streams_per_client: ${followers + 16}`);
    if (process.env.LOAD_PER_USER) yaml = yaml.replace(/runs_per_user: \d+/, `runs_per_user: ${process.env.LOAD_PER_USER}`);
  }
  await writeFile(file, yaml);
  await writeFile(
    path.join(work, "config", "pipelines", "quick.yaml"),
    "pipeline:\n  name: One quick stage\n  stages:\n    - id: only\n      type: single\n      model: storyteller\n      params: { max_tokens: 32 }\n",
  );
}

function startStudio() {
  const server = spawn(process.execPath, ["scripts/start.mjs"], {
    cwd: root,
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      NEXT_TELEMETRY_DISABLED: "1",
      PROJECT_LLM_CONFIG_DIR: path.join(work, "config"),
      PROJECT_LLM_SESSIONS_DIR: path.join(work, "sessions"),
      PROJECT_LLM_MODELS_DIR: models,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  server.stdout.on("data", (chunk) => (output += chunk));
  server.stderr.on("data", (chunk) => (output += chunk));
  return { server, output: () => output };
}

async function waitFor(check, timeoutMs, what) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The resident memory of the Next.js server (the child of scripts/start.mjs), in bytes. */
function rssOf(parentPid) {
  try {
    const child = execFileSync("pgrep", ["-P", String(parentPid)], { encoding: "utf8" }).trim().split("\n")[0];
    const status = execFileSync("cat", [`/proc/${child}/status`], { encoding: "utf8" });
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
  } catch {
    return 0;
  }
}

/**
 * POSTs `total` bytes in 64 KiB chunks without a length (chunked), until the server answers or drops the
 * connection: its status (0 for a dropped connection) and the bytes handed to the socket by then.
 */
function sendLargeBody(url, total) {
  return new Promise((resolve) => {
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    let ended = false;
    const finish = (status) => {
      if (ended) return;
      ended = true;
      request.destroy();
      resolve({ status, sent });
    };
    const request = http.request(url, { method: "POST", headers: { "content-type": "application/json" } });
    request.on("response", (response) => finish(response.statusCode));
    request.on("error", () => finish(0));
    request.write('{"pipeline":"quick","input":"');
    const pump = () => {
      while (!ended && sent < total) {
        sent += chunk.length;
        if (!request.write(chunk)) return void request.once("drain", pump);
      }
      if (!ended) request.end('"}');
    };
    pump();
  });
}

/** The most intervals `[from, to]` that overlap at one time. */
function mostAtOnce(intervals) {
  const points = intervals.flatMap(([from, to]) => [
    [from, 1],
    [to, -1],
  ]);
  // At equal times an end comes before a start: a place freed is taken by the next run at that moment.
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, step] of points) most = Math.max(most, (now += step));
  return most;
}

/** JSON with keys sorted at every level: the session's events come back in its schema's key order. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A run's events from its text/event-stream, until the stream ends. */
async function follow(id) {
  const response = await fetch(`${base}/api/runs/${id}/events`, { headers: { connection: "close" } });
  if (!response.ok) return { status: response.status, events: [] };
  const text = await response.text();
  const events = text
    .split("\n\n")
    .map((block) => block.split("\n").find((line) => line.startsWith("data: ")))
    .filter(Boolean)
    .map((line) => JSON.parse(line.slice(6)));
  return { status: response.status, events };
}

async function main() {
  await prepare();
  const studio = startStudio();
  await waitFor(async () => (await fetch(`${base}/api/health`)).ok, 300_000, "the studio");
  // Warm: the worker and the model, so the figures are of the queue, not of the first load.
  const warm = await (await fetch(`${base}/api/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ pipeline: "quick", input: "Warm" }) })).json();
  await follow(warm.id);

  let peakRss = rssOf(studio.server.pid);
  const baseRss = peakRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(studio.server.pid))), 50);
  const startedAt = performance.now();

  // The followed run: its followers connect all at once, while the burst of starts comes in.
  const followed = await (await fetch(`${base}/api/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ pipeline: "story", input: "Once upon a time" }) })).json();
  const following = Array.from({ length: followers }, () => follow(followed.id));
  const burst = await Promise.all(
    Array.from({ length: starts }, (_, index) =>
      fetch(`${base}/api/runs`, { method: "POST", headers: { "content-type": "application/json", connection: "close" }, body: JSON.stringify({ pipeline: "quick", input: `Load ${index}` }) }).then(
        async (response) => ({ status: response.status, body: await response.json().catch(() => ({})), retryAfter: response.headers.get("retry-after") }),
        (error) => ({ status: 0, body: { error: String(error) } }),
      ),
    ),
  );
  const acceptedIds = burst.filter((result) => result.status === 202).map((result) => result.body.id);
  const refused = {};
  for (const result of burst) if (result.status !== 202) refused[result.status] = (refused[result.status] ?? 0) + 1;
  const withRetryAfter = burst.filter((result) => result.status !== 202 && result.retryAfter).length;

  // Every accepted run to its end.
  const runsEvents = await Promise.all(acceptedIds.map((id) => follow(id).then((result) => result.events)));
  const completed = runsEvents.filter((events) => events.at(-1)?.type === "run-end" && events.at(-1).status === "completed").length;
  const followedResults = await Promise.all(following);
  // The most runs at once, by their events' times: going (run-start to run-end), and going or waiting.
  const followedEvents = followedResults.find((result) => result.status === 200)?.events ?? [];
  const allRuns = [...runsEvents, followedEvents].filter((events) => events.length > 0);
  const going = mostAtOnce(allRuns.map((events) => [events.find((event) => event.type === "run-start")?.at ?? events.at(-1).at, events.at(-1).at]));
  const inQueue = mostAtOnce(allRuns.map((events) => [events[0].at, events.at(-1).at]));
  const elapsedS = (performance.now() - startedAt) / 1000;
  clearInterval(sampler);

  const session = await (await fetch(`${base}/api/sessions/${followed.id}`)).json();
  const stored = session.events ?? [];
  let lost = 0;
  let refusedFollowers = 0;
  for (const result of followedResults) {
    if (result.status !== 200) {
      refusedFollowers++;
      continue;
    }
    const got = new Map(result.events.map((event) => [event.seq, canonical(event)]));
    for (const event of stored) if (got.get(event.seq) !== canonical(event)) lost++;
  }

  // Then one 400 MB body, sent in chunks without a length: how much of it goes before the answer, and
  // how the server's memory grows meanwhile.
  const bodyRssBefore = rssOf(studio.server.pid);
  let bodyPeak = bodyRssBefore;
  const bodySampler = setInterval(() => (bodyPeak = Math.max(bodyPeak, rssOf(studio.server.pid))), 50);
  const body = await sendLargeBody(`${base}/api/runs`, 400 * 1024 * 1024);
  clearInterval(bodySampler);

  studio.server.kill("SIGTERM");
  await new Promise((resolve) => studio.server.on("exit", resolve));
  const mib = (bytes) => (bytes / 1024 / 1024).toFixed(0);
  const report = {
    date: new Date().toISOString().slice(0, 10),
    root,
    starts,
    accepted: acceptedIds.length,
    refused,
    refusedWithRetryAfter: withRetryAfter,
    completed,
    mostGoingAtOnce: going,
    mostGoingOrWaitingAtOnce: inQueue,
    followers,
    followersRefused: refusedFollowers,
    followedEvents: stored.length,
    followedStatus: session.status,
    eventsLost: lost,
    serverRssMiB: { before: Number(mib(baseRss)), peak: Number(mib(peakRss)) },
    largeBody: { status: body.status, sentMiB: Number(mib(body.sent)), serverRssMiB: { before: Number(mib(bodyRssBefore)), peak: Number(mib(bodyPeak)) } },
    elapsedS: Number(elapsedS.toFixed(1)),
  };
  console.log(JSON.stringify(report, null, 2));
  const refusedText = Object.entries(refused).map(([status, count]) => `${count} × ${status}`).join(", ") || "none";
  console.log(`400 MB body: ${body.status} after ${mib(body.sent)} MiB sent; server RSS ${mib(bodyRssBefore)} → ${mib(bodyPeak)} MiB`);
  console.log(
    `| ${report.date} | ${starts} | ${report.accepted} | ${refusedText} (${withRetryAfter} with Retry-After) | ${completed} | ${going} / ${inQueue} | ${followers} (${refusedFollowers} refused) × ${stored.length} events | ${lost} | ${report.serverRssMiB.before} → ${report.serverRssMiB.peak} MiB | ${report.elapsedS} s |`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
