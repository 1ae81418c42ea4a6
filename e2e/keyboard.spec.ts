/**
 * The pipeline editor (/editor) with the keyboard alone, in a real browser against the real server: the
 * palette, the stages and edges of the canvas, the inspector's inputs, Delete and undo. Nothing is saved.
 */
import { expect, test, type Locator } from "@playwright/test";
import { tabTo } from "./editor-helpers";
import { shot } from "./page-checks";

/** The x and y of a node's `translate(...)`, where React Flow draws it. */
async function nodePosition(node: Locator): Promise<{ x: number; y: number }> {
  const transform = await node.evaluate((element) => (element as HTMLElement).style.transform);
  const match = /translate\((-?[\d.]+)px,\s*(-?[\d.]+)px\)/.exec(transform);
  if (!match) throw new Error(`no translate in "${transform}"`);
  return { x: Number(match[1]), y: Number(match[2]) };
}

test("with the keyboard alone: add a stage, refuse a cycle, move and connect the stage, delete an edge and a stage, undo", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.location().url.endsWith("/favicon.ico")) errors.push(message.text());
  });
  await page.goto("/editor?pipeline=base");
  await expect(page.getByTestId("stage-node-ending")).toBeVisible();
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);
  const inspector = page.getByRole("complementary", { name: "Inspector" });
  const inspectorHeading = inspector.getByRole("heading", { level: 2 });
  const inputs = page.getByTestId("stage-inputs");

  // The palette, from the top of the page.
  await tabTo(page, page.getByRole("button", { name: "+ Single stage" }));
  await page.keyboard.press("Enter");
  const added = page.getByTestId("rf__node-stage4");
  await expect(added).toHaveAccessibleName("Stage stage4, single, model storyteller, reads the user's input");
  await expect(inspectorHeading).toHaveText("Stage stage4");
  await expect(page.getByTestId("dirty-marker")).toBeVisible();

  // Tab reaches the nodes; the focus selects a node, and the inspector shows it; Enter moves there.
  const draft = page.getByTestId("rf__node-draft");
  await tabTo(page, draft);
  await expect(draft).toHaveAccessibleName("Stage draft, single, model storyteller, reads the user's input");
  await expect(inspectorHeading).toHaveText("Stage draft");
  await page.keyboard.press("Enter");
  await expect(inspectorHeading).toBeFocused();
  await expect(inputs.getByRole("checkbox", { name: "user input" })).toBeChecked();

  // draft reading ending would close draft → ending → draft: refused with the message the canvas gives
  // (editor.spec.ts draws the same edge with the mouse).
  const endingBox = inputs.getByRole("checkbox", { name: "ending" });
  await tabTo(page, endingBox);
  await page.keyboard.press("Space");
  await expect(page.getByTestId("input-error")).toHaveText("Refused: connecting ending → draft would make a cycle: ending → draft → ending.");
  await expect(page.getByTestId("input-error")).toHaveAttribute("role", "alert");
  await expect(endingBox).not.toBeChecked();
  await expect(page.getByTestId("rf__edge-ending->draft")).toHaveCount(0);

  // Back to the new stage on the canvas: a visible focus ring, React Flow's description of this editor's keys.
  await tabTo(page, added, { backwards: true });
  await expect(inspectorHeading).toHaveText("Stage stage4");
  await expect(added).toHaveCSS("outline-style", "solid");
  await expect(added).toHaveCSS("outline-width", "3px");
  const description = await added.evaluate((element) => document.getElementById(element.getAttribute("aria-describedby") ?? "")?.textContent ?? "");
  expect(description).toContain("Enter moves to its fields");

  // Arrow keys move the selected node: 5 px a press, 20 with Shift.
  const before = await nodePosition(added);
  await page.keyboard.press("Shift+ArrowRight");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await expect.poll(() => nodePosition(added)).toEqual({ x: before.x + 20, y: before.y + 10 });
  await expect(page.locator("[id^=react-flow__aria-live]")).toHaveText(/Moved the stage down/);
  await expect(added).toBeFocused();
  await shot(page, "editor-keyboard-node-focus", { fullPage: false });

  // In the inspector, a checkbox connects ending → stage4.
  await page.keyboard.press("Enter");
  await expect(inspectorHeading).toBeFocused();
  await tabTo(page, endingBox);
  await page.keyboard.press("Space");
  await expect(page.getByTestId("rf__edge-ending->stage4")).toHaveCount(1);
  await expect(page.getByTestId("rf__edge-__input__->stage4")).toHaveCount(0);
  await expect(endingBox).toBeChecked();
  await expect(inputs.getByRole("checkbox", { name: "user input" })).not.toBeChecked();
  await expect(inspector).toContainText("Reads ending.");
  await expect(added).toHaveAccessibleName("Stage stage4, single, model storyteller, reads ending");

  // Tab to the new edge (focus selects it), then Delete removes it: stage4 reads the user's input again.
  const edge = page.getByTestId("rf__edge-ending->stage4");
  await tabTo(page, edge, { backwards: true });
  await expect(edge).toHaveAccessibleName("Edge from ending to stage4");
  await expect(inspectorHeading).toHaveText("Edge ending → stage4");
  await expect(edge.locator(".react-flow__edge-path")).toHaveCSS("stroke-width", "4px");
  await shot(page, "editor-keyboard-edge-focus", { fullPage: false });
  await page.keyboard.press("Delete");
  await expect(page.getByTestId("rf__edge-ending->stage4")).toHaveCount(0);
  await expect(page.getByTestId("rf__edge-__input__->stage4")).toHaveCount(1);
  await expect(added).toHaveAccessibleName(/reads the user's input$/);

  // Ctrl+Z brings the edge back, on the canvas and in the inspector.
  await page.keyboard.press("Control+z");
  await expect(page.getByTestId("rf__edge-ending->stage4")).toHaveCount(1);
  await tabTo(page, added);
  await expect(inspectorHeading).toHaveText("Stage stage4");
  await expect(endingBox).toBeChecked();
  await expect(inputs.getByRole("checkbox", { name: "user input" })).not.toBeChecked();

  // Delete removes the focused stage and its edge; Ctrl+Z brings both back.
  await page.keyboard.press("Delete");
  await expect(added).toHaveCount(0);
  await expect(page.getByTestId("rf__edge-ending->stage4")).toHaveCount(0);
  await page.keyboard.press("Control+z");
  await expect(added).toHaveAccessibleName("Stage stage4, single, model storyteller, reads ending");
  await expect(page.getByTestId("rf__edge-ending->stage4")).toHaveCount(1);
  expect(errors).toEqual([]);
});
