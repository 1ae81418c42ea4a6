/**
 * An address with no page: a 404 in the studio's own layout and language, with the way back to Run and
 * History, that fits a phone's screen. In both languages and themes.
 */
import { expect, test } from "@playwright/test";
import { schemesFor, shot, watchConsole } from "./page-checks";

const words = {
  "en-US": { nav: "Main", title: "Page not found", run: "Start a run", history: "History" },
  "ru-RU": { nav: "Главное меню", title: "Страница не найдена", run: "Запустите пайплайн", history: "Истории" },
} as const;

for (const locale of ["en-US", "ru-RU"] as const) {
  for (const colorScheme of schemesFor(locale)) {
    test(`an unknown address in ${locale}, ${colorScheme}: a 404 in the studio's layout, with links to Run and History, that fits a phone's screen`, async ({ browser }) => {
      const context = await browser.newContext({ locale, colorScheme, viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      const errors = watchConsole(page);
      const response = await page.goto("/nope");
      expect(response?.status()).toBe(404);
      await expect(page.locator("html")).toHaveAttribute("lang", locale.slice(0, 2));
      await expect(page.getByRole("navigation", { name: words[locale].nav })).toBeVisible();
      await expect(page.getByRole("heading", { level: 1 })).toHaveText(words[locale].title);
      const main = page.getByRole("main");
      await expect(main.getByRole("link", { name: words[locale].run, exact: true })).toHaveAttribute("href", "/");
      await expect(main.getByRole("link", { name: words[locale].history, exact: true })).toHaveAttribute("href", "/history");
      expect(await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight])).toEqual([390, 844]);
      await shot(page, `not-found-${locale.slice(0, 2)}-${colorScheme}-390x844`, { fullPage: false });
      await page.setViewportSize({ width: 1400, height: 900 });
      await shot(page, `not-found-${locale.slice(0, 2)}-${colorScheme}-1400x900`, { fullPage: false });

      await main.getByRole("link", { name: words[locale].history, exact: true }).click();
      await expect(page).toHaveURL(/\/history$/);
      // The one error the browser logs is the 404 of the address asked for.
      expect(errors.filter((error) => !/status of 404/.test(error))).toEqual([]);
      await context.close();
    });
  }
}
