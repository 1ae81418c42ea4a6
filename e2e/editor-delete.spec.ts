/**
 * Deleting stages in the editor, in a real browser against the real server: a stage that others read is
 * deleted only once the user has chosen what becomes of its readers (connected to what it read, deleted
 * too, or nothing at all), by the mouse, the Delete key and the keyboard alone; one undo restores it all.
 * A stage nobody reads goes in one step.
 */
import { expect, test, type Page } from "@playwright/test";
import { parse } from "yaml";
import { collectConsoleErrors, openInEditor, readPipelineText, tabTo, writePipeline } from "./editor-helpers";
import { shot } from "./page-checks";

const pipelineText = `pipeline:
  name: Four readers
  stages:
    - id: draft
      type: single
      model: storyteller
    - id: voices
      type: multi
      input_from: draft
      models: [storyteller, dreamer]
      aggregation: { method: vote }
    - id: ending
      type: single
      model: dreamer
      input_from: [draft, voices]
    - id: aside
      type: single
      model: critic
      input_from: voices
    - id: note
      type: single
      model: critic
`;

/** Every edge on the canvas, as "source->target". */
async function edgeIds(page: Page): Promise<string[]> {
  return (await page.locator(".react-flow__edge").evaluateAll((edges) => edges.map((edge) => edge.getAttribute("data-id") ?? ""))).sort();
}

const allEdges = ["__input__->draft", "__input__->note", "draft->ending", "draft->voices", "voices->aside", "voices->ending"];

test("deleting a stage that others read asks what becomes of them, never rewires them silently, and one undo restores it all", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page);
  const name = await writePipeline("delete", pipelineText);
  await openInEditor(page, name, "draft");
  const dialog = page.getByRole("dialog");

  // A stage nobody reads goes in one step, and comes back with Ctrl+Z.
  await page.getByTestId("stage-node-note").click();
  await page.keyboard.press("Delete");
  await expect(page.getByTestId("stage-node-note")).toHaveCount(0);
  await expect(dialog).toHaveCount(0);
  await page.keyboard.press("Control+z");
  await expect(page.getByTestId("stage-node-note")).toBeVisible();
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);

  // The inspector's button: the dialog names the readers; Cancel leaves everything as it was.
  await page.getByTestId("stage-node-voices").click();
  await page.getByTestId("inspector").getByRole("button", { name: "Delete stage" }).click();
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAccessibleName("Delete stage voices?");
  await expect(dialog).toContainText("ending");
  await expect(dialog).toContainText("aside");
  await expect(page.getByTestId("stage-node-voices")).toBeVisible();
  await shot(page, "editor-delete-dialog", { fullPage: false });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("stage-node-voices")).toBeVisible();
  expect(await edgeIds(page)).toEqual(allEdges);
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);

  // The Delete key on the canvas: connect the readers to what voices read (draft), then save.
  await page.getByTestId("stage-node-voices").click();
  await page.keyboard.press("Delete");
  await expect(dialog).toBeVisible();
  // What each choice does is said before it is made.
  await expect(dialog.getByTestId("delete-reconnect-result")).toContainText("ending");
  await expect(dialog.getByTestId("delete-cascade-result")).toContainText("aside");
  await dialog.getByRole("button", { name: "Connect them to what voices read" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("stage-node-voices")).toHaveCount(0);
  expect(await edgeIds(page)).toEqual(["__input__->draft", "__input__->note", "draft->aside", "draft->ending"]);
  await expect(page.getByTestId("issues")).toContainText("No problems found.");

  // One undo brings back the stage and every edge of its readers.
  await page.keyboard.press("Control+z");
  await expect(page.getByTestId("stage-node-voices")).toBeVisible();
  expect(await edgeIds(page)).toEqual(allEdges);
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);
  await page.keyboard.press("Control+Shift+z");
  await expect(page.getByTestId("stage-node-voices")).toHaveCount(0);
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("notice")).toContainText("Saved to");
  const saved = parse(await readPipelineText(name)) as { pipeline: { stages: Array<{ id: string; input_from?: unknown }> } };
  expect(saved.pipeline.stages.map((stage) => [stage.id, stage.input_from ?? null])).toEqual([
    ["draft", null],
    ["ending", "draft"],
    ["aside", "draft"],
    ["note", null],
  ]);
  expect(consoleErrors).toEqual([]);
});

test("with the keyboard alone: Delete on a stage that others read opens the choice in a dialog; Escape cancels; delete them too; undo", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page);
  const name = await writePipeline("delete-keys", pipelineText);
  await openInEditor(page, name, "draft");
  const dialog = page.getByRole("dialog");
  const draft = page.getByTestId("rf__node-draft");

  await tabTo(page, draft);
  await page.keyboard.press("Delete");
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAccessibleName("Delete stage draft?");
  // The focus is in the dialog, on its safest choice.
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(draft).toBeVisible();
  await expect(draft).toBeFocused();
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);

  // Delete them too: draft and everything downstream of it (voices, ending, aside); note stays.
  await page.keyboard.press("Delete");
  await expect(dialog).toBeVisible();
  await tabTo(page, dialog.getByRole("button", { name: "Delete them too" }), { backwards: true, limit: 6 });
  await page.keyboard.press("Enter");
  await expect(dialog).toHaveCount(0);
  for (const id of ["draft", "voices", "ending", "aside"]) await expect(page.getByTestId(`stage-node-${id}`)).toHaveCount(0);
  await expect(page.getByTestId("stage-node-note")).toBeVisible();
  await page.keyboard.press("Control+z");
  for (const id of ["draft", "voices", "ending", "aside", "note"]) await expect(page.getByTestId(`stage-node-${id}`)).toBeVisible();
  expect(await edgeIds(page)).toEqual(allEdges);
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});
