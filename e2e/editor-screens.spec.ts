/**
 * The editor as it looks, in English and Russian, light and dark, on a wide screen and a phone: a stage
 * selected with the inspector open, and the dialog of a stage deletion. Saves a screenshot of each (to be
 * looked at), checks that no English is left in Russian with the inspector and the dialog open, and that
 * on a phone nothing is off-screen for good: the palette, the canvas and the inspector can all be reached.
 */
import { expect, test } from "@playwright/test";
import { describeLeftOvers, englishLeft } from "./i18n-scan";
import { schemesFor, shot } from "./page-checks";

const sizes = [
  { name: "wide", width: 1400, height: 900 },
  { name: "phone", width: 390, height: 844 },
] as const;

for (const locale of ["en", "ru"] as const) {
  for (const size of sizes) {
    for (const colorScheme of schemesFor(locale)) {
      test.describe(`${locale}, ${size.width}x${size.height}, ${colorScheme}`, () => {
        test.use({ locale: locale === "ru" ? "ru-RU" : "en-US", viewport: { width: size.width, height: size.height }, colorScheme });

        test("a stage in the inspector, and the deletion dialog", async ({ page }) => {
          const name = (what: string) => `editor-${what}-${locale}-${size.name}-${colorScheme}`;
          const russianOnly = async (where: string) => {
            if (locale !== "ru") return;
            const left = await englishLeft(page, { skip: [".react-flow__attribution"] });
            expect(left, `English left ${where}:\n${describeLeftOvers(left)}`).toEqual([]);
          };
          await page.goto("/editor?pipeline=story");
          await expect(page.locator("html")).toHaveAttribute("lang", locale);
          await expect(page.getByTestId("stage-node-voices")).toBeVisible();
          await expect(page.getByTestId("issues").locator("p")).toHaveClass(/emerald/);

          await page.getByTestId("stage-node-voices").click();
          const inspector = page.getByTestId("inspector");
          await expect(inspector).toBeVisible();
          await russianOnly("with the inspector open");
          await shot(page, name("inspector"));

          // Nothing is wider than the screen; the palette is on it, and the inspector can be scrolled to.
          expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(size.width);
          await page.evaluate(() => window.scrollTo(0, 0));
          await expect(page.getByTestId("add-single")).toBeInViewport();
          const canvas = await page.getByTestId("canvas").boundingBox();
          expect(canvas!.width).toBeGreaterThan(size.width * 0.6);
          await inspector.getByTestId("stage-prompt").scrollIntoViewIfNeeded();
          await expect(inspector.getByTestId("stage-prompt")).toBeInViewport();

          await inspector.getByRole("button", { name: locale === "ru" ? "Удалить этап" : "Delete stage" }).click();
          const dialog = page.getByRole("dialog");
          await expect(dialog).toBeVisible();
          await expect(dialog).toBeInViewport({ ratio: 1 });
          await russianOnly("with the deletion dialog open");
          await shot(page, name("delete-dialog"), { fullPage: false });
          await page.keyboard.press("Escape");
          await expect(dialog).toHaveCount(0);
          await expect(page.getByTestId("stage-node-voices")).toBeVisible();
        });
      });
    }
  }
}
