/**
 * Russian and English: the language follows the browser, the header's switch changes it and the choice is
 * remembered; every page, shown in Russian, has no English left (see `englishLeft`).
 */
import { expect, test, type Page } from "@playwright/test";
import { describeLeftOvers, englishLeft } from "./i18n-scan";
import { runToEnd } from "./page-checks";

test.describe("language", () => {
  test.use({ locale: "ru-RU" });

  test("follows the browser's language, switches in the header, and the choice is remembered", async ({ page }) => {
    await page.goto("/history");
    await expect(page.locator("html")).toHaveAttribute("lang", "ru");
    const nav = page.getByRole("navigation", { name: "Главное меню" });
    await expect(nav.getByRole("link", { name: "История" })).toHaveAttribute("aria-current", "page");

    await nav.getByRole("combobox", { name: "Язык" }).selectOption("en");
    await expect(page.locator("html")).toHaveAttribute("lang", "en");
    await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" })).toBeVisible();
    // Remembered over the browser's own language, in a new page of the same browser.
    const again = await page.context().newPage();
    await again.goto("/models");
    await expect(again.locator("html")).toHaveAttribute("lang", "en");
    await expect(again.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Models" })).toHaveAttribute("aria-current", "page");
    await again.getByRole("combobox", { name: "Language" }).selectOption("ru");
    await expect(again.getByRole("navigation", { name: "Главное меню" })).toBeVisible();
  });
});

test.describe("every page in Russian", () => {
  test.use({ locale: "ru-RU" });
  let first = "";
  let second = "";

  test.beforeAll(async ({ request }) => {
    first = await runToEnd(request, "story", "Once upon a time");
    second = await runToEnd(request, "story", "Once upon a time there was a dog");
  });

  /** Opens a page in Russian and fails with every English text left on it. */
  async function expectRussian(page: Page, url: string, ready: (page: Page) => Promise<void>) {
    await page.goto(url);
    await expect(page.locator("html")).toHaveAttribute("lang", "ru");
    await ready(page);
    const left = await englishLeft(page, { skip: [".react-flow__attribution"] });
    expect(left, `English left on ${url}:\n${describeLeftOvers(left)}`).toEqual([]);
  }

  test("Run page, with a run shown", async ({ page }) => {
    await expectRussian(page, `/?pipeline=story&run=${first}`, async () => {
      await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 30_000 });
    });
  });

  test("Run page, empty", async ({ page }) => {
    await expectRussian(page, "/", async () => {
      await expect(page.locator("form textarea")).toBeVisible();
    });
  });

  test("Editor", async ({ page }) => {
    await expectRussian(page, "/editor?pipeline=story", async () => {
      await expect(page.locator(".react-flow__node").first()).toBeVisible();
    });
  });

  test("Editor, a pipeline with a problem", async ({ page }) => {
    await expectRussian(page, "/editor?pipeline=broken", async () => {
      await expect(page.getByTestId("issues")).toContainText("неизвестный этап «nowhere»");
    });
  });

  test("History", async ({ page }) => {
    await expectRussian(page, "/history", async () => {
      await expect(page.getByTestId(`session-row-${first}`)).toBeVisible();
    });
  });

  test("a session", async ({ page }) => {
    await expectRussian(page, `/history/${first}`, async () => {
      await expect(page.getByTestId("final-answer")).toBeVisible();
    });
  });

  test("two sessions compared", async ({ page }) => {
    await expectRussian(page, `/history/compare?a=${first}&b=${second}`, async () => {
      await expect(page.locator("main h1")).toBeVisible();
      await expect(page.locator("main section").first()).toBeVisible();
    });
  });

  test("Models", async ({ page }) => {
    await expectRussian(page, "/models", async () => {
      await expect(page.getByTestId("model-storyteller")).toBeVisible();
    });
  });

  test("the login page (this studio asks no one to log in)", async ({ page }) => {
    await expectRussian(page, "/login", async () => {
      await expect(page.getByRole("link", { name: "Открыть студию" })).toBeVisible();
    });
  });

  test("Users", async ({ page }) => {
    await expectRussian(page, "/users", async () => {
      await expect(page.getByRole("button", { name: "Добавить пользователя" })).toBeVisible();
      await expect(page.getByText("Контроль доступа выключен")).toBeVisible();
    });
  });

  test("a page that does not exist", async ({ page }) => {
    await expectRussian(page, "/nope", async () => {
      await expect(page.getByRole("heading", { level: 1 })).toHaveText("Страница не найдена");
    });
  });
});
