/**
 * Every control of every page has an accessible name, and the pages log no errors. (Keyboard reach comes
 * with native controls: every control found here is a button, link, input, select or textarea, or has a
 * tabindex.)
 */
import { expect, test, type Page } from "@playwright/test";

/** Controls with no accessible name (by aria-label, aria-labelledby, a <label>, their text or a title). */
async function unnamedControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const controls = document.querySelectorAll<HTMLElement>("button, a[href], input:not([type=hidden]), select, textarea, [role=button], [tabindex]:not([tabindex='-1'])");
    const problems: string[] = [];
    for (const control of controls) {
      if (control.closest("[aria-hidden=true]") || control.offsetParent === null) continue;
      const labelledBy = control.getAttribute("aria-labelledby");
      const byLabel = "labels" in control ? [...((control as HTMLInputElement).labels ?? [])].map((label) => label.textContent ?? "").join(" ") : "";
      const name = [
        control.getAttribute("aria-label") ?? "",
        labelledBy ? labelledBy.split(" ").map((id) => document.getElementById(id)?.textContent ?? "").join(" ") : "",
        byLabel,
        control.tagName === "INPUT" ? "" : (control.textContent ?? ""),
        control.getAttribute("title") ?? "",
      ]
        .join(" ")
        .trim();
      if (!name) problems.push(control.outerHTML.slice(0, 160));
    }
    return problems;
  });
}

test("every control on every page has an accessible name", async ({ page, request }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  const start = async (input: string) => ((await (await request.post("/api/runs", { data: { pipeline: "base", input } })).json()) as { id: string }).id;
  const id = await start("Once upon a time");
  const other = await start("The little dog");
  // Each page, and a text that shows it is there.
  for (const [url, shown] of [
    ["/", "Pipeline"],
    [`/?run=${id}`, "Final answer"],
    ["/editor", "Add a stage"],
    ["/history", "History"],
    [`/history/${id}`, "Branches"],
    [`/history/compare?a=${id}&b=${other}`, "Final answer"],
    ["/models", "Models"],
  ] as const) {
    await page.goto(url);
    await page.waitForLoadState("networkidle");
    await expect(page.locator("body")).toContainText(shown);
    expect(await unnamedControls(page), url).toEqual([]);
  }
  // The editor's inspector, with a stage in it.
  await page.goto("/editor");
  await page.locator(".react-flow__node-stage").first().click();
  await expect(page.getByRole("complementary", { name: "Inspector" })).toContainText("prompt template");
  expect(await unnamedControls(page), "/editor with a stage selected").toEqual([]);
  expect(errors).toEqual([]);
});
