/**
 * The stage cache in a real browser, against the real server and model: a second run of the same
 * deterministic pipeline shows every stage served from the cache (and the plan before it says so); with
 * the box unticked, none is.
 */
import { expect, test, type Page } from "@playwright/test";
import { describeLeftOvers, englishLeft } from "./i18n-scan";
import { contrast, schemesFor, shot, watchConsole } from "./page-checks";

const stages = ["draft", "voices", "ending"];

/** Runs the base pipeline on `input` from the Run page's form and waits for its final answer; answers the run's id. */
async function runFromForm(page: Page, input: string, options: { cache: boolean }): Promise<string> {
  await page.goto("/?pipeline=base");
  await page.getByLabel("Input", { exact: true }).fill(input);
  const box = page.getByTestId("use-cache");
  await expect(box).toBeChecked();
  if (!options.cache) await box.uncheck();
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/run=/);
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  return new URL(page.url()).searchParams.get("run")!;
}

test("a second run of the same pipeline shows every stage cached; with the box unticked, none is", async ({ page }) => {
  const errors = watchConsole(page);
  // An input of its own: no earlier spec's run of the base pipeline fills the cache for it.
  const input = `A fox in the snow ${Date.now()}`;
  await runFromForm(page, input, { cache: true });
  for (const id of stages) await expect(page.getByTestId(`stage-${id}`)).toHaveAttribute("data-state", "done");
  const firstAnswer = await page.getByTestId("final-answer").innerText();

  // Before the second run, the plan for that input says the cache would serve every call, and, with the
  // box unticked, that each would run on its model (warm now).
  await page.goto("/?pipeline=base");
  await page.getByLabel("Input", { exact: true }).fill(input);
  const plan = page.getByTestId("run-plan");
  await expect(plan.getByTestId("plan-time")).toHaveText("every stage from the stage cache: no model is called");
  const actions = plan.getByTestId("plan-action");
  await expect(actions).toHaveCount(5);
  for (let index = 0; index < 5; index++) await expect(actions.nth(index)).toHaveAttribute("data-action", "cached");
  await page.getByTestId("use-cache").uncheck();
  await expect(actions.first()).toHaveAttribute("data-action", "warm");
  await expect(plan.getByTestId("plan-time")).not.toContainText("stage cache");

  const cachedRun = await runFromForm(page, input, { cache: true });
  for (const id of stages) {
    const stage = page.getByTestId(`stage-${id}`);
    await expect(stage).toHaveAttribute("data-state", "cached");
    await expect(stage.getByText("cached", { exact: true })).toBeVisible();
    await expect(page.getByTestId(`cached-${id}`)).toContainText("No model was called");
  }
  expect(await page.getByTestId("final-answer").innerText()).toBe(firstAnswer);

  // The session page of History says so too, from the stored session.
  await page.goto(`/history/${cachedRun}`);
  for (const id of stages) await expect(page.getByTestId(`stage-${id}`)).toHaveAttribute("data-state", "cached");

  await runFromForm(page, input, { cache: false });
  for (const id of stages) await expect(page.getByTestId(`stage-${id}`)).toHaveAttribute("data-state", "done");
  await expect(page.locator("[data-state=cached]")).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("screenshots of a run served from the cache, in both languages and themes, on both screens", async ({ browser, request }) => {
  test.setTimeout(300_000);
  const input = `The old lighthouse ${Date.now()}`;
  for (let round = 0; round < 2; round++) {
    const started = await request.post("/api/runs", { data: { pipeline: "base", input } });
    expect(started.status()).toBe(202);
    const id = ((await started.json()) as { id: string }).id;
    await expect.poll(async () => ((await (await request.get(`/api/sessions/${id}`)).json()) as { status?: string }).status, { timeout: 60_000 }).toBe("completed");
    if (round === 0) continue;
    for (const locale of ["en-US", "ru-RU"]) {
      for (const colorScheme of schemesFor(locale)) {
        for (const [size, viewport] of [
          ["1400x900", { width: 1400, height: 900 }],
          ["390x844", { width: 390, height: 844 }],
        ] as const) {
          const context = await browser.newContext({ locale, colorScheme, viewport });
          const page = await context.newPage();
          const errors = watchConsole(page);
          await page.goto(`/?pipeline=base&run=${id}`);
          await expect(page.getByTestId("stage-ending")).toHaveAttribute("data-state", "cached");
          await expect(page.getByTestId("final-answer")).not.toBeEmpty();
          if (locale === "ru-RU") {
            await expect(page.getByTestId("stage-draft").getByText("из кэша", { exact: true })).toBeVisible();
            const left = await englishLeft(page);
            expect(left, `English left:\n${describeLeftOvers(left)}`).toEqual([]);
          }
          // The timeline shows each stage as one part, cached, standing out from its lane (3:1 or more).
          const parts = await page.locator("[data-segment]").evaluateAll((nodes) =>
            nodes.map((node) => ({ kind: node.getAttribute("data-segment")!, color: getComputedStyle(node).backgroundColor, lane: getComputedStyle(node.parentElement!).backgroundColor })),
          );
          expect(new Set(parts.map((part) => part.kind))).toEqual(new Set(["cached"]));
          for (const part of parts) expect(await contrast(page, part.color, part.lane)).toBeGreaterThanOrEqual(3);
          await shot(page, `stage-cache-${locale.slice(0, 2)}-${colorScheme}-${size}`);
          expect(errors).toEqual([]);
          await context.close();
        }
      }
    }
  }
});
