/**
 * The plan before a run on the Run page: the demo pipeline's plan (its loads in order, memory, time), and
 * on a studio of its own whose memory budget nothing fits in, the refusal in the plan and at Run, and the
 * HTTP API's 422 with the plan. In the editor, the plan of what its Run would run: the canvas's unsaved
 * edits as they are, refused the same way. Screenshots, on a desk and on a phone, light and dark, en and ru.
 */
import { expect, test } from "@playwright/test";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { openInEditor, readPipelineText, writePipeline } from "./editor-helpers";
import { describeLeftOvers, englishLeft } from "./i18n-scan";
import { runToEnd, schemesFor, shot } from "./page-checks";
import { spawnStudio, work, type StudioProcess } from "./studio-process";

const sizes = [
  [1400, 900],
  [390, 844],
] as const;

/** Shown in Russian, the page has no English left (see `englishLeft`); then screenshots. */
async function screenshots(page: import("@playwright/test").Page, name: string, locale: string): Promise<void> {
  if (locale === "ru-RU") {
    const left = await englishLeft(page);
    expect(left, `English left:\n${describeLeftOvers(left)}`).toEqual([]);
  }
  for (const [width, height] of sizes) {
    for (const colorScheme of schemesFor(locale)) {
      await page.setViewportSize({ width, height });
      await page.emulateMedia({ colorScheme });
      await page.getByTestId("run-plan").scrollIntoViewIfNeeded();
      await shot(page, `plan-${name}-${locale.slice(0, 2)}-${width}-${colorScheme}`);
    }
  }
}

test("the Run page shows the demo pipeline's plan: its model calls in the pipeline's order, memory and time", async ({ browser }) => {
  for (const locale of ["en-US", "ru-RU"]) {
    const context = await browser.newContext({ locale });
    const page = await context.newPage();
    await page.goto("/");
    const plan = page.getByTestId("run-plan");
    await expect(plan.getByTestId("plan-fit")).toHaveText(locale === "en-US" ? "fits" : "помещается");
    // draft (storyteller), voices (storyteller, dreamer, critic: one file, one load), ending (dreamer).
    await expect(plan.getByTestId("plan-step")).toHaveCount(5);
    await expect(plan.getByTestId("plan-step").first()).toContainText("draft");
    await expect(plan.getByTestId("plan-action").first()).toHaveAttribute("data-action", /load|warm/);
    await expect(plan.getByTestId("plan-ram")).toContainText(/MiB|МиБ/);
    await screenshots(page, "demo", locale);
    await context.close();
  }
});

test("after a run, the plan estimates the time from the rates it measured, and finds the models warm", async ({ page, request }) => {
  await runToEnd(request, "base", "Once upon a time");
  await page.goto("/");
  const plan = page.getByTestId("run-plan");
  await expect(plan.getByTestId("plan-time")).toContainText("up to");
  await expect(plan.getByTestId("plan-action").first()).toHaveAttribute("data-action", "warm");
  await screenshots(page, "measured", "en-US");
});

test("the editor shows the plan of its canvas: the file's, then the unsaved edits' as they are", async ({ browser }) => {
  const text = `pipeline:
  stages:
    - id: draft
      type: single
      model: storyteller
    - id: ending
      type: single
      model: dreamer
      input_from: draft
`;
  const name = await writePipeline("planned", text);
  for (const locale of ["en-US", "ru-RU"]) {
    const context = await browser.newContext({ locale });
    const page = await context.newPage();
    await openInEditor(page, name, "draft");
    const plan = page.getByTestId("run-plan");
    await expect(plan.getByRole("heading")).toHaveText(locale === "en-US" ? "Plan" : "План");
    await expect(plan.getByTestId("plan-step")).toHaveCount(2);
    await expect(plan.getByTestId("plan-step").first()).toContainText("storyteller");
    // draft's model changed on the canvas, not saved: the plan is of the edit (one model for both stages).
    await page.getByTestId("stage-node-draft").click();
    await page.getByTestId("inspector").getByRole("combobox", { name: /^(Модель)?model$/ }).selectOption("dreamer");
    await expect(plan.getByRole("heading")).toHaveText(locale === "en-US" ? "Plan of the unsaved edits" : "План несохранённых правок");
    await expect(plan.getByTestId("plan-step").first()).toContainText("dreamer");
    await expect(plan.getByTestId("plan-step").nth(1)).toContainText("dreamer");
    await expect(plan.getByTestId("plan-action").nth(1)).not.toHaveAttribute("data-action", "load");
    await screenshots(page, "editor", locale);
    await context.close();
  }
  expect(await readPipelineText(name)).toBe(text);
});

test.describe("a pipeline that cannot fit", () => {
  const config = path.join(work, "plan-config");
  let studio: StudioProcess;

  test.beforeAll(async ({ request }) => {
    await mkdir(config, { recursive: true });
    // A memory budget of 0.001% of the RAM (a quarter of a MiB on a machine of 24 GiB): no model fits in it.
    const models = (await readFile("config/models.example.yaml", "utf8")).replace(/^memory_safety:\n(?: {2}.*\n)+/m, "");
    await writeFile(path.join(config, "models.yaml"), `memory_safety:\n  ram: 0.00001\n${models}`);
    await copyFile("config/pipeline.example.yaml", path.join(config, "pipeline.yaml"));
    studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 4, sessions: "sessions-plan", env: { PROJECT_LLM_CONFIG_DIR: config } });
    await expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 120_000 }).toBe(200);
  });

  test.afterAll(async () => {
    studio?.server.kill("SIGTERM");
    await studio?.exited;
  });

  test("shows the refusal in the plan, and Run is refused with the plan's reason", async ({ browser, request }) => {
    for (const locale of ["en-US", "ru-RU"]) {
      const context = await browser.newContext({ locale });
      const page = await context.newPage();
      await page.goto(`${studio.base}/`);
      const plan = page.getByTestId("run-plan");
      await expect(plan.getByTestId("plan-fit")).toHaveText(locale === "en-US" ? "does not fit" : "не помещается");
      await expect(plan.getByTestId("plan-problems")).toContainText("storyteller");
      await expect(plan.getByTestId("plan-advice").first()).toBeVisible();
      await page.getByLabel(locale === "en-US" ? "Input" : "Входной текст", { exact: true }).fill("Once upon a time");
      await page.getByRole("button", { name: locale === "en-US" ? "Run" : "Запустить", exact: true }).click();
      const refusal = page.getByRole("alert").filter({ hasText: locale === "en-US" ? "The run could not start" : "Не удалось запустить пайплайн" });
      await expect(refusal).toContainText(locale === "en-US" ? "does not fit in memory" : "не помещается в память");
      await expect(refusal).toContainText("storyteller");
      await screenshots(page, "refused", locale);
      await context.close();
    }
    // The editor's Run of unsaved edits: its plan says so before, and the server refuses it the same way.
    const page = await browser.newPage();
    await page.goto(`${studio.base}/editor?pipeline=base`);
    await page.getByTestId("stage-node-draft").click();
    await page.getByLabel("max_tokens").fill("9");
    const plan = page.getByTestId("run-plan");
    await expect(plan.getByRole("heading")).toHaveText("Plan of the unsaved edits");
    await expect(plan.getByTestId("plan-fit")).toHaveText("does not fit");
    await page.getByLabel("Input for a run").fill("Once upon a time");
    await page.getByRole("button", { name: "Run unsaved ▶" }).click();
    await expect(page.getByTestId("notice")).toContainText("does not fit in memory");
    await page.close();
    const response = await request.post(`${studio.base}/api/runs`, { data: { pipeline: "base", input: "Once upon a time" } });
    expect(response.status()).toBe(422);
    const body = (await response.json()) as { error: { code: string; params: { model: string }; plan: { fits: boolean; advice: string[] } } };
    expect(body.error.code).toBe("plan-does-not-fit");
    expect(body.error.params.model).toBe("storyteller");
    expect(body.error.plan.fits).toBe(false);
    expect(body.error.plan.advice.length).toBeGreaterThan(0);
    // Nothing ran: no session was kept.
    const sessions = (await (await request.get(`${studio.base}/api/trpc/sessions.list?input=${encodeURIComponent("{}")}`)).json()) as { result: { data: { total: number } } };
    expect(sessions.result.data.total).toBe(0);
  });
});
