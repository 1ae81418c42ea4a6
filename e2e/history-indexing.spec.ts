/**
 * A studio that starts on a large sessions folder without an index: History shows the sessions read so
 * far at once and says it is still indexing, then the whole list. A studio of its own on a folder made here.
 */
import { expect, test } from "@playwright/test";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { shot, watchConsole } from "./page-checks";
import { spawnStudio, work, type StudioProcess } from "./studio-process";

const sessions = "sessions-indexing";
const folder = path.join(work, sessions);
const count = 30_000;

let studio: StudioProcess | undefined;

test.afterAll(async () => {
  studio?.server.kill("SIGTERM");
  await studio?.exited;
  await rm(folder, { recursive: true, force: true });
});

test("History shows the sessions read so far while the index is rebuilt, says so, and then lists them all", async ({ page, request }) => {
  test.setTimeout(240_000);
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  const start = Date.UTC(2026, 0, 1);
  for (let index = 0; index < count; index++) {
    const time = new Date(start + index * 60_000);
    const stamp = time.toISOString().replace(/[-:]/g, "").slice(0, 15).replace("T", "-");
    const id = `${stamp}-${index.toString(16).padStart(6, "0")}`;
    const session = {
      version: 1,
      id,
      pipelineName: "base",
      input: `Once upon a time, story ${index}`,
      status: "completed",
      startedAt: time.toISOString(),
      pipeline: {},
      modelsConfig: {},
      models: {},
      stages: {},
      finalAnswer: "the end",
    };
    await writeFile(path.join(folder, `${id}.json`), JSON.stringify(session));
  }
  studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 4, sessions });
  const errors = watchConsole(page);
  await expect.poll(async () => (await request.get(`${studio!.base}/api/health`).catch(() => undefined))?.status(), { timeout: 120_000 }).toBe(200);
  await page.goto(`${studio.base}/history`);
  const note = page.getByRole("status").filter({ hasText: "Still indexing" });
  await expect(note).toBeVisible();
  await shot(page, "history-indexing-en-light-1400", { fullPage: false });
  // The page asks again each second until the index is whole; then the note goes and every session counts.
  await expect(note).toBeHidden({ timeout: 120_000 });
  await expect(page.getByText(`page 1 of ${count / 50} · ${count.toLocaleString("en-US")} sessions`)).toBeVisible();
  expect(errors).toEqual([]);
});
