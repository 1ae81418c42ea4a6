/**
 * The Run page in a real browser, on a desk's screen and a phone's, against the real server and model:
 * the page never grows wider than the window, a second run is a deliberate act, a replay is a replay,
 * streaming text is followed while the reader is at its end, and the page does not jump.
 */
import { expect, test, type Locator, type Page } from "@playwright/test";
import { openInEditor, writePipeline } from "./editor-helpers";
import { describeLeftOvers, englishLeft } from "./i18n-scan";
import { contrast, runToEnd, schemesFor, shot, throttle, watchConsole } from "./page-checks";

const desk = { width: 1400, height: 900 };
const phone = { width: 390, height: 844 };

/**
 * From the next page loaded on, samples the page on every frame: the widest the document got past the
 * window's width, and what the page said about the run (a live run's words, a replay's, a Cancel button).
 */
async function watchFrames(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const seen = { overflow: 0, running: false, replaying: false, cancel: false };
    (window as unknown as { __frames: typeof seen }).__frames = seen;
    const sample = () => {
      seen.overflow = Math.max(seen.overflow, document.documentElement.scrollWidth - window.innerWidth);
      const status = document.querySelector("[data-testid=run-status]")?.textContent ?? document.querySelector("main")?.innerText ?? "";
      if (/\brunning\b/.test(status)) seen.running = true;
      if (/\breplaying\b/.test(status)) seen.replaying = true;
      if ([...document.querySelectorAll("button")].some((button) => button.textContent?.trim() === "Cancel")) seen.cancel = true;
      requestAnimationFrame(sample);
    };
    requestAnimationFrame(sample);
  });
}

function frames(page: Page): Promise<{ overflow: number; running: boolean; replaying: boolean; cancel: boolean }> {
  return page.evaluate(() => (window as unknown as { __frames: { overflow: number; running: boolean; replaying: boolean; cancel: boolean } }).__frames);
}

/**
 * Starts a run of `pipeline` from the form; returns its id once the address names it. The run is computed,
 * not served from the stage cache (these tests watch a run as it goes; others run the same inputs).
 */
async function runFromForm(page: Page, pipeline: string, input: string): Promise<string> {
  await page.goto(`/?pipeline=${pipeline}`);
  await expect(page.getByLabel("Pipeline", { exact: true })).toHaveValue(pipeline);
  await page.getByLabel("Input", { exact: true }).fill(input);
  await page.getByTestId("use-cache").uncheck();
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/run=\d{8}-\d{6}-[0-9a-f]{6}/);
  return new URL(page.url()).searchParams.get("run")!;
}

/**
 * Slows the page's network before Run. The page opened the next run's event stream when it loaded, and a
 * connection made before the network was slowed is not slowed: it opens a new one as it does when it
 * becomes visible again.
 */
async function slowRunEvents(page: Page, bytesPerSecond: number): Promise<void> {
  await throttle(page, bytesPerSecond);
  await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
}

/** Whether an element's text is cut: it shows less than it holds, across or down. */
function clipped(element: Locator): Promise<boolean> {
  return element.evaluate((node) => node.scrollWidth > node.clientWidth + 1 || node.scrollHeight > node.clientHeight + 1);
}

test.describe("the run view never makes the page wider than the window", () => {
  for (const [name, viewport] of [
    ["1400x900", desk],
    ["390x844", phone],
  ] as const) {
    test(`at ${name}, while a run streams, at its end, and in its replay`, async ({ page }) => {
      const errors = watchConsole(page);
      await page.setViewportSize(viewport);
      await watchFrames(page);
      const id = await runFromForm(page, "story", "Once upon a time");
      await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
      expect((await frames(page)).overflow, "widest past the window during the run").toBeLessThanOrEqual(0);

      await page.goto(`/?run=${id}&pace=recorded`);
      await expect(page.getByTestId("stage-ending")).toHaveAttribute("data-state", "done", { timeout: 60_000 });
      await expect(page.getByTestId("final-answer")).not.toBeEmpty();
      expect((await frames(page)).overflow, "widest past the window during the replay").toBeLessThanOrEqual(0);

      // The session page shows the same run (its stage graph included).
      await page.goto(`/history/${id}`);
      await expect(page.getByTestId("final-answer")).toBeVisible();
      expect((await frames(page)).overflow, "widest past the window on the session page").toBeLessThanOrEqual(0);
      expect(errors).toEqual([]);
    });
  }
});

test("on a phone, the run comes right after the form, before the past inputs", async ({ page, request }) => {
  const errors = watchConsole(page);
  // Past inputs to list: the list must not push the run out of sight.
  for (const input of ["The little dog", "The big cat", "A boat on the sea"]) await runToEnd(request, "base", input);
  await page.setViewportSize(phone);
  await watchFrames(page);
  await runFromForm(page, "story", "Once upon a time");
  const opening = page.getByTestId("stage-opening");
  await expect(opening).toHaveAttribute("data-state", /generating|done/);
  // The first stage's panel starts in the first screenful, as the page is after Run.
  const top = await opening.evaluate((node) => node.getBoundingClientRect().top);
  expect(top).toBeLessThan(phone.height - 60);
  const past = page.getByRole("heading", { name: "Past inputs" });
  await expect(past).toBeVisible();
  expect(await past.evaluate((node) => node.getBoundingClientRect().top)).toBeGreaterThan(top);
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  expect((await frames(page)).overflow).toBeLessThanOrEqual(0);
  await shot(page, "run-phone-past-inputs");
  expect(errors).toEqual([]);
});

test("Run while a run goes: the page says so, another run is a deliberate act, and the first stays reachable", async ({ page }) => {
  const errors = watchConsole(page);
  const first = await runFromForm(page, "marathon", "A long time ago");
  await expect(page.getByTestId("stage-leg1")).toHaveAttribute("data-state", /loading|generating/);
  // No Run button that would start a second run out of sight: Cancel, and a button that says what it does.
  await expect(page.getByRole("button", { name: "Run", exact: true })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Cancel" })).toBeVisible();
  await page.getByRole("button", { name: "Run another" }).click();
  await expect(page).not.toHaveURL(new RegExp(`run=${first}`));
  const second = new URL(page.url()).searchParams.get("run")!;
  expect(second).toMatch(/^\d{8}-\d{6}-[0-9a-f]{6}$/);

  // The first run is listed as in progress, and its link shows it.
  const inProgress = page.getByRole("region", { name: "Runs in progress" });
  const link = inProgress.locator(`a[href*="run=${first}"]`);
  await expect(link).toBeVisible();
  await shot(page, "run-two-in-progress");
  await link.click();
  await expect(page).toHaveURL(new RegExp(`run=${first}`));
  await expect(page.getByTestId("stage-leg1")).toBeVisible();
  await expect(page.getByTestId("text-leg1-storyteller")).not.toBeEmpty();

  // Each is cancelled from its own page.
  for (const id of [first, second]) {
    await page.goto(`/?run=${id}`);
    await expect(page.getByTestId("run-status")).toHaveText("running");
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect(page.getByTestId("run-status")).toHaveText("cancelled");
  }
  expect(errors).toEqual([]);
});

test.describe("a replay", () => {
  test("of a failed session says it is a replay, never offers Cancel, and ends failed; the run's config warning and its stages' errors are shown", async ({ page, request }) => {
    const errors = watchConsole(page);
    const id = await runToEnd(request, "fails", "Once upon a time");
    await watchFrames(page);
    await page.goto(`/?run=${id}&pace=recorded`);
    await expect(page.getByRole("region", { name: "Result" })).toContainText("failed", { timeout: 60_000 });
    const seen = await frames(page);
    expect(seen.replaying, "said replaying while it replayed").toBe(true);
    expect(seen.running, "said running").toBe(false);
    expect(seen.cancel, "offered Cancel").toBe(false);
    await expect(page.getByTestId("run-status")).toHaveText("failed");
    await expect(page.getByRole("button", { name: "Stop replay" })).toHaveCount(0);

    await expect(page.getByTestId("stage-cramped")).toHaveAttribute("data-state", "failed");
    await expect(page.getByTestId("stage-cramped")).toContainText(/The prompt for cramped has \d+ tokens, more than its context of \d+/);
    await expect(page.getByTestId("stage-after")).toHaveAttribute("data-state", "skipped");
    await expect(page.getByTestId("stage-after")).toContainText("Not run: stage cramped failed");
    await expect(page.getByRole("region", { name: "Result" })).toContainText("failed");
    await expect(page.getByRole("region", { name: "Config warnings" })).toContainText("declared Q4_K_M");
    await shot(page, "run-replay-failed");
    expect(errors).toEqual([]);
  });

  test("has its own Stop, which shows the stored run at once", async ({ page, request }) => {
    const errors = watchConsole(page);
    // Computed: a replay of it generates as the run did (a run served from the stage cache ends at once).
    // Three stages of 1,500 tokens: its replay lasts seconds, as the marathon's, at a third of its run.
    const id = await runToEnd(request, "long", "A long time ago", undefined, { cache: false });
    await page.goto(`/?run=${id}&pace=recorded`);
    await expect(page.getByTestId("stage-one")).toHaveAttribute("data-state", "generating");
    await expect(page.getByRole("button", { name: "Cancel" })).toHaveCount(0);
    await expect(page.getByTestId("run-status")).toHaveText("replaying");
    await page.getByRole("button", { name: "Stop replay" }).click();
    await expect(page).not.toHaveURL(/pace=recorded/);
    await expect(page.getByTestId("run-status")).toHaveText("completed");
    await expect(page.getByTestId("final-answer")).not.toBeEmpty();
    await expect(page.getByTestId("stage-three")).toHaveAttribute("data-state", "done");
    await expect(page.getByRole("button", { name: "Stop replay" })).toHaveCount(0);
    expect(errors).toEqual([]);
  });
});

test("a stage's text box follows new text while the reader is at its end, and stays where the reader scrolled", async ({ page }) => {
  const errors = watchConsole(page);
  // On a phone's screen, where a stage's text is many lines.
  await page.setViewportSize(phone);
  // Long enough that the run still goes when it is cancelled at the end, however slow the watching was.
  await page.goto("/?pipeline=marathon");
  await page.getByLabel("Input", { exact: true }).fill("A long time ago");
  await page.getByTestId("use-cache").uncheck();
  // The run's events come over seconds instead of one.
  await slowRunEvents(page, 3_000);
  await page.getByRole("button", { name: "Run", exact: true }).click();
  const box = page.getByTestId("text-leg1-storyteller");
  const geometry = () => box.evaluate((node) => ({ top: node.scrollTop, height: node.scrollHeight, below: node.scrollHeight - node.scrollTop - node.clientHeight }));
  await expect.poll(async () => (await geometry()).height > (await box.evaluate((node) => node.clientHeight)) + 100, { timeout: 60_000 }).toBe(true);
  await expect(page.getByTestId("stage-leg1")).toHaveAttribute("data-state", "generating");
  // At the end while text comes.
  await expect.poll(async () => (await geometry()).below).toBeLessThanOrEqual(2);

  // The reader scrolls up: the box stays there while more text comes.
  // One turn of the wheel: the box goes to its top while text comes (the text's own moves of the box to its
  // end neither undo the turn nor cut its smooth scroll short).
  await box.hover();
  await page.mouse.wheel(0, -100_000);
  await expect.poll(async () => (await geometry()).top).toBe(0);
  const before = (await geometry()).height;
  await expect.poll(async () => (await geometry()).height).toBeGreaterThan(before + 40);
  expect((await geometry()).top).toBe(0);

  // Back at the end: followed again.
  await page.mouse.wheel(0, 100_000);
  const again = (await geometry()).height;
  await expect.poll(async () => (await geometry()).height).toBeGreaterThan(again + 40);
  await expect.poll(async () => (await geometry()).below).toBeLessThanOrEqual(2);
  await expect(page.getByTestId("stage-leg1")).toHaveAttribute("data-state", "generating");

  await throttle(page, null);
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByTestId("run-status")).toHaveText("cancelled");
  expect(errors).toEqual([]);
});

for (const [name, viewport, locale] of [
  ["1400x900", desk, "en-US"],
  ["390x844", phone, "en-US"],
  ["390x844, in Russian", phone, "ru-RU"],
] as const) {
  test(`at ${name}, the page does not jump while the run's text comes, nor when the final answer appears`, async ({ browser }) => {
    const context = await browser.newContext({ locale, viewport });
    const page = await context.newPage();
    const errors = watchConsole(page);
    // Where the first and the last stage's panels are on screen, frame by frame, with whether the first
    // has text yet and whether the final answer is there.
    await page.addInitScript(() => {
      const samples: Array<{ final: boolean; text: boolean; first: number | null; last: number | null }> = [];
      (window as unknown as { __samples: typeof samples }).__samples = samples;
      const top = (selector: string) => document.querySelector(selector)?.getBoundingClientRect().top ?? null;
      const sample = () => {
        samples.push({
          final: document.querySelector("[data-testid=final-answer]") !== null,
          text: (document.querySelector("[data-testid=text-opening-storyteller]")?.textContent ?? "").trim().length > 0,
          first: top("[data-testid=stage-opening]"),
          last: top("[data-testid=stage-ending]"),
        });
        requestAnimationFrame(sample);
      };
      requestAnimationFrame(sample);
    });
    await page.goto("/?pipeline=story");
    await page.locator("form textarea").fill("Once upon a time");
    // Computed, so that its text comes over time (a run served from the stage cache ends at once).
    await page.getByTestId("use-cache").uncheck();
    await page.locator("form button[type=submit]").click();
    await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
    const samples = await page.evaluate(() => (window as unknown as { __samples: Array<{ final: boolean; text: boolean; first: number | null; last: number | null }> }).__samples);
    // From its first text on, the first stage stays where it is.
    const reading = samples.filter((sample) => sample.text);
    expect(reading.length).toBeGreaterThan(0);
    expect(new Set(reading.map((sample) => sample.first))).toEqual(new Set([reading[0]!.first]));
    // The last stage, read as the run ends, stays where it is when the final answer comes.
    const firstWith = samples.findIndex((sample) => sample.final);
    const lastWithout = samples[firstWith - 1]!;
    expect(lastWithout.last).not.toBeNull();
    expect(samples[firstWith]!.last).toBe(lastWithout.last);
    expect(errors).toEqual([]);
    await context.close();
  });
}

test("a run of an unsaved pipeline (the editor's canvas) is shown as such, and the form offers a pipeline it can run", async ({ page, request }) => {
  const errors = watchConsole(page);
  const started = await request.post("/api/runs", {
    data: { pipeline: { stages: [{ id: "solo", type: "single", model: "storyteller", params: { max_tokens: 24 } }] }, input: "Once upon a time" },
  });
  expect(started.status()).toBe(202);
  const { id } = (await started.json()) as { id: string };
  await page.goto(`/?pipeline=unsaved&run=${id}`);
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  await expect(page.getByText("an unsaved pipeline")).toBeVisible();
  await expect(page.getByLabel("Pipeline", { exact: true })).toHaveValue("base");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).not.toHaveURL(new RegExp(`run=${id}`));
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  await expect(page.locator("main").getByRole("alert")).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("past inputs list each input once, the most recent first", async ({ page, request }) => {
  const errors = watchConsole(page);
  const tag = Date.now().toString(36);
  await runToEnd(request, "base", `Twice ${tag}`);
  await runToEnd(request, "story", `Once ${tag}`);
  await runToEnd(request, "base", `Twice ${tag}`);
  await page.goto("/");
  // Each past input is a button that puts it back in the form.
  const items = page.getByRole("listitem").filter({ has: page.getByRole("button") });
  await expect(items.first()).toContainText(`Twice ${tag}`);
  await expect(items.filter({ hasText: `Twice ${tag}` })).toHaveCount(1);
  await expect(items.nth(1)).toContainText(`Once ${tag}`);
  const texts = await items.allTextContents();
  expect(new Set(texts).size).toBe(texts.length);
  expect(errors).toEqual([]);
});

test("a cancel is said once, as a cancel, not as an error", async ({ page }) => {
  const errors = watchConsole(page);
  await runFromForm(page, "marathon", "A long time ago");
  await expect(page.getByTestId("stage-leg1")).toHaveAttribute("data-state", "generating");
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByTestId("stage-leg8")).toHaveAttribute("data-state", "cancelled");
  const result = page.getByRole("region", { name: "Result" });
  await expect(result).toContainText("cancelled");
  expect((await result.innerText()).match(/cancel/gi)).toHaveLength(1);
  await expect(page.locator("main").getByRole("alert")).toHaveCount(0);
  // Neutral: not in the red of a failure.
  // (The colour painted on a canvas: Tailwind's colours are written in oklch.)
  const [red, green, blue] = await result.evaluate((node) => {
    const context = document.createElement("canvas").getContext("2d")!;
    context.fillStyle = getComputedStyle(node).borderTopColor;
    context.fillRect(0, 0, 1, 1);
    return [...context.getImageData(0, 0, 1, 1).data];
  });
  expect(red! - Math.max(green!, blue!)).toBeLessThan(40);
  await shot(page, "run-cancelled-neutral");
  expect(errors).toEqual([]);
});

test("every answer of a vote tally can be read whole, from the keyboard too", async ({ page, request }) => {
  const errors = watchConsole(page);
  // Three different answers of 300 tokens each (the models' sampling is seeded): each is cut at first.
  const id = await runToEnd(request, "tally", "Once upon a time");
  await page.goto(`/?run=${id}`);
  const table = page.getByRole("table", { name: "Vote tallies of voices" });
  await expect(table).toBeVisible();
  const rows = table.locator("tbody tr");
  await expect(rows).toHaveCount(3);
  for (const row of await rows.all()) {
    const answer = row.locator("td").first().locator("div").first();
    expect(await clipped(answer), "cut before it is opened").toBe(true);
    await row.getByRole("button", { name: "Show the whole answer" }).focus();
    await page.keyboard.press("Enter");
    await expect(row.getByRole("button", { name: "Show less" })).toHaveAttribute("aria-expanded", "true");
    for (const cell of await row.locator("td, td *").all()) expect(await clipped(cell), await cell.innerText()).toBe(false);
  }
  await shot(page, "run-vote-tally");
  expect(errors).toEqual([]);
});

test("screenshots of the Run page while a run streams and after it, in both languages and themes, on both screens", async ({ browser }) => {
  test.setTimeout(600_000);
  for (const locale of ["en-US", "ru-RU"]) {
    for (const colorScheme of schemesFor(locale)) {
      for (const [size, viewport] of [
        ["1400x900", desk],
        ["390x844", phone],
      ] as const) {
        const context = await browser.newContext({ locale, colorScheme, viewport });
        const page = await context.newPage();
        const errors = watchConsole(page);
        const name = `run-${locale.slice(0, 2)}-${colorScheme}-${size}`;
        await page.goto("/?pipeline=story");
        await page.locator("form textarea").fill("Once upon a time");
        // Each round runs the same input: computed again, not served from the stage cache, so that it streams.
        await page.getByTestId("use-cache").uncheck();
        await slowRunEvents(page, 6_000);
        await page.locator("form button[type=submit]").click();
        await expect(page.getByTestId("stage-voices")).toHaveAttribute("data-state", "generating", { timeout: 60_000 });
        await shot(page, `${name}-streaming`);
        if (locale === "ru-RU") {
          const left = await englishLeft(page);
          expect(left, `English left while the run streams:\n${describeLeftOvers(left)}`).toEqual([]);
        }
        await throttle(page, null);
        await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
        await shot(page, `${name}-ended`);
        expect(errors).toEqual([]);
        await context.close();
      }
    }
  }
});

test("a stage's failure is said whole in the page's language, its values kept as data", async ({ browser, request }) => {
  const id = await runToEnd(request, "fails", "Once upon a time");
  const context = await browser.newContext({ locale: "ru-RU" });
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.goto(`/?run=${id}`);
  const stage = page.getByTestId("stage-cramped");
  await expect(stage).toHaveAttribute("data-state", "failed");
  // The cramped model has a small context (64 tokens asked; node-llama-cpp makes it 256); the draft it reads is longer.
  await expect(stage).toContainText(/Промпт для модели cramped — \d+ токен(а|ов)?, больше её контекста \(\d+\): сократите входной текст или увеличьте у модели параметр context_size\./);
  await expect(stage).not.toContainText("the prompt has");
  // The model's name and the key are data; the sentence around them is Russian.
  await expect(stage.locator('[translate="no"]', { hasText: /^cramped$/ }).first()).toBeVisible();
  await expect(stage.locator('[translate="no"]', { hasText: /^context_size$/ })).toHaveCount(1);
  const left = await englishLeft(page);
  expect(left, `English left:\n${describeLeftOvers(left)}`).toEqual([]);
  await shot(page, "run-ru-stage-failed");
  expect(errors).toEqual([]);
  await context.close();
});

test("after the Editor's Run with unsaved edits, the Run page says the run used them, and that its own Run starts the saved file", async ({ page, browser }) => {
  const errors = watchConsole(page);
  const name = await writePipeline("edited", "pipeline:\n  stages:\n    - id: draft\n      type: single\n      model: storyteller\n      params:\n        max_tokens: 24\n");
  await openInEditor(page, name, "draft");
  await page.getByTestId("stage-node-draft").click();
  await page.getByLabel("max_tokens").fill("9");
  await page.getByLabel("Input for a run").fill("Once upon a time");
  await page.getByRole("button", { name: "Run unsaved ▶" }).click();
  await expect(page).toHaveURL(new RegExp(`/\\?pipeline=${name}&run=`));
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });

  await expect(page.getByTestId("run-pipeline")).toHaveText(`pipeline ${name}, unsaved edits`);
  const note = page.getByTestId("saved-file-note");
  await expect(note).toContainText(`Run starts the saved file of ${name}, without this run's unsaved edits`);
  // Another pipeline in the form: nothing to say.
  await page.getByLabel("Pipeline", { exact: true }).selectOption("base");
  await expect(note).toHaveCount(0);
  await page.getByLabel("Pipeline", { exact: true }).selectOption(name);
  await shot(page, "run-unsaved-edits");
  // The same, in Russian, on a phone.
  const russian = await browser.newContext({ locale: "ru-RU", colorScheme: "dark", viewport: { width: 390, height: 844 } });
  const other = await russian.newPage();
  await other.goto(page.url());
  await expect(other.getByTestId("run-pipeline")).toHaveText(`пайплайн ${name} с несохранёнными правками`);
  await expect(other.getByTestId("saved-file-note")).toContainText(`Кнопка «Запустить» возьмёт сохранённый файл пайплайна ${name}`);
  const left = await englishLeft(other);
  expect(left, `English left:\n${describeLeftOvers(left)}`).toEqual([]);
  await shot(other, "run-unsaved-edits-ru-dark-390x844", { fullPage: false });
  await russian.close();
  // The edits are where the note says.
  await note.getByRole("link", { name: "Editor" }).click();
  await expect(page).toHaveURL(new RegExp(`/editor\\?pipeline=${name}$`));
  await expect(page.getByTestId("notice")).toContainText("Your unsaved edits are back");
  await page.getByTestId("stage-node-draft").click();
  await expect(page.getByLabel("max_tokens")).toHaveValue("9");
  expect(errors).toEqual([]);
});

test("the config warnings of a pipeline sent whole name no English place, on the Run page and in History", async ({ browser, request }) => {
  const braces = { name: "braces", stages: [{ id: "draft", type: "single", model: "storyteller", prompt: "Tell me: {input}", params: { max_tokens: 8 } }] };
  const id = await runToEnd(request, braces, "Once upon a time");
  const context = await browser.newContext({ locale: "ru-RU", viewport: phone });
  const page = await context.newPage();
  const errors = watchConsole(page);
  for (const url of [`/?run=${id}`, `/history/${id}`]) {
    await page.goto(url);
    const warnings = page.getByRole("region", { name: "Предупреждения конфигурации" });
    await expect(warnings.getByRole("listitem")).toHaveText("stages[0].prompt: {input} уйдёт модели как есть: может быть, имелось в виду {{input}}?");
    const left = await englishLeft(page);
    expect(left, `English left on ${url}:\n${describeLeftOvers(left)}`).toEqual([]);
  }
  await shot(page, "session-unsaved-warning-ru-390", { fullPage: false });
  expect(errors).toEqual([]);
  await context.close();
});

test("in dark mode every part of the timeline stands out from its lane (3:1 or more)", async ({ browser, request }) => {
  // Computed (a run served from the stage cache has one part per stage: cached).
  const id = await runToEnd(request, "story", "Once upon a time", undefined, { cache: false });
  const context = await browser.newContext({ colorScheme: "dark", viewport: desk });
  const page = await context.newPage();
  await page.goto(`/history/${id}`);
  const timeline = page.getByRole("region", { name: "Timeline" });
  await expect(timeline.locator("[data-segment]").first()).toBeAttached();
  const parts = await timeline.locator("[data-segment]").evaluateAll((nodes) =>
    nodes.map((node) => ({ kind: node.getAttribute("data-segment")!, color: getComputedStyle(node).backgroundColor, lane: getComputedStyle(node.parentElement!).backgroundColor })),
  );
  // The ending reads a long prompt (the opening and the votes): reading it is a part of its own.
  expect(new Set(parts.map((part) => part.kind))).toContain("reading");
  for (const part of parts) expect(await contrast(page, part.color, part.lane), `${part.kind}: ${part.color} on ${part.lane}`).toBeGreaterThanOrEqual(3);
  await timeline.scrollIntoViewIfNeeded();
  await shot(page, "timeline-dark", { fullPage: false });
  await context.close();
});
