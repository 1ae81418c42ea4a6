/**
 * Helpers of the browser tests: screenshots, the browser's console, runs through the plain API, a slow
 * network, and what a page looked like on every frame.
 */
import { expect, type APIRequestContext, type CDPSession, type Page } from "@playwright/test";
import { mkdir } from "node:fs/promises";
import { describeLeftOvers, englishLeft } from "./i18n-scan";

const shots = "e2e/screenshots";

/**
 * Whether screenshots are saved: unless `E2E_SCREENSHOTS=0` (CI sets it: nobody looks at them there, and
 * a full page's PNG took a third of a second on two cores, the 84 of three specs a tenth of their time).
 * The pages are loaded, sized and checked either way.
 */
const saveShots = process.env.E2E_SCREENSHOTS !== "0";

/**
 * The color schemes a page is looked at in: both while screenshots are saved; otherwise one per language
 * (English light, Russian dark), so that each scheme is still checked (contrast, the console) while the
 * checks that a language or a size changes (what fits, English left) run once each.
 */
export function schemesFor(locale: string): readonly ("light" | "dark")[] {
  if (saveShots) return ["light", "dark"];
  return locale.startsWith("ru") ? ["dark"] : ["light"];
}

/** Saves a screenshot (the full page unless told) as e2e/screenshots/NAME.png (git-ignored), to be looked at. */
export async function shot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  if (!saveShots) return;
  await mkdir(shots, { recursive: true });
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: options.fullPage ?? true });
}

/**
 * Shoots the page as it is now in English and Russian, light and dark, at 1400x900 and 390x844, as
 * e2e/screenshots/NAME-LOCALE-SCHEME-WIDTH.png, and fails on English left in the Russian page. `ready`
 * waits for what the state shows, after each reload; the page ends in English, light, at 1400x900.
 */
export async function shootEveryWay(page: Page, options: { base: string; name: string; ready: () => Promise<void> }): Promise<void> {
  for (const locale of ["en", "ru"] as const) {
    await page.context().addCookies([{ name: "NEXT_LOCALE", value: locale, url: options.base }]);
    await page.reload();
    await expect(page.locator("html")).toHaveAttribute("lang", locale);
    await options.ready();
    if (locale === "ru") {
      const left = await englishLeft(page);
      expect(left, `English left (${options.name}):\n${describeLeftOvers(left)}`).toEqual([]);
    }
    for (const colorScheme of schemesFor(locale)) {
      await page.emulateMedia({ colorScheme });
      for (const [width, height] of [
        [1400, 900],
        [390, 844],
      ] as const) {
        await page.setViewportSize({ width, height });
        await shot(page, `${options.name}-${locale}-${colorScheme}-${width}`);
      }
    }
  }
  await page.context().addCookies([{ name: "NEXT_LOCALE", value: "en", url: options.base }]);
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.reload();
}

/** Collects every error in the browser's console and every uncaught exception of the page. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  return errors;
}

/**
 * Runs a pipeline through the plain API (a pipeline's name, or a pipeline sent whole with `basedOn`) and
 * waits for its session to end; returns its id.
 */
export async function runToEnd(request: APIRequestContext, pipeline: string | Record<string, unknown>, input: string, basedOn?: string, options: { cache?: boolean } = {}): Promise<string> {
  const started = await request.post("/api/runs", { data: { pipeline, input, ...(basedOn ? { basedOn } : {}), ...options } });
  expect(started.status(), await started.text()).toBe(202);
  return waitForEnd(request, ((await started.json()) as { id: string }).id);
}

/** Waits until a session has ended (a run still waiting in the queue has none yet); returns its id. */
export async function waitForEnd(request: APIRequestContext, id: string): Promise<string> {
  const status = async () => ((await (await request.get(`/api/sessions/${id}`)).json()) as { status?: string }).status ?? "queued";
  await expect.poll(status, { timeout: 60_000 }).toMatch(/^(completed|failed|cancelled|interrupted)$/);
  return id;
}

/** One DevTools session per page: the network conditions belong to the session that set them. */
const devTools = new WeakMap<Page, CDPSession>();

/**
 * Slows the page's network to `bytesPerSecond` (null: back to full speed), so that a run's events, sent
 * as fast as the model writes them, arrive over seconds and the page can be seen while they come.
 */
export async function throttle(page: Page, bytesPerSecond: number | null): Promise<void> {
  let session = devTools.get(page);
  if (!session) {
    session = await page.context().newCDPSession(page);
    await session.send("Network.enable");
    devTools.set(page, session);
  }
  await session.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: bytesPerSecond ?? -1,
    uploadThroughput: -1,
  });
}

/** The WCAG contrast ratio of two CSS colours (any syntax the browser knows), computed in the page. */
export async function contrast(page: Page, foreground: string, background: string): Promise<number> {
  return page.evaluate(
    ([one, two]: [string, string]) => {
      const context = document.createElement("canvas").getContext("2d", { willReadFrequently: true })!;
      const luminance = (color: string) => {
        context.clearRect(0, 0, 1, 1);
        context.fillStyle = color;
        context.fillRect(0, 0, 1, 1);
        const [r, g, b] = [...context.getImageData(0, 0, 1, 1).data].slice(0, 3).map((channel) => {
          const value = channel / 255;
          return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      const [light, dark] = [luminance(one), luminance(two)].sort((a, b) => b - a);
      return (light! + 0.05) / (dark! + 0.05);
    },
    [foreground, background] as [string, string],
  );
}
