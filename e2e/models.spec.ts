/**
 * The Models page of a studio of its own (its own config and an empty models folder, on E2E_PORT + 3):
 * the empty state, then models added from a real HTTP server on loopback (src/testing/gguf-server.ts,
 * paced so that the progress bar is seen), a download cancelled, one that fails, and one completed and
 * added to models.yaml. Every state is shot in English and Russian, light and dark, wide and narrow.
 */
import { execFileSync } from "node:child_process";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { startGgufServer, type GgufServer } from "../src/testing/gguf-server";
import { shootEveryWay, watchConsole } from "./page-checks";
import { spawnStudio, work, type StudioProcess } from "./studio-process";

const configDir = path.join(work, "config-models");
const modelsDir = path.join(work, "models-downloads");
let server: GgufServer;
let studio: StudioProcess;

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  test.setTimeout(240_000);
  server = await startGgufServer();
  await rm(configDir, { recursive: true, force: true });
  await rm(modelsDir, { recursive: true, force: true });
  await mkdir(configDir, { recursive: true });
  await writeFile(path.join(configDir, "models.yaml"), "# The models of this studio.\nmodels_directory: models\n\nmodels: {} # none yet\n");
  await writeFile(path.join(configDir, "pipeline.yaml"), "base_pipeline:\n  stages: []\n");
  studio = spawnStudio({
    args: ["scripts/start.mjs"],
    portOffset: 3,
    sessions: "sessions-models",
    env: { PROJECT_LLM_CONFIG_DIR: configDir, PROJECT_LLM_MODELS_DIR: modelsDir, HF_ENDPOINT: server.origin },
  });
  await expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 180_000 }).toBe(200);
});

test.afterAll(async () => {
  studio?.server.kill("SIGTERM");
  await studio?.exited;
  await server?.close();
});

/** Shoots the Models page in every language, scheme and size (see `shootEveryWay`). */
const shootAll = (page: Page, name: string, ready: () => Promise<void>) => shootEveryWay(page, { base: studio.base, name: `models-${name}`, ready });

const downloadsFolder = () => readdir(modelsDir).then((names) => names.sort(), () => [] as string[]);

test("a studio with no models says so and how to add one", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto(`${studio.base}/models`);
  const empty = page.getByTestId("no-models");
  await expect(empty).toContainText("No models yet.");
  await expect(empty).toContainText("Download one below, or put a .gguf file in");
  await expect(page.getByRole("region", { name: "Add a model" })).toBeVisible();
  await shootAll(page, "empty", () => expect(page.getByTestId("no-models")).toBeVisible());
  expect(errors).toEqual([]);
});

test("downloads a model with a progress bar, cancels one, completes one and adds it to models.yaml", async ({ page }) => {
  test.setTimeout(180_000);
  const errors = watchConsole(page);
  await page.goto(`${studio.base}/models`);
  const add = page.getByRole("region", { name: "Add a model" });

  // Paced to about 60 KB/s: 20 s for the 1.1 MiB model, long enough to watch the bar and shoot it.
  server.behave({ mode: "ok", bytesPerSecond: 60_000 });
  await add.getByLabel("Model URI").fill("hf:karpathy/tinyllamas-GGUF:F32");
  await add.getByRole("button", { name: "Download" }).click();
  const first = add.locator("[data-testid^=download-]").first();
  await expect(first).toHaveAttribute("data-status", "downloading");
  await expect(first).toContainText("tinyllamas-F32.gguf");
  const bar = first.getByRole("progressbar", { name: "tinyllamas-F32.gguf" });
  await expect.poll(async () => Number(await bar.getAttribute("aria-valuenow"))).toBeGreaterThan(0);
  await expect(first.getByTestId("download-figures")).toHaveText(/^\d+% · [\d.]+ KiB of 1\.1 MiB · [\d.]+ KiB\/s · \d+ s left$/);
  await shootAll(page, "downloading", () => expect(page.locator("#add-model [data-testid^=download-]").first().getByRole("progressbar")).toBeVisible());

  await first.getByRole("button", { name: "Cancel" }).click();
  await expect(first).toHaveAttribute("data-status", "cancelled");
  await expect(first).toContainText("cancelled");
  await expect.poll(downloadsFolder).toEqual([]);

  server.behave({ mode: "ok", bytesPerSecond: 400_000 });
  await add.getByLabel("Model URI").fill("hf:karpathy/tinyllamas-GGUF:F32");
  await add.getByRole("button", { name: "Download" }).click();
  const second = add.locator("[data-testid^=download-]").first();
  await expect(second).toHaveAttribute("data-status", "downloading");
  await expect(second.getByRole("progressbar")).toBeVisible();
  await expect(second).toHaveAttribute("data-status", "done", { timeout: 30_000 });
  await expect(second).toContainText("Downloaded, 1.1 MiB.");
  expect(await downloadsFolder()).toEqual(["tinyllamas-F32.gguf"]);

  const name = second.getByLabel("Add to models.yaml as");
  await expect(name).toHaveValue("tinyllamas-F32");
  await second.getByRole("button", { name: "Add", exact: true }).click();
  await expect(second.getByRole("status")).toHaveText("Added to models.yaml as tinyllamas-F32.");
  const card = page.getByTestId("model-tinyllamas-F32");
  await expect(card).toContainText("present");
  await expect(card).toContainText("llama");
  await expect(page.getByTestId("no-models")).toHaveCount(0);
  const yaml = await readFile(path.join(configDir, "models.yaml"), "utf8");
  expect(yaml).toMatch(/^# The models of this studio\.\nmodels_directory: models\n\nmodels: # none yet\n {2}# downloaded from hf:karpathy\/tinyllamas-GGUF:F32 on [\d-]+\n {2}tinyllamas-F32:\n {4}file: tinyllamas-F32\.gguf\n {4}quantization: F32\n$/);

  await shootAll(page, "done", async () => {
    await expect(page.getByTestId("model-tinyllamas-F32")).toBeVisible();
    await expect(page.locator("#add-model [data-testid^=download-]").first()).toHaveAttribute("data-status", "done");
  });
  expect(errors).toEqual([]);
});

test("a download that fails, and a URI that is refused, say why in plain words", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto(`${studio.base}/models`);
  const add = page.getByRole("region", { name: "Add a model" });

  server.behave({ mode: "not-found" });
  await add.getByLabel("Model URI").fill(`${server.origin}/missing/model.Q4_K_M.gguf`);
  await add.getByRole("button", { name: "Download" }).click();
  const failed = add.locator("[data-testid^=download-]").first();
  await expect(failed).toHaveAttribute("data-status", "failed");
  await expect(failed.getByRole("alert")).toHaveText("There is no file at this address (the server answered 404): check it.");
  expect(await downloadsFolder()).toEqual(["tinyllamas-F32.gguf"]);

  await add.getByLabel("Model URI").fill("http://example.com/model.gguf");
  await add.getByRole("button", { name: "Download" }).click();
  await expect(add.getByRole("alert").filter({ hasText: "Cannot start the download" })).toContainText(
    "example.com would be reached over plain http://, which anything on the way can alter: use https:// (http:// is for this machine only).",
  );

  await add.getByLabel("Model URI").fill(`${server.origin}/model.gguf`);
  await add.getByLabel("File name").fill("../outside.gguf");
  await add.getByRole("button", { name: "Download" }).click();
  await expect(add.getByRole("alert").filter({ hasText: "Cannot start the download" })).toContainText(
    "../outside.gguf is not a plain file name: give a name with no folder in it, such as model.Q4_K_M.gguf (the file goes in the models folder).",
  );

  await shootAll(page, "error", () => expect(page.locator("#add-model [data-status=failed]").first()).toBeVisible());
  // The browser logs the two refusals the test asked for (400 for the URI, 422 for the file name); nothing else.
  expect(errors.filter((error) => !/^Failed to load resource: the server responded with a status of (400|422) /.test(error))).toEqual([]);
});

test("a models folder that cannot be written says so, with the folder, in both languages", async ({ page }) => {
  // A real read-only folder: the models folder bound read-only onto itself (a mode of 0555 does not stop root).
  await mkdir(modelsDir, { recursive: true });
  try {
    execFileSync("mount", ["--bind", modelsDir, modelsDir], { stdio: "pipe" });
  } catch (error) {
    test.skip(true, `cannot bind-mount the models folder here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})`);
  }
  try {
    execFileSync("mount", ["-o", "remount,bind,ro", modelsDir], { stdio: "pipe" });
    const errors = watchConsole(page);
    await page.goto(`${studio.base}/models`);
    const add = page.getByRole("region", { name: "Add a model" });
    server.behave({ mode: "ok" });
    await add.getByLabel("Model URI").fill(`${server.origin}/stories260K.gguf`);
    await add.getByRole("button", { name: "Download" }).click();
    const failed = add.locator("[data-testid^=download-]").first();
    await expect(failed).toHaveAttribute("data-status", "failed");
    await expect(failed.getByRole("alert")).toHaveText(
      `The models folder ${modelsDir} is on a read-only disk (mounted read-only?): make it writable to download into it, or choose another models folder.`,
    );
    await shootAll(page, "read-only", async () => {
      await expect(page.locator("#add-model [data-status=failed]").first().getByRole("alert")).toContainText(modelsDir);
      if ((await page.locator("html").getAttribute("lang")) === "ru") {
        await expect(page.locator("#add-model [data-status=failed]").first().getByRole("alert")).toHaveText(
          `Папка моделей ${modelsDir} находится на диске только для чтения (смонтирована только для чтения?): сделайте её доступной для записи, чтобы скачивать в неё, или выберите другую папку моделей.`,
        );
      }
    });
    expect(errors).toEqual([]);
  } finally {
    execFileSync("umount", [modelsDir]);
  }
});

test("a missing model's Download it… fills the form with its file, whose download makes it present", async ({ page }) => {
  const errors = watchConsole(page);
  const yaml = path.join(configDir, "models.yaml");
  await writeFile(yaml, `${await readFile(yaml, "utf8")}  awaited:\n    file: awaited.gguf\n`);
  await page.goto(`${studio.base}/models`);
  const card = page.getByTestId("model-awaited");
  await expect(card).toContainText("missing");
  await card.getByRole("button", { name: "Download it… awaited" }).click();
  const add = page.getByRole("region", { name: "Add a model" });
  await expect(add.getByLabel("File name")).toHaveValue("awaited.gguf");
  await expect(add.getByLabel("Model URI")).toBeFocused();

  server.behave({ mode: "ok" });
  await add.getByLabel("Model URI").fill(`${server.origin}/any/stories260K.gguf`);
  await add.getByRole("button", { name: "Download" }).click();
  const row = add.locator("[data-testid^=download-]").first();
  await expect(row).toHaveAttribute("data-status", "done");
  await expect(row).toContainText("models.yaml names this file already, as awaited.");
  await expect(card).toContainText("present");
  expect(errors).toEqual([]);
});

test("a download's address shows without its query, whose token never reaches the page; Try again retries in the failed row's place; an ended row can be dismissed", async ({ page }) => {
  const errors = watchConsole(page);
  // Everything the server sends the page: the pages' HTML and every answer of the API (the polls of the downloads too).
  const sent: string[] = [];
  page.on("response", (response) => void response.text().then((text) => sent.push(text), () => undefined));
  await page.goto(`${studio.base}/models`);
  const add = page.getByRole("region", { name: "Add a model" });
  const rows = add.locator("[data-testid^=download-]");

  server.behave({ mode: "not-found" });
  await add.getByLabel("Model URI").fill(`${server.origin}/signed/token.gguf?token=SECRET123`);
  await add.getByRole("button", { name: "Download" }).click();
  const row = rows.filter({ hasText: "token.gguf" });
  await expect(row).toHaveAttribute("data-status", "failed");
  await expect(row).toContainText(`${server.origin}/signed/token.gguf`);
  const listed = await rows.count();

  server.behave({ mode: "ok" });
  server.requests.length = 0;
  await row.getByRole("button", { name: "Try again" }).click();
  await expect(row).toHaveAttribute("data-status", "done");
  await expect(rows).toHaveCount(listed);
  // The retry asked for the address as it was given, token and all: the server kept it.
  expect(server.requests.map((request) => `${request.path}${request.query ?? ""}`)).toContain("/signed/token.gguf?token=SECRET123");

  await page.reload();
  await expect(row).toHaveAttribute("data-status", "done");
  expect(await page.content()).not.toContain("SECRET123");
  expect(sent.length).toBeGreaterThan(0);
  expect(sent.filter((text) => text.includes("SECRET123"))).toEqual([]);

  // Ended rows go when dismissed, and stay gone after a reload.
  await row.getByRole("button", { name: "Dismiss" }).click();
  await expect(row).toHaveCount(0);
  await expect(rows).toHaveCount(listed - 1);
  await page.reload();
  await expect(rows).toHaveCount(listed - 1);
  await expect(row).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("on a phone the page's subtitle breaks between words, never inside one", async ({ page }) => {
  for (const locale of ["en", "ru"] as const) {
    await page.context().addCookies([{ name: "NEXT_LOCALE", value: locale, url: studio.base }]);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${studio.base}/models`);
    const subtitle = page.locator("main h1 + span");
    await expect(subtitle).toBeVisible();
    // Phones from 360 to 430 px wide: where a line ends depends on the folder's path, which is anyone's.
    for (let width = 360; width <= 430; width += 2) {
      await page.setViewportSize({ width, height: 844 });
      // Each word of the page's own text (the folder's path is data, and may break anywhere) on one line.
      const split = await subtitle.evaluate((element) => {
        const found: string[] = [];
        const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          if (node.parentElement?.closest("code")) continue;
          for (const word of node.textContent!.matchAll(/\S+/g)) {
            const range = document.createRange();
            range.setStart(node, word.index);
            range.setEnd(node, word.index + word[0].length);
            if (new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size > 1) found.push(word[0]);
          }
        }
        return found;
      });
      expect(split, `words split across lines at ${width} px (${locale})`).toEqual([]);
    }
  }
  await page.context().addCookies([{ name: "NEXT_LOCALE", value: "en", url: studio.base }]);
});
