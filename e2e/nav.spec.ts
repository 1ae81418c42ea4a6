/**
 * The header: on a phone, the studio's name and the language switch on the first row and the four links
 * together on the row below; on a desk's screen, all of it on one row. In both languages and themes.
 */
import { expect, test, type Locator } from "@playwright/test";
import { schemesFor, shot, watchConsole } from "./page-checks";

const names = {
  "en-US": { nav: "Main", links: ["Run", "Editor", "History", "Models"], language: "Language" },
  "ru-RU": { nav: "Главное меню", links: ["Запуск", "Редактор", "История", "Модели"], language: "Язык" },
} as const;

/** The vertical middle of an element on screen. */
async function middle(element: Locator): Promise<number> {
  const box = await element.boundingBox();
  if (!box) throw new Error(`${element.toString()} is not on screen`);
  return box.y + box.height / 2;
}

for (const locale of ["en-US", "ru-RU"] as const) {
  for (const colorScheme of schemesFor(locale)) {
    test(`the header in ${locale}, ${colorScheme}: the links on one row of their own on a phone, everything on one row on a desk`, async ({ browser }) => {
      const context = await browser.newContext({ locale, colorScheme, viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      const errors = watchConsole(page);
      await page.goto("/models");
      const nav = page.getByRole("navigation", { name: names[locale].nav });
      const brand = nav.getByRole("link", { name: "project_llm" });
      const language = nav.getByRole("combobox", { name: names[locale].language });
      const links = names[locale].links.map((name) => nav.getByRole("link", { name, exact: true }));
      await expect(links[3]!).toHaveAttribute("aria-current", "page");

      const first = await middle(brand);
      expect(Math.abs((await middle(language)) - first), "the language switch beside the name").toBeLessThan(4);
      const row = await middle(links[0]!);
      expect(row, "the links below the name").toBeGreaterThan(first + 16);
      for (const link of links) expect(Math.abs((await middle(link)) - row), `${await link.innerText()} on the links' row`).toBeLessThan(4);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shot(page, `nav-${locale.slice(0, 2)}-${colorScheme}-390x844`, { fullPage: false });

      await page.setViewportSize({ width: 1400, height: 900 });
      const desk = await middle(brand);
      for (const element of [language, ...links]) expect(Math.abs((await middle(element)) - desk), `${element.toString()} on the one row`).toBeLessThan(4);
      await shot(page, `nav-${locale.slice(0, 2)}-${colorScheme}-1400x900`, { fullPage: false });
      expect(errors).toEqual([]);
      await context.close();
    });
  }
}
