/**
 * Damaged session files, in a studio of its own on a sessions folder made here: a torn file, one that is
 * not a session and one whose name is not a run id are listed in History as damaged, each with what is
 * wrong, in English and Russian, on a desktop and a phone; reading one says what is wrong with its file.
 */
import { expect, test } from "@playwright/test";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { describeLeftOvers, englishLeft } from "./i18n-scan";
import { schemesFor, shot, watchConsole } from "./page-checks";
import { spawnStudio, work, type StudioProcess } from "./studio-process";

const sessions = "sessions-damaged";
const folder = path.join(work, sessions);

/** A whole, valid session, as a run writes it (no stages: this test reads only the list). */
function session(id: string, input: string) {
  const startedAt = `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}.000Z`;
  return {
    version: 1,
    id,
    pipelineName: "base",
    input,
    status: "completed",
    startedAt,
    endedAt: startedAt,
    durationMs: 200,
    pipeline: { stages: [{ id: "draft", type: "single", model: "storyteller" }] },
    modelsConfig: {},
    models: {},
    stages: {},
    finalAnswer: "and they lived happily",
  };
}

const good = "20261124-120102-3fa9c1";
const torn = "20261124-130000-0a0b0c";
const wrongShape = "20261124-140000-1d2e3f";
const misnamed = "a copy of a run.json";

let studio: StudioProcess;

test.beforeAll(async ({ request }) => {
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, `${good}.json`), JSON.stringify(session(good, "Once upon a time there was a fox")));
  // A write cut short (by a full disk, or a copy that stopped halfway), a hand edit that broke the format, a copy under another name.
  await writeFile(path.join(folder, `${torn}.json`), JSON.stringify(session(torn, "Once upon a time")).slice(0, 70));
  await writeFile(path.join(folder, `${wrongShape}.json`), JSON.stringify({ ...session(wrongShape, "Once"), status: "paused" }));
  await writeFile(path.join(folder, misnamed), JSON.stringify(session(good, "Once upon a time there was a fox")));
  studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 3, sessions });
  await expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 120_000 }).toBe(200);
});

test.afterAll(async () => {
  studio?.server.kill("SIGTERM");
  await studio?.exited;
});

test("History lists the damaged session files apart, each with what is wrong, in English and Russian, on a desktop and a phone", async ({ browser }) => {
  test.setTimeout(180_000);
  for (const locale of ["en-US", "ru-RU"]) {
    for (const colorScheme of schemesFor(locale)) {
      for (const viewport of [{ width: 1400, height: 900 }, { width: 390, height: 844 }]) {
        const context = await browser.newContext({ locale, colorScheme, viewport });
        const page = await context.newPage();
        const errors = watchConsole(page);
        await page.goto(`${studio.base}/history`);
        await expect(page.getByTestId(`session-row-${good}`)).toBeVisible();
        const damaged = page.getByTestId("damaged-sessions");
        await expect(damaged).toBeVisible();
        await expect(damaged.getByRole("listitem")).toHaveCount(3);
        // Each row: the file's name (as data), what is wrong in the page's language, and the reader's own words.
        const english = locale.startsWith("en");
        await expect(damaged.getByRole("heading")).toHaveText(english ? "3 damaged session files" : "3 повреждённых файла сессий");
        await expect(page.getByTestId(`damaged-${torn}.json`)).toContainText(english ? "not JSON (torn or edited by hand)" : "не JSON (файл обрезан или правлен вручную)");
        await expect(page.getByTestId(`damaged-${torn}.json`).locator("[translate=no]").first()).toHaveText(`${torn}.json`);
        await expect(page.getByTestId(`damaged-${wrongShape}.json`)).toContainText(english ? "not a session" : "не сессия");
        await expect(page.getByTestId(`damaged-${wrongShape}.json`)).toContainText("status");
        await expect(page.getByTestId(`damaged-${misnamed}`)).toContainText(english ? "its name is not a session ID" : "имя файла — не идентификатор сессии");
        // The damaged files are not sessions: the count is of the one session.
        await expect(page.getByText(english ? /^1 session$/ : /^1 сессия$/)).toBeVisible();
        expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
        if (!english) {
          const left = await englishLeft(page);
          expect(left, `English left on ${page.url()}:\n${describeLeftOvers(left)}`).toEqual([]);
        }
        await shot(page, `history-damaged-${locale.slice(0, 2)}-${colorScheme}-${viewport.width}`);
        expect(errors).toEqual([]);
        await context.close();
      }
    }
  }
});

test("reading a damaged session says what is wrong with its file, in the API and on its page", async ({ page, request }) => {
  const response = await request.get(`${studio.base}/api/sessions/${torn}`);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(response.status()).toBe(500);
  expect(body.error.code).toBe("session-damaged");
  expect(body.error.message).toContain(`session file ${torn}.json in ${folder} is not JSON`);
  expect(body.error.message).toContain("project-llm sessions check");
  expect(body.error.message).not.toContain("rebuildIndex");

  await page.goto(`${studio.base}/history/${torn}`);
  await expect(page.getByText(`The session file ${torn}.json is damaged: it is not JSON (torn or edited by hand).`)).toBeVisible();
});
