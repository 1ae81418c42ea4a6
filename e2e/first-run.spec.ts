/**
 * The README's quick start, as a new user does it: a studio with no session yet, `/` opened, Run pressed.
 * A server of its own, with a sessions folder made empty for it, so that it is the studio's very first
 * run (its inference worker starts with it).
 */
import { expect, test } from "@playwright/test";
import { rm } from "node:fs/promises";
import path from "node:path";
import { shot, watchConsole } from "./page-checks";
import { spawnStudio, work } from "./studio-process";

test("on a studio with no session, Run on the first page runs the demo pipeline at once, and its timeline says what the first seconds went to", async ({ page, request }) => {
  test.setTimeout(180_000);
  const sessions = "sessions-first-run";
  await rm(path.join(work, sessions), { recursive: true, force: true });
  const studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 4, sessions });
  try {
    await expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 120_000 }).toBe(200);
    const errors = watchConsole(page);
    await page.goto(`${studio.base}/`);
    const input = page.getByLabel("Input", { exact: true });
    // The demo's sample is there to run (not a placeholder that looks like text).
    await expect(input).toHaveValue("Once upon a time");
    await expect(input).not.toHaveAttribute("placeholder", "Once upon a time");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
    await expect(page.getByTestId("run-status")).toHaveText("completed");

    // The first run waited for the inference worker to start and loaded its model: the timeline says so.
    const timeline = page.getByRole("region", { name: "Timeline" });
    await expect(timeline).toContainText("waiting for the inference worker");
    const firstLane = timeline.getByTestId("lane-draft/storyteller");
    const share = (segment: string) => firstLane.locator(`[data-segment=${segment}]`).evaluate((node) => parseFloat((node as HTMLElement).style.width));
    expect(await share("waiting"), "share of the timeline spent waiting, in %").toBeGreaterThan(0);
    await expect(firstLane.locator("[data-segment=generating]")).toHaveCount(1);
    // Its first call loaded the model: a 1 MiB file may load within the millisecond of its first event, a
    // part too short to draw, so the session's load report says it.
    await expect(page).toHaveURL(/run=\d{8}-\d{6}-[0-9a-f]{6}/);
    const runId = new URL(page.url()).searchParams.get("run")!;
    const stored = (await (await request.get(`${studio.base}/api/sessions/${runId}`)).json()) as { stages: Record<string, { models: Array<{ load?: { loaded: boolean } }> }> };
    expect(stored.stages.draft!.models[0]!.load?.loaded).toBe(true);
    await shot(page, "run-first-run");

    // Once the studio has a session, the form starts empty: the past inputs are there to reuse.
    await page.goto(`${studio.base}/`);
    await expect(page.getByRole("heading", { name: "Past inputs" })).toBeVisible();
    await expect(input).toHaveValue("");
    await shot(page, "run-form-empty", { fullPage: false });
    expect(errors).toEqual([]);
  } finally {
    studio.server.kill("SIGTERM");
    await studio.exited;
  }
});
