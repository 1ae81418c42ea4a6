/**
 * The plain HTTP surface against the real server: starting a run, following it as text/event-stream
 * (with Last-Event-ID), reading its session, and errors as JSON with the right status. Then a second
 * server of the same build, stopped with SIGTERM mid-run: the run is marked interrupted and the worker goes.
 */
import { expect, test } from "@playwright/test";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { spawnStudio, work, workerPids } from "./studio-process";


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
  const started = await request.post("/api/runs", { data: { pipeline: "base", input: "Once upon a time" } });
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
  // A stop that completes is a clean one: exit code 0, as a supervisor (`docker stop`) expects.
  expect(await exited).toBe(0);
  expect(output()).toContain("SIGTERM: stopping the runs in progress");
  const session = JSON.parse(await readFile(path.join(work, "sessions-sigterm", `${id}.json`), "utf8")) as { status: string };
  expect(session.status).toBe("interrupted");
  // This server's worker is gone (the suite's own server keeps its own).
  await expect.poll(() => before.filter((pid) => workers().includes(pid)).length, { timeout: 10_000 }).toBeLessThan(before.length);
});
