/**
 * History, a session and two sessions compared, in a real browser against the real server and model: the
 * list on a phone, rows that open their session, a rerun that says what it will compute again, branches
 * with an edited input, sessions of unsaved pipelines, and a session's downloads.
 */
import { expect, test, type APIRequestContext, type Locator, type Page } from "@playwright/test";
import { unzipSync, strFromU8 } from "fflate";
import { spawnSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describeLeftOvers, englishLeft } from "./i18n-scan";
import { runToEnd, schemesFor, shot, waitForEnd, watchConsole } from "./page-checks";

/** Reruns a session from a stage with a new input, through the studio's tRPC API, and waits until it ends. */
async function rerunWithInput(request: APIRequestContext, id: string, fromStage: string, input: string): Promise<string> {
  const response = await request.post("/api/trpc/sessions.rerun", { data: { id, fromStage, input } });
  expect(response.status(), await response.text()).toBe(200);
  return waitForEnd(request, ((await response.json()) as { result: { data: { id: string } } }).result.data.id);
}

/** A two-stage pipeline sent whole with a run, as the editor sends its canvas. */
const canvas = {
  stages: [
    { id: "first", type: "single", model: "storyteller", params: { max_tokens: 40 } },
    { id: "second", type: "single", model: "dreamer", input_from: "first", params: { max_tokens: 40 } },
  ],
};

/**
 * Clicks the middle of what a person sees, on whatever lies on top there (a row's link covers the row:
 * Playwright's own click would refuse an element that another one covers).
 */
async function clickOn(page: Page, target: Locator) {
  await target.scrollIntoViewIfNeeded();
  const box = (await target.boundingBox())!;
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
}

/** How many pixels the page is wider than its window (0 when nothing overflows sideways). */
function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

test.describe("History", () => {
  let story = "";

  test.beforeAll(async ({ request }) => {
    story = await runToEnd(request, "story", "Once upon a time there was a little fox who lived in the woods near a big blue lake");
  });

  test("at 390 px the list fits the screen, and each session stays readable and opens", async ({ page }) => {
    const errors = watchConsole(page);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto("/history");
    const row = page.getByTestId(`session-row-${story}`);
    await expect(row).toBeVisible();
    expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
    // Its start, status, pipeline and input are on screen, inside the window's width.
    for (const part of [row.getByRole("link"), row.getByText("completed"), row.getByText("story", { exact: true }), row.getByText("Once upon a time there was")]) {
      await expect(part).toBeInViewport();
      const box = (await part.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(390);
    }
    await clickOn(page, row.getByText("Once upon a time there was"));
    await expect(page).toHaveURL(new RegExp(`/history/${story}$`));
    expect(errors).toEqual([]);
  });

  test("the whole row opens its session, by mouse and by keyboard; its compare box only ticks", async ({ page }) => {
    const errors = watchConsole(page);
    await page.goto("/history");
    const row = page.getByTestId(`session-row-${story}`);
    const compare = row.getByRole("checkbox");
    await compare.check();
    await expect(compare).toBeChecked();
    await expect(page).toHaveURL(/\/history$/);
    await compare.uncheck();
    await expect(page).toHaveURL(/\/history$/);

    // A click on the input's words, or on the status, opens the session.
    await clickOn(page, row.getByText("Once upon a time there was"));
    await expect(page).toHaveURL(new RegExp(`/history/${story}$`));
    await page.goBack();
    await clickOn(page, page.getByTestId(`session-row-${story}`).getByText("completed"));
    await expect(page).toHaveURL(new RegExp(`/history/${story}$`));
    await page.goBack();

    // From the keyboard: Tab reaches the row's link (after its compare box), Enter opens it.
    await page.getByTestId(`session-row-${story}`).getByRole("checkbox").focus();
    await page.keyboard.press("Tab");
    await expect(page.getByTestId(`session-row-${story}`).getByRole("link")).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(new RegExp(`/history/${story}$`));
    expect(errors).toEqual([]);
  });

  test("a rerun says which stages it computes again before it starts; a branch with an edited input is marked", async ({ page }) => {
    const errors = watchConsole(page);
    await page.goto(`/history/${story}`);
    const form = page.getByRole("region", { name: "Rerun" });
    const plan = (stage: string) => form.getByTestId(`rerun-plan-${stage}`);
    const expectPlan = async (actions: Record<string, "reuse" | "recompute">) => {
      for (const [stage, action] of Object.entries(actions)) await expect(plan(stage)).toHaveAttribute("data-action", action);
    };

    await form.getByLabel("From stage").selectOption("voices");
    await expectPlan({ opening: "reuse", voices: "recompute", ending: "recompute" });
    await expect(plan("opening")).toContainText("keeps its stored answer");
    await expect(plan("ending")).toContainText("computed again");

    // The same input is no edit; a changed one recomputes the stage that reads it, and what follows.
    await form.getByLabel("with an edited input").check();
    await expectPlan({ opening: "reuse", voices: "recompute", ending: "recompute" });
    await form.getByRole("textbox", { name: "Edited input" }).fill("Once upon a time there was a little owl");
    await expectPlan({ opening: "recompute", voices: "recompute", ending: "recompute" });
    await expect(plan("opening")).toContainText("reads the edited input");

    await form.getByLabel("From stage").selectOption("ending");
    await expectPlan({ opening: "recompute", voices: "recompute", ending: "recompute" });
    await form.getByLabel("with an edited input").uncheck();
    await expectPlan({ opening: "reuse", voices: "reuse", ending: "recompute" });
    await form.getByLabel("with an edited input").check();

    await form.getByRole("button", { name: "Rerun", exact: true }).click();
    await expect(page).toHaveURL(/\/\?run=/);
    await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
    const branch = new URL(page.url()).searchParams.get("run")!;

    await page.goto(`/history/${branch}`);
    const tree = page.getByRole("region", { name: "Family tree" });
    await expect(tree.getByTestId(`tree-node-${branch}`)).toContainText("edited input");
    await expect(tree.getByTestId(`tree-node-${story}`)).not.toContainText("edited input");
    await page.goto("/history");
    await expect(page.getByTestId(`session-row-${branch}`)).toContainText("edited input");
    await expect(page.getByTestId(`session-row-${story}`)).not.toContainText("edited input");
    expect(errors).toEqual([]);
  });
  test("a session of an unsaved pipeline is marked so, and its pipeline can be saved under a name", async ({ page, request }) => {
    const errors = watchConsole(page);
    const id = await runToEnd(request, canvas, "Once upon a time a cat sat on a mat", "story");
    await page.goto("/history");
    await expect(page.getByTestId(`session-row-${id}`)).toContainText("unsaved pipeline");
    await expect(page.getByTestId(`session-row-${story}`)).not.toContainText("unsaved pipeline");
    await clickOn(page, page.getByTestId(`session-row-${id}`).getByText("Once upon a time a cat"));
    const form = page.getByRole("region", { name: "Unsaved pipeline" });
    await expect(form).toContainText("never saved (it was edited from story)");

    // A taken name is refused by the server, and said so; the form stays.
    await form.getByLabel("Name").fill("story");
    await form.getByRole("button", { name: "Save pipeline" }).click();
    await expect(form.getByRole("alert")).toContainText("A pipeline named “story” already exists");
    const name = `kept-${Date.now().toString(36)}`;
    await form.getByLabel("Name").fill(name);
    await form.getByRole("button", { name: "Save pipeline" }).click();
    await expect(form.getByRole("status")).toContainText(`Saved as ${name}.`);
    await form.getByRole("link", { name: "Open it in the Editor" }).click();
    await expect(page).toHaveURL(new RegExp(`/editor\\?pipeline=${name}$`));
    await expect(page.locator(".react-flow__node-stage")).toHaveCount(2);
    // The refused save answers 409, which the browser logs.
    expect(errors.filter((error) => !/status of 409/.test(error))).toEqual([]);
  });

  test("a session downloads as a .zip of text files and as one Markdown file", async ({ page, request }) => {
    const session = (await (await request.get(`/api/sessions/${story}`)).json()) as {
      input: string;
      finalAnswer: string;
      stages: Record<string, { output: string; models: Array<{ answer: string }> }>;
    };
    await page.goto(`/history/${story}`);
    const [zip] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download .zip" }).click()]);
    expect(zip.suggestedFilename()).toBe(`session-${story}.zip`);
    const entries = unzipSync(new Uint8Array(await readFile(await zip.path())));
    const files = ["input.txt", "01-opening.txt", "02-voices.txt", "02-voices/1-storyteller.txt", "02-voices/2-dreamer.txt", "03-ending.txt", "final.txt", "session.json"];
    expect(Object.keys(entries)).toEqual(files.map((file) => `${story}/${file}`));
    const text = (file: string) => strFromU8(entries[`${story}/${file}`]!);
    expect(text("input.txt")).toBe(session.input);
    expect(text("01-opening.txt")).toBe(session.stages.opening!.output);
    expect(text("02-voices/2-dreamer.txt")).toBe(session.stages.voices!.models[1]!.answer);
    expect(text("final.txt")).toBe(session.finalAnswer);
    expect(JSON.parse(text("session.json"))).toEqual(session);

    const [md] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download .md" }).click()]);
    expect(md.suggestedFilename()).toBe(`session-${story}.md`);
    const markdown = await readFile(await md.path(), "utf8");
    const order = [`# Session \`${story}\``, "## Input", session.input, "## 1. `opening`", "## 2. `voices`", "### `storyteller`", "### `dreamer`", "### Vote", "## 3. `ending`", "## Final answer"];
    const positions = order.map((part) => markdown.indexOf(part));
    expect(positions.every((position) => position >= 0), markdown).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(markdown.lastIndexOf(session.finalAnswer)).toBeGreaterThan(markdown.indexOf("## Final answer"));

    // A malformed id, an unknown format and an unknown session are refused.
    expect((await request.get("/api/sessions/..%2F..%2Fetc/export")).status()).toBe(400);
    expect((await request.get(`/api/sessions/${story}/export?format=pdf`)).status()).toBe(400);
    expect((await request.get("/api/sessions/20990101-000000-abcdef/export?format=md")).status()).toBe(404);
  });

  test("from a Russian page the Markdown download is in Russian; the request's language decides it otherwise", async ({ browser, request }) => {
    const context = await browser.newContext({ locale: "ru-RU" });
    const page = await context.newPage();
    await page.goto(`/history/${story}`);
    const [md] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Скачать Markdown" }).click()]);
    expect(md.suggestedFilename()).toBe(`session-${story}.md`);
    const markdown = await readFile(await md.path(), "utf8");
    await context.close();
    const order = [`# Сессия \`${story}\``, "- Пайплайн: `story`", "- Запуск завершён", "## Вход", "## 1. `opening`", "## 2. `voices`", "### Голосование", "## 3. `ending`", "## Итоговый ответ"];
    const positions = order.map((part) => markdown.indexOf(part));
    expect(positions.every((position) => position >= 0), markdown).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // Outside code (model text, ids, names) no English is left.
    const prose = markdown.replace(/^(`{3,})text\n[\s\S]*?\n\1$/gm, "").replace(/(`+).*?\1/g, "");
    expect(prose.match(/[A-Za-z]{2,}/g) ?? [], prose).toEqual([]);

    // Without the page's choice: the cookie of the language switch, else Accept-Language; ?lang= over both.
    const heading = async (headers: Record<string, string>, query = "") => (await (await request.get(`/api/sessions/${story}/export?format=md${query}`, { headers })).text()).split("\n")[0];
    expect(await heading({ "accept-language": "ru-RU,ru;q=0.9" })).toBe(`# Сессия \`${story}\``);
    expect(await heading({ "accept-language": "ru-RU,ru;q=0.9", cookie: "NEXT_LOCALE=en" })).toBe(`# Session \`${story}\``);
    expect(await heading({ "accept-language": "en", cookie: "NEXT_LOCALE=en" }, "&lang=ru")).toBe(`# Сессия \`${story}\``);
    expect((await request.get(`/api/sessions/${story}/export?format=md&lang=xx`)).status()).toBe(400);
  });
});

test("a run made from the CLI while the studio runs is listed in History at once, and the index on disk keeps the studio's sessions and the CLI's", async ({ page, request }) => {
  const work = path.resolve(process.env.E2E_WORK ?? "e2e/.work");
  const sessionsDir = path.join(work, "sessions");
  await page.goto("/history");
  await expect(page.getByText(/\d+ sessions?$/)).toBeVisible();
  // The README's CLI demo, with the studio's folders.
  const cli = spawnSync(process.execPath, ["dist/cli/main.js", "run", "--input", "Once upon a time there was a cat from the terminal", "--json"], {
    env: { ...process.env, PROJECT_LLM_CONFIG_DIR: path.join(work, "config"), PROJECT_LLM_SESSIONS_DIR: sessionsDir, PROJECT_LLM_MODELS_DIR: path.resolve(process.env.PROJECT_LLM_TEST_MODELS || "models") },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(cli.status, cli.stderr).toBe(0);
  const fromCli = (JSON.parse(cli.stdout) as { id: string }).id;
  // And a run of the studio's own after it, so that the studio writes its index after the CLI did.
  const fromStudio = await runToEnd(request, "base", "Once upon a time there was a dog from the browser");

  const onDisk = (await readdir(sessionsDir)).filter((name) => name !== "index.json" && name.endsWith(".json")).map((name) => name.slice(0, -5));
  await page.goto("/history");
  await expect(page.getByText(new RegExp(`^${onDisk.length} sessions$`))).toBeVisible();
  for (const id of [fromCli, fromStudio]) await expect(page.locator(`a[href="/history/${id}"]`).first()).toBeVisible();
  await page.goto(`/history/${fromCli}`);
  // Its family tree comes from the index too.
  await expect(page.getByTestId(`tree-node-${fromCli}`)).toBeVisible();
  // The index on disk: index.json, amended by the change logs (the segments being folded, then index.log).
  const indexed = async () => {
    const ids = new Set((JSON.parse(await readFile(path.join(sessionsDir, "index.json"), "utf8")) as { sessions: Array<{ id: string }> }).sessions.map((summary) => summary.id));
    const logs = (await readdir(sessionsDir)).filter((name) => name.endsWith(".compacting")).sort();
    for (const log of [...logs, "index.log"]) {
      for (const line of (await readFile(path.join(sessionsDir, log), "utf8").catch(() => "")).split("\n").filter(Boolean)) {
        const change = JSON.parse(line) as { set?: { id: string }; delete?: string };
        if (change.set) ids.add(change.set.id);
        else ids.delete(change.delete!);
      }
    }
    return [...ids].sort();
  };
  await expect.poll(indexed, { timeout: 10_000 }).toEqual([...onDisk].sort());
});

/** In Russian, fails with every English word left on the page (see `englishLeft`). */
async function expectNoEnglish(page: Page, locale: string) {
  if (!locale.startsWith("ru")) return;
  const left = await englishLeft(page);
  expect(left, `English left on ${page.url()}:\n${describeLeftOvers(left)}`).toEqual([]);
}

test("screenshots of History, sessions and a comparison: both sizes, light and dark, English and Russian", async ({ browser, request }) => {
  test.setTimeout(300_000);
  const parent = await runToEnd(request, "story", "Once upon a time there was a dog who liked to run");
  const branch = await rerunWithInput(request, parent, "voices", "Once upon a time there was a cat who liked to sleep");
  const unsaved = await runToEnd(request, canvas, "The little bird sang");
  for (const locale of ["en-US", "ru-RU"]) {
    for (const colorScheme of schemesFor(locale)) {
      for (const viewport of [{ width: 1400, height: 900 }, { width: 390, height: 844 }]) {
        const context = await browser.newContext({ locale, colorScheme, viewport });
        const page = await context.newPage();
        const errors = watchConsole(page);
        const name = `${locale.slice(0, 2)}-${colorScheme}-${viewport.width}`;
        await page.goto("/history");
        await expect(page.getByTestId(`session-row-${branch}`)).toBeVisible();
        expect(await sidewaysOverflow(page), `History, ${name}`).toBeLessThanOrEqual(0);
        await expectNoEnglish(page, locale);
        await shot(page, `history-${name}`);
        await page.goto(`/history/${unsaved}`);
        await expect(page.getByTestId("final-answer")).toBeVisible();
        await shot(page, `session-unsaved-${name}`);
        await page.goto(`/history/${branch}`);
        await expect(page.getByTestId(`tree-node-${branch}`)).toBeVisible();
        await expect(page.getByTestId("final-answer")).toBeVisible();
        await shot(page, `session-branch-${name}`);
        await page.goto(`/history/compare?a=${parent}&b=${branch}`);
        await expect(page.locator("main h1")).toBeVisible();
        await expect(page.locator("main section").last()).toBeVisible();
        await expectNoEnglish(page, locale);
        await shot(page, `compare-${name}`);
        expect(errors).toEqual([]);
        await context.close();
      }
    }
  }
});

test("screenshot of a session while its run streams", async ({ page, request }) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  const response = await request.post("/api/runs", { data: { pipeline: "long", input: "Once upon a time" } });
  const { id } = (await response.json()) as { id: string };
  await page.goto(`/history/${id}`);
  await expect(page.getByText("This run is in progress and shown live")).toBeVisible();
  await expect(page.locator("section[data-testid^='stage-'][data-state='generating']").first()).toBeVisible({ timeout: 30_000 });
  // The window only: the page grows by thousands of pixels as the stages stream.
  await shot(page, "session-streaming-en-light-1400", { fullPage: false });
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "session-streaming-en-light-390", { fullPage: false });
  await request.post("/api/trpc/runs.cancel", { data: { id } });
  await waitForEnd(request, id);
});
