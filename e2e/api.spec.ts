/**
 * The plain HTTP surface against the real server: starting a run, following it as text/event-stream
 * (with Last-Event-ID), reading its session, and errors as JSON with the right status. Then a second
 * server of the same build, stopped with SIGTERM mid-run: the run is marked interrupted and the worker goes;
 * and one killed with SIGKILL mid-run: npm start exits 137, and the restarted studio shows what the run
 * had written.
 */
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { spawnStudio, work, workerPids } from "./studio-process";
import { schemesFor, shot } from "./page-checks";


/** The events of a text/event-stream body: `id`, `event` and the parsed `data` of each. */
function parseStream(body: string): Array<{ id: string; event: string; data: { type: string; seq: number } }> {
  return body
    .split("\n\n")
    .filter((block) => block.includes("data: "))
    .map((block) => {
      const field = (name: string) => block.split("\n").find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2) ?? "";
      return { id: field("id"), event: field("event"), data: JSON.parse(field("data")) };
    });
}

test("POST /api/runs, its event stream (and a resume by Last-Event-ID), its session", async ({ request }) => {
  expect(await (await request.get("/api/health")).json()).toEqual({ status: "ok" });
  // Computed, not served from the stage cache (an earlier run of the same input fills it): its text streams.
  const started = await request.post("/api/runs", { data: { pipeline: "base", input: "Once upon a time", cache: false } });
  expect(started.status()).toBe(202);
  const { id } = (await started.json()) as { id: string };

  const stream = await request.get(`/api/runs/${id}/events`);
  expect(stream.headers()["content-type"]).toContain("text/event-stream");
  const events = parseStream(await stream.text());
  expect(events[0]).toMatchObject({ id: "0", event: "run-start" });
  expect(events.at(-1)!.event).toBe("run-end");
  expect(events.map((event) => Number(event.id))).toEqual(events.map((_, index) => index));
  expect(events.filter((event) => event.event === "stage-delta").length).toBeGreaterThan(0);

  const resumed = parseStream(await (await request.get(`/api/runs/${id}/events`, { headers: { "Last-Event-ID": "4" } })).text());
  expect(resumed.map((event) => event.data.seq)).toEqual(events.slice(5).map((event) => event.data.seq));

  const session = await (await request.get(`/api/sessions/${id}`)).json();
  expect(session).toMatchObject({ id, status: "completed", pipelineName: "base", input: "Once upon a time" });

  // A run id the caller chose is the run's id; one already used is refused.
  const chosen = `${id.slice(0, -1)}${id.endsWith("0") ? "1" : "0"}`;
  const named = await request.post("/api/runs", { data: { pipeline: "base", input: "Once upon a time", id: chosen } });
  expect(named.status()).toBe(202);
  expect(await named.json()).toMatchObject({ id: chosen });
  const again = await request.post("/api/runs", { data: { pipeline: "base", input: "Once upon a time", id: chosen } });
  expect(again.status()).toBe(400);
  expect(await again.json()).toMatchObject({ error: { code: "invalid-id", message: expect.stringContaining("already used") } });
  await request.get(`/api/runs/${chosen}/events`);
});

test("errors are JSON with a code, a message and the right status", async ({ request }) => {
  const cases: Array<[Promise<{ status(): number; json(): Promise<unknown> }>, number, string]> = [
    [request.post("/api/runs", { data: "pipeline=base", headers: { "content-type": "application/x-www-form-urlencoded" } }), 415, "usage"],
    [request.post("/api/runs", { data: { input: 42 } }), 400, "usage"],
    [request.post("/api/runs", { data: { pipeline: "../../etc/passwd", input: "x" } }), 400, "usage"],
    [request.post("/api/runs", { data: { pipeline: "nope", input: "x" } }), 404, "pipeline-not-found"],
    [request.get("/api/sessions/20990101-000000-abcdef"), 404, "session-not-found"],
    [request.get("/api/sessions/..%2F..%2Fetc"), 400, "invalid-id"],
    [request.get("/api/runs/20990101-000000-abcdef/events"), 404, "session-not-found"],
    [request.post("/api/runs", { data: { pipeline: "base", input: "x", id: "../../etc/passwd" } }), 400, "invalid-id"],
    // A host name the studio does not answer to (what a DNS-rebinding page sends).
    [request.get("/api/health", { headers: { host: "attacker.example:3123" } }), 403, "forbidden-host"],
  ];
  for (const [pending, status, code] of cases) {
    const response = await pending;
    expect(response.status()).toBe(status);
    expect(await response.json()).toMatchObject({ error: { code, message: expect.any(String) } });
  }
  // A config that does not validate: 422, with each issue's file, line and column.
  const bad = await request.post("/api/runs", { data: { pipeline: "broken", input: "x" } });
  expect(bad.status()).toBe(422);
  const body = (await bad.json()) as { error: { code: string; issues: Array<{ line: number; column: number; file: string }> } };
  expect(body.error.code).toBe("config-invalid");
  expect(body.error.issues[0]).toMatchObject({ file: expect.stringContaining("broken.yaml"), line: 6, column: expect.any(Number) });
});

test("SIGTERM mid-run: the session is marked interrupted and the inference worker exits", async ({ request, page }) => {
  test.setTimeout(120_000);
  const { server, base, output, exited } = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 1, sessions: "sessions-sigterm" });
  await expect.poll(async () => (await request.get(`${base}/api/health`).catch(() => undefined))?.status(), { timeout: 60_000 }).toBe(200);
  // A studio with no sessions yet says how to make the first.
  await page.goto(`${base}/history`);
  await expect(page.getByText("No sessions yet")).toBeVisible();
  await expect(page.getByRole("link", { name: "run a pipeline" })).toHaveAttribute("href", "/");

  const { id } = (await (await request.post(`${base}/api/runs`, { data: { pipeline: "long", input: "Once" } })).json()) as { id: string };
  // Wait until it generates, then stop the server.
  await expect.poll(async () => {
    const session = (await (await request.get(`${base}/api/sessions/${id}`)).json()) as { status: string };
    return session.status;
  }).toBe("running");
  await new Promise((resolve) => setTimeout(resolve, 300));
  const workers = () => workerPids();
  const before = workers();
  expect(before.length).toBeGreaterThan(0);
  server.kill("SIGTERM");
  // A stop that was asked for and went cleanly: npm start exits 0, and a supervisor does not restart it.
  expect(await exited).toBe(0);
  expect(output()).toContain("SIGTERM: stopping the runs in progress");
  const session = JSON.parse(await readFile(path.join(work, "sessions-sigterm", `${id}.json`), "utf8")) as { status: string };
  expect(session.status).toBe("interrupted");
  // This server's worker is gone (the suite's own server keeps its own).
  await expect.poll(() => before.filter((pid) => workers().includes(pid)).length, { timeout: 10_000 }).toBeLessThan(before.length);
});

test("a 6,000-stage chain is refused with the stage limit, not a stack overflow", async ({ request }) => {
  const stages = Array.from({ length: 6000 }, (_, index) => ({ id: `s${index}`, type: "single", model: "storyteller", ...(index === 0 ? {} : { input_from: `s${index - 1}` }) }));
  const refused = await request.post("/api/runs", { data: { pipeline: { stages }, input: "Once" } });
  expect(refused.status()).toBe(422);
  expect(await refused.json()).toMatchObject({
    error: { code: "config-schema", issues: [{ path: "stages", code: "too-many-stages", params: { count: 6000, limit: 1000 }, message: expect.stringContaining("at most 1000") }] },
  });
});

/** The events of one stage's text in a session file, joined. */
function textOf(session: { events?: Array<{ type: string; stageId?: string; text?: string }> }, stageId: string): string {
  return (session.events ?? []).flatMap((event) => (event.type === "stage-delta" && event.stageId === stageId ? [event.text ?? ""] : [])).join("");
}

test("kill -9 mid-run: npm start exits 137, and the restarted studio shows the stages that ended and the text of the one cut off, with when it stopped", async ({ request, browser }) => {
  test.setTimeout(240_000);
  const sessions = "sessions-kill";
  const start = () => spawnStudio({ args: ["scripts/start.mjs"], portOffset: 1, sessions });
  let studio = start();
  const healthy = () => expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 60_000 }).toBe(200);
  await healthy();
  // A short stage, then one that writes until the server dies.
  const pipeline = {
    stages: [
      { id: "opening", type: "single", model: "storyteller", params: { max_tokens: 40 } },
      { id: "endless", type: "single", model: "dreamer", input_from: "opening", params: { max_tokens: 1_000_000 } },
    ],
  };
  const { id } = (await (await request.post(`${studio.base}/api/runs`, { data: { pipeline, input: "Once upon a time" } })).json()) as { id: string };
  const file = path.join(work, sessions, `${id}.json`);
  const stored = async () => JSON.parse(await readFile(file, "utf8").catch(() => "{}")) as { status?: string; checkpointAt?: string; events?: Array<{ type: string; stageId?: string; text?: string }> };
  // The file alone holds the second stage's text while it streams: only a checkpoint puts it there.
  await expect.poll(async () => textOf(await stored(), "endless").length, { timeout: 90_000 }).toBeGreaterThan(0);
  const next = execFileSync("pgrep", ["-P", String(studio.server.pid)], { encoding: "utf8" }).trim().split("\n")[0]!;
  process.kill(Number(next), "SIGKILL");
  // The server died by a signal: npm start says so, 128 + 9, and a supervisor restarts it.
  expect(await studio.exited).toBe(137);
  const kept = await stored();
  expect(kept.status).toBe("running");
  const partial = textOf(kept, "endless");
  expect(partial.length).toBeGreaterThan(0);

  studio = start();
  await healthy();
  const session = (await (await request.get(`${studio.base}/api/sessions/${id}`)).json()) as Record<string, unknown>;
  expect(session).toMatchObject({ status: "interrupted", endedAt: kept.checkpointAt, stages: { opening: { status: "completed" } }, error: { code: "interrupted" } });

  for (const locale of ["en-US", "ru-RU"]) {
    const context = await browser.newContext({ locale });
    const page = await context.newPage();
    const stoppedAt = await page.evaluate(([at, lang]) => new Intl.DateTimeFormat(lang, { timeStyle: "medium" }).format(new Date(at)), [kept.checkpointAt!, locale.slice(0, 2)] as const);
    for (const address of [`/history/${id}`, `/?run=${id}`]) {
      await page.goto(`${studio.base}${address}`);
      await expect(page.getByTestId("stage-opening")).toHaveAttribute("data-state", "done");
      await expect(page.getByTestId("stage-endless")).toHaveAttribute("data-state", "interrupted");
      await expect.poll(() => page.getByTestId("text-endless-dreamer").textContent()).toBe(partial);
      await expect(page.getByTestId("stage-interrupted")).toContainText(stoppedAt);
      await expect(page.getByTestId("stage-interrupted")).toContainText(locale === "en-US" ? "Stopped at" : "Остановлен");
      await expect(page.getByTestId("run-stopped-at")).toContainText(stoppedAt);
    }
    // The session page, as a reader sees it on a desk and on a phone, light and dark.
    await page.goto(`${studio.base}/history/${id}`);
    await expect(page.getByTestId("stage-endless")).toHaveAttribute("data-state", "interrupted");
    for (const [width, height] of [[1400, 900], [390, 844]] as const) {
      for (const colorScheme of schemesFor(locale)) {
        await page.setViewportSize({ width, height });
        await page.emulateMedia({ colorScheme });
        await shot(page, `session-interrupted-${locale.slice(0, 2)}-${width}-${colorScheme}`);
      }
    }
    await context.close();
  }
  studio.server.kill("SIGTERM");
  expect(await studio.exited).toBe(0);
});

test("a run whose session cannot be written ends failed with storage-failed, streamed and on the Run page in English and Russian", async ({ request, browser }) => {
  test.setTimeout(180_000);
  // A real read-only disk: a tmpfs remounted read-only mid-run (mounting needs root, as CI has; a folder
  // of mode 0555 would not do, since it does not stop root).
  const sessions = "sessions-read-only";
  const folder = path.join(work, sessions);
  execFileSync("mkdir", ["-p", folder]);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", folder], { stdio: "pipe" });
  } catch (error) {
    test.skip(true, `cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})`);
  }
  const studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 1, sessions });
  try {
    await expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 60_000 }).toBe(200);
    const started = await request.post(`${studio.base}/api/runs`, { data: { pipeline: "long", input: "Once" } });
    expect(started.status()).toBe(202);
    const { id } = (await started.json()) as { id: string };
    // The session exists: from now on nothing can be written.
    execFileSync("mount", ["-o", "remount,ro", folder], { stdio: "pipe" });
    const events = parseStream(await (await request.get(`${studio.base}/api/runs/${id}/events`)).text());
    const end = events.at(-1)!;
    expect(end.event).toBe("run-end");
    expect(end.data).toMatchObject({ status: "failed", error: { code: "storage-failed", params: { reason: "read-only", folder } } });
    expect(events.filter((event) => event.event === "run-end")).toHaveLength(1);

    for (const [locale, words] of [
      ["en-US", `The session could not be saved: the sessions folder ${folder} is on a read-only file system.`],
      ["ru-RU", `Сессию не удалось сохранить: папка сессий ${folder} находится на файловой системе только для чтения.`],
    ] as const) {
      const context = await browser.newContext({ locale });
      const page = await context.newPage();
      await page.goto(`${studio.base}/?run=${id}`);
      const outcome = page.locator("#run-outcome");
      await expect(outcome).toContainText(words);
      await expect(outcome.getByTestId("final-answer")).toHaveCount(0);
      await shot(page, `run-storage-failed-${locale.slice(0, 2)}`);
      await context.close();
    }
  } finally {
    studio.server.kill("SIGTERM");
    await studio.exited;
    execFileSync("umount", [folder]);
  }
});
