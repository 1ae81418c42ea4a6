import type { Page } from "@playwright/test";

/** Collects every error in the browser's console and every uncaught exception in the page: a test expects none. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  return errors;
}
