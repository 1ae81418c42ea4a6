import type { Page } from "@playwright/test";

/** Records, for every stage, whether its text was on screen while the stage was still generating. */
export async function recordLiveText(page: Page) {
  await page.evaluate(() => {
    const seen: Record<string, boolean> = {};
    (window as unknown as { __liveText: Record<string, boolean> }).__liveText = seen;
    new MutationObserver(() => {
      for (const stage of document.querySelectorAll<HTMLElement>("section[data-testid^='stage-']")) {
        const id = stage.dataset.testid!.slice("stage-".length);
        const text = [...stage.querySelectorAll("[data-testid^='text-']")].map((pre) => pre.textContent ?? "").join("");
        if (stage.dataset.state === "generating" && text.trim().length > 0) seen[id] = true;
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

/** What `recordLiveText` saw: stage id → text on screen while it generated. */
export function liveText(page: Page): Promise<Record<string, boolean>> {
  return page.evaluate(() => (window as unknown as { __liveText: Record<string, boolean> }).__liveText);
}
