/** Helpers of the editor's browser tests: pipelines written as files, the mouse and the keyboard as a user uses them. */
import { expect, type Locator, type Page } from "@playwright/test";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/** The config folder the server under test reads (made by e2e/prepare.mjs). */
export const configDir = path.resolve(process.env.E2E_WORK ?? "e2e/.work", "config");

/** The file of `config/pipelines/NAME.yaml`. */
export function pipelinePath(name: string): string {
  return path.join(configDir, "pipelines", `${name}.yaml`);
}

/** Writes `config/pipelines/NAME.yaml` with `text` under a name of its own (the prefix and a time stamp); answers the name. */
export async function writePipeline(prefix: string, text: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}`;
  await writeFile(pipelinePath(name), text);
  return name;
}

export function readPipelineText(name: string): Promise<string> {
  return readFile(pipelinePath(name), "utf8");
}

/** Drags from the centre of one handle to the centre of another, as a user does. */
export async function dragHandle(page: Page, from: Locator, to: Locator) {
  const start = await from.boundingBox();
  const end = await to.boundingBox();
  if (!start || !end) throw new Error("a handle is not on screen");
  await page.mouse.move(start.x + start.width / 2, start.y + start.height / 2);
  await page.mouse.down();
  await page.mouse.move((start.x + end.x) / 2, (start.y + end.y) / 2 + 20, { steps: 5 });
  await page.mouse.move(end.x + end.width / 2, end.y + end.height / 2, { steps: 10 });
  await page.mouse.up();
}

/** Presses Tab (or Shift+Tab) until `target` has the focus, as a keyboard user does; fails past `limit` presses. */
export async function tabTo(page: Page, target: Locator, { backwards = false, limit = 100 } = {}) {
  for (let presses = 0; presses <= limit; presses++) {
    if (await target.evaluate((element) => element === document.activeElement)) return;
    await page.keyboard.press(backwards ? "Shift+Tab" : "Tab");
  }
  throw new Error(`${limit} presses of ${backwards ? "Shift+Tab" : "Tab"} did not reach ${target.toString()}`);
}

/**
 * Console errors of the page: the editor must not log any. `expected` lists errors the browser itself logs
 * for a failed request that the test provokes on purpose.
 */
export function collectConsoleErrors(page: Page, expected: RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    const text = `${message.text()} (${message.location().url})`;
    // The browser's own request for /favicon.ico (the app has none) is not the editor's error.
    if (message.type() === "error" && !message.location().url.endsWith("/favicon.ico") && !expected.some((pattern) => pattern.test(text))) errors.push(text);
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

/** Opens a pipeline in the editor and waits for its stages and its first validation. */
export async function openInEditor(page: Page, name: string, firstStage: string) {
  await page.goto(`/editor?pipeline=${name}`);
  await expect(page.getByTestId(`stage-node-${firstStage}`)).toBeVisible();
}
