/**
 * The pipeline editor (/editor) in a real browser against the real server: build a pipeline with the mouse,
 * save it, find it on disk and after a reload; and a cycle drawn on the canvas is refused.
 */
import { expect, test, type Page } from "@playwright/test";
import { appendFile, readFile } from "node:fs/promises";
import path from "node:path";
import { parse } from "yaml";
import { collectConsoleErrors, configDir, dragHandle, openInEditor, readPipelineText, writePipeline } from "./editor-helpers";
import { liveText, recordLiveText } from "./live-text";
import { contrast, shot } from "./page-checks";

test("build a three-stage pipeline on the canvas with the mouse, save it as a new pipeline, and find it after a reload and on disk", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page);
  const name = `three-${Date.now().toString(36)}`;
  await page.goto("/editor");
  await expect(page.getByTestId("stage-node-draft")).toBeVisible();

  await page.getByRole("button", { name: "New pipeline" }).click();
  await page.getByTestId("pipeline-name-input").fill(name);
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page).toHaveURL(new RegExp(`pipeline=${name}`));
  await expect(page.getByTestId("stage-node-draft")).toHaveCount(0);

  // Add: single, multi, single; then lay them out so that every handle is on screen.
  await page.getByTestId("add-single").click();
  await page.getByTestId("add-multi").click();
  await page.getByTestId("add-single").click();
  for (const id of ["stage1", "stage2", "stage3"]) await expect(page.getByTestId(`stage-node-${id}`)).toBeVisible();
  await expect(page.getByTestId("stage-node-stage2")).toContainText("concat");
  await expect(page.getByTestId("stage-node-stage1").getByTestId("model-badge")).toHaveText("present");
  await expect(page.getByTestId("dirty-marker")).toBeVisible();
  await page.getByRole("button", { name: "Auto layout" }).click();
  await page.waitForTimeout(300);

  // Connect: stage1 → stage2, stage1 → stage3, stage2 → stage3.
  await dragHandle(page, page.getByTestId("source-stage1"), page.getByTestId("target-stage2"));
  await expect(page.getByTestId("rf__edge-stage1->stage2")).toHaveCount(1);
  await dragHandle(page, page.getByTestId("source-stage1"), page.getByTestId("target-stage3"));
  await expect(page.getByTestId("rf__edge-stage1->stage3")).toHaveCount(1);
  await dragHandle(page, page.getByTestId("source-stage2"), page.getByTestId("target-stage3"));
  await expect(page.getByTestId("rf__edge-stage2->stage3")).toHaveCount(1);
  await page.getByRole("button", { name: "Auto layout" }).click();

  // Configure: the last stage's prompt and max_tokens, the multi stage's aggregation, then rename the first.
  await page.getByTestId("stage-node-stage3").click();
  await expect(page.getByTestId("inspector")).toContainText("Stage stage3");
  await page.getByTestId("stage-prompt").fill("{{stage.stage1}} and then {{stage.stage2}}");
  // Long enough to be seen streaming on the Run page, which a busy machine opens a few tenths of a second late.
  await page.getByLabel("max_tokens").fill("480");
  await page.getByTestId("stage-node-stage2").click();
  await page.getByTestId("aggregation-method").selectOption("vote");
  await expect(page.getByTestId("stage-node-stage2")).toContainText("vote");
  await page.getByTestId("stage-node-stage1").click();
  await page.getByTestId("stage-id").fill("opening");
  await page.getByTestId("stage-id").press("Enter");
  await expect(page.getByTestId("stage-node-opening")).toBeVisible();
  await expect(page.getByTestId("rf__edge-opening->stage3")).toHaveCount(1);
  await expect(page.getByTestId("issues")).toContainText("No problems found.");

  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("notice")).toContainText("Saved to");
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);

  const file = path.join(configDir, "pipelines", `${name}.yaml`);
  const onDisk = parse(await readFile(file, "utf8")) as { pipeline: { stages: Array<Record<string, unknown>> } };
  const stages = onDisk.pipeline.stages;
  expect(stages.map((stage) => stage.id)).toEqual(["opening", "stage2", "stage3"]);
  expect(stages[0]).toMatchObject({ type: "single", model: "storyteller" });
  expect(stages[0]!.input_from).toBeUndefined();
  expect(stages[1]).toMatchObject({ type: "multi", input_from: "opening", aggregation: { method: "vote" } });
  expect(stages[1]!.models).toHaveLength(2);
  expect(stages[2]).toMatchObject({ input_from: ["opening", "stage2"], prompt: "{{stage.opening}} and then {{stage.stage2}}", params: { max_tokens: 480 } });
  for (const stage of stages) expect(stage.position).toEqual({ x: expect.any(Number), y: expect.any(Number) });

  await page.reload();
  for (const id of ["opening", "stage2", "stage3"]) await expect(page.getByTestId(`stage-node-${id}`)).toBeVisible();
  await expect(page.getByTestId("rf__edge-opening->stage2")).toHaveCount(1);
  await expect(page.getByTestId("rf__edge-stage2->stage3")).toHaveCount(1);
  await expect(page.getByTestId("pipeline-picker")).toHaveValue(name);
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);
  await expect(page.getByTestId("issues")).toContainText("No problems found.");
  await page.getByTestId("stage-node-stage3").click();
  await shot(page, "editor-three-stages");

  // Run it in one click from the editor: the Run page follows it, each stage's tokens, then the final answer.
  await page.getByLabel("Input for a run").fill("Once upon a time");
  await recordLiveText(page);
  await page.getByRole("button", { name: "Run ▶" }).click();
  await expect(page).toHaveURL(new RegExp(`/\\?pipeline=${name}&run=\\d{8}-\\d{6}-[0-9a-f]{6}`));
  await expect(page.getByLabel("Pipeline", { exact: true })).toHaveValue(name);
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  for (const id of ["opening", "stage2", "stage3"]) await expect(page.getByTestId(`stage-${id}`)).toHaveAttribute("data-state", "done");
  // The last stage's text (480 tokens) was on screen while it was generated (the page is the same window:
  // a client-side navigation). The earlier, shorter stages can end while the Run page is still on its
  // way; runs started from the Run page itself show every stage live (studio.spec.ts, b).
  expect(await liveText(page)).toMatchObject({ stage3: true });
  await expect(page.getByTestId("text-opening-storyteller")).not.toBeEmpty();
  await expect(page.getByTestId("answer-stage2")).not.toBeEmpty();
  await expect(page.getByTestId("text-stage3-storyteller")).not.toBeEmpty();
  await shot(page, "editor-pipeline-run");
  expect(consoleErrors).toEqual([]);
});

test("drawing an edge that closes a cycle is refused with a message", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page);
  await page.goto("/editor?pipeline=base");
  await expect(page.getByTestId("stage-node-ending")).toBeVisible();
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);

  // ending reads draft: an edge ending → draft would close draft → ending → draft.
  await dragHandle(page, page.getByTestId("source-ending"), page.getByTestId("target-draft"));
  const alert = page.getByTestId("canvas-alert");
  await expect(alert).toHaveAttribute("role", "alert");
  await expect(alert).toContainText("would make a cycle: ending → draft → ending");
  await expect(page.getByTestId("rf__edge-ending->draft")).toHaveCount(0);
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);
  await shot(page, "editor-cycle-refused");

  // A self-loop is refused too.
  await dragHandle(page, page.getByTestId("source-voices"), page.getByTestId("target-voices"));
  await expect(alert).toContainText("voices → voices");
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);

  await page.emulateMedia({ colorScheme: "dark" });
  await page.getByTestId("stage-node-voices").click();
  await shot(page, "editor-cycle-refused-dark");
  expect(consoleErrors).toEqual([]);
});

test("delete an edge with the keyboard, undo and redo it, and a save over a file changed on disk is refused and keeps the edits", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page, [/status of 409 \(Conflict\).*pipelines\.save/]);
  const name = `conflict-${Date.now().toString(36)}`;
  await page.goto("/editor?pipeline=base");
  await expect(page.getByTestId("stage-node-voices")).toBeVisible();
  await page.getByRole("button", { name: "Save as…" }).click();
  await page.getByTestId("pipeline-name-input").fill(name);
  await page.getByRole("button", { name: "Save as", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`pipeline=${name}`));
  await expect(page.getByTestId("notice")).toContainText(`${name}.yaml`);

  await page.getByTestId("rf__edge-draft->voices").click();
  await expect(page.getByTestId("inspector")).toHaveCount(0);
  await page.keyboard.press("Delete");
  await expect(page.getByTestId("rf__edge-draft->voices")).toHaveCount(0);
  await expect(page.getByTestId("rf__edge-__input__->voices")).toHaveCount(1);
  await expect(page.getByTestId("dirty-marker")).toBeVisible();
  await page.keyboard.press("Control+z");
  await expect(page.getByTestId("rf__edge-draft->voices")).toHaveCount(1);
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);
  await page.keyboard.press("Control+Shift+z");
  await expect(page.getByTestId("rf__edge-draft->voices")).toHaveCount(0);
  await page.keyboard.press("Control+y");
  await page.keyboard.press("Control+z");
  await expect(page.getByTestId("rf__edge-draft->voices")).toHaveCount(1);

  await page.getByTestId("stage-node-draft").click();
  await page.getByTestId("stage-name").fill("The first draft");
  await expect(page.getByTestId("stage-node-draft")).toContainText("The first draft");
  await appendFile(path.join(configDir, "pipelines", `${name}.yaml`), "# edited by hand meanwhile\n");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  const conflict = page.getByTestId("conflict");
  await expect(conflict).toHaveAttribute("role", "alert");
  await expect(conflict).toContainText("since it was opened");
  await expect(page.getByTestId("dirty-marker")).toBeVisible();
  await expect(page.getByTestId("stage-node-draft")).toContainText("The first draft");
  await shot(page, "editor-conflict");

  // The edits would be lost: the editor asks first.
  await conflict.getByRole("button", { name: "Reload from disk" }).click();
  await page.getByRole("dialog", { name: "Lose your unsaved changes?" }).getByRole("button", { name: "Reload from disk" }).click();
  await expect(conflict).toHaveCount(0);
  await expect(page.getByTestId("stage-node-draft")).not.toContainText("The first draft");
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});

test("a save from the canvas writes no default the file did not have, keeps the defaults it had, leaves untouched stages as they were, and writes a new stage's keys in their natural order", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page);
  const original = `pipeline:
  stages:
    - id: draft
      type: single
      model: storyteller
      output_mode: answer_only # said on purpose
    - id: voices
      type: multi
      input_from: draft
      models: [storyteller, dreamer]
      aggregation:
        method: concat
    - id: weave
      type: multi
      input_from: voices
      models: [storyteller, dreamer]
      aggregation:
        method: synthesis
        model: critic
`;
  const name = await writePipeline("defaults", original);
  await openInEditor(page, name, "draft");
  // One edit on the canvas (draft's prompt), one stage moved with the mouse, and one new stage from the palette.
  await page.getByTestId("stage-node-draft").click();
  await page.getByTestId("stage-prompt").fill("{{input}}");
  const voices = await page.getByTestId("stage-node-voices").boundingBox();
  if (!voices) throw new Error("the stage voices is not on screen");
  await page.mouse.move(voices.x + voices.width / 2, voices.y + 12);
  await page.mouse.down();
  await page.mouse.move(voices.x + voices.width / 2 + 30, voices.y + 50, { steps: 8 });
  await page.mouse.up();
  await page.getByTestId("add-single").click();
  await expect(page.getByTestId("stage-node-stage4")).toBeVisible();
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("notice")).toContainText("Saved to");

  const text = await readPipelineText(name);
  // Byte for byte: the untouched stage (weave) as it was, with no position from the automatic layout; draft
  // with its prompt only, where it belongs among its keys; the moved stage and the new one with their places.
  // The default draft had stays, with its comment; no other stage gains one.
  expect(text.replace(/([xy]): -?\d+/g, "$1: N")).toBe(`pipeline:
  stages:
    - id: draft
      type: single
      model: storyteller
      prompt: "{{input}}"
      output_mode: answer_only # said on purpose
    - id: voices
      type: multi
      input_from: draft
      models: [storyteller, dreamer]
      aggregation:
        method: concat
      position:
        x: N
        y: N
    - id: weave
      type: multi
      input_from: voices
      models: [storyteller, dreamer]
      aggregation:
        method: synthesis
        model: critic
    - id: stage4
      type: single
      model: storyteller
      position:
        x: N
        y: N
`);
  await page.reload();
  await expect(page.getByTestId("stage-node-stage4")).toBeVisible();
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});

test("the inspector edits a stage's conversation: turns added, their roles and texts set, removed, undone, saved in their place", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page);
  const original = `pipeline:
  stages:
    - id: ask
      type: single
      model: storyteller
      system: Answer briefly.
      history:
        - role: user
          content: Hi
      output_mode: answer_only
`;
  const name = await writePipeline("turns", original);
  await openInEditor(page, name, "ask");
  await page.getByTestId("stage-node-ask").click();
  const turns = page.getByTestId("stage-history").getByRole("listitem");
  await expect(turns).toHaveCount(1);
  await expect(page.getByLabel("turn 1: role")).toHaveValue("user");
  await expect(page.getByLabel("turn 1: text")).toHaveValue("Hi");
  // A new turn takes the other role; its text is typed; a third is added and then removed.
  await page.getByRole("button", { name: "Add turn" }).click();
  await expect(page.getByLabel("turn 2: role")).toHaveValue("assistant");
  await page.getByLabel("turn 2: text").fill("Hello! How can I help?");
  await page.getByRole("button", { name: "Add turn" }).click();
  await expect(turns).toHaveCount(3);
  await page.getByLabel("turn 3: role").selectOption("assistant");
  await page.getByRole("button", { name: "Remove turn 3" }).click();
  await expect(turns).toHaveCount(2);
  // Undo brings the removed turn back, as it was; redo removes it again.
  await page.keyboard.press("Control+z");
  await expect(turns).toHaveCount(3);
  await expect(page.getByLabel("turn 3: role")).toHaveValue("assistant");
  await page.keyboard.press("Control+Shift+z");
  await expect(turns).toHaveCount(2);
  // Each click is a step of its own: two turns added, one undo takes back the second.
  await page.getByRole("button", { name: "Add turn" }).click();
  await page.getByRole("button", { name: "Add turn" }).click();
  await expect(turns).toHaveCount(4);
  await page.keyboard.press("Control+z");
  await expect(turns).toHaveCount(3);
  await page.keyboard.press("Control+z");
  await expect(turns).toHaveCount(2);
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("notice")).toContainText("Saved to");
  // The file as it was, with the new turn after the first: nothing else moved.
  expect(await readPipelineText(name)).toBe(original.replace("          content: Hi\n", "          content: Hi\n        - role: assistant\n          content: Hello! How can I help?\n"));
  await shot(page, "editor-conversation");
  // After a reload the inspector shows the saved turns; with every turn removed the key leaves the file.
  await page.reload();
  await page.getByTestId("stage-node-ask").click();
  await expect(page.getByLabel("turn 2: text")).toHaveValue("Hello! How can I help?");
  await page.getByRole("button", { name: "Remove turn 2" }).click();
  await page.getByRole("button", { name: "Remove turn 1" }).click();
  await expect(page.getByTestId("stage-history")).toHaveCount(0);
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("notice")).toContainText("Saved to");
  expect(parse(await readPipelineText(name)).pipeline.stages[0]).toEqual({ id: "ask", type: "single", model: "storyteller", system: "Answer briefly.", output_mode: "answer_only" });
  expect(consoleErrors).toEqual([]);
});

test("a stage drawn by the automatic layout stays where it is when its edges change and when it is renamed, and its file gains no position", async ({ page }) => {
  const name = await writePipeline("rename-unplaced", "pipeline:\n  stages:\n    - id: draft\n      type: single\n      model: storyteller\n    - id: ending\n      type: single\n      model: dreamer\n      input_from: draft\n");
  await openInEditor(page, name, "draft");
  // Where the canvas places a node, in the canvas's own coordinates.
  const place = (id: string) => page.locator(`.react-flow__node[data-id="${id}"]`).evaluate((node) => (node as HTMLElement).style.transform);
  const before = await place("ending");
  // Without its input, a layout made now would move it a column left.
  await page.getByTestId("rf__edge-draft->ending").click();
  await page.keyboard.press("Delete");
  await expect(page.getByTestId("rf__edge-__input__->ending")).toHaveCount(1);
  expect(await place("ending")).toBe(before);
  await page.getByTestId("stage-node-ending").click();
  await page.getByTestId("stage-id").fill("finale");
  await page.getByTestId("stage-id").press("Enter");
  await expect(page.getByTestId("stage-node-finale")).toBeVisible();
  expect(await place("finale")).toBe(before);
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("notice")).toContainText("Saved to");
  expect(await readPipelineText(name)).toBe("pipeline:\n  stages:\n    - id: draft\n      type: single\n      model: storyteller\n    - id: finale\n      type: single\n      model: dreamer\n");
});

/** The stroke of an edge's path and the colour of the canvas behind it (the first opaque background up the tree). */
async function edgeColours(page: Page, edgeId: string): Promise<{ stroke: string; background: string }> {
  return page.getByTestId(`rf__edge-${edgeId}`).locator(".react-flow__edge-path").evaluate((path) => {
    let element: Element | null = document.querySelector(".react-flow__background");
    let background = "rgb(255, 255, 255)";
    for (; element; element = element.parentElement) {
      const color = getComputedStyle(element).backgroundColor;
      if (color && !/^rgba\(.*,\s*0\)$/.test(color) && color !== "transparent") {
        background = color;
        break;
      }
    }
    return { stroke: getComputedStyle(path).stroke, background };
  });
}

for (const colorScheme of ["dark", "light"] as const) {
  test(`in ${colorScheme} mode the edges, those from the user input too, stand out from the canvas (3:1 or more)`, async ({ page }) => {
    await page.emulateMedia({ colorScheme });
    await page.goto("/editor?pipeline=base");
    await expect(page.getByTestId("rf__edge-__input__->draft")).toHaveCount(1);
    for (const edge of ["__input__->draft", "draft->voices"]) {
      const { stroke, background } = await edgeColours(page, edge);
      expect(await contrast(page, stroke, background), `${edge}: ${stroke} on ${background}`).toBeGreaterThanOrEqual(3);
    }
    await shot(page, `editor-edges-${colorScheme}`, { fullPage: false });
  });
}

test("an unknown model name gets a “did you mean”, on the node, in the inspector and in the issue list, and one click fixes it", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page);
  const name = await writePipeline(
    "typo",
    `pipeline:
  stages:
    - id: draft
      type: single
      model: storyteler
    - id: voices
      type: multi
      input_from: draft
      models: [storyteller, dremer]
      aggregation: { method: vote }
`,
  );
  await openInEditor(page, name, "draft");
  const issues = page.getByTestId("issues");
  await expect(issues).toContainText("did you mean storyteller?");
  await expect(issues).toContainText("did you mean dreamer?");
  await expect(page.getByTestId("stage-node-draft")).toContainText("did you mean storyteller?");
  await expect(page.getByTestId("stage-node-voices")).toContainText("did you mean dreamer?");

  // From the issue list: draft's model.
  await issues.getByRole("button", { name: "Use storyteller" }).click();
  await expect(page.getByTestId("stage-node-draft").getByTestId("model-badge")).toHaveText("present");
  await expect(issues).not.toContainText("storyteler");

  // From the inspector: the second model of voices.
  await page.getByTestId("stage-node-voices").click();
  const inspector = page.getByTestId("inspector");
  await expect(inspector).toContainText("did you mean dreamer?");
  await shot(page, "editor-did-you-mean", { fullPage: false });
  await inspector.getByRole("button", { name: "Use dreamer" }).click();
  await expect(inspector.getByRole("combobox", { name: /^model 2/ })).toHaveValue("dreamer");
  await expect(issues).toContainText("No problems found.");
  await page.keyboard.press("Control+z");
  await expect(issues).toContainText("did you mean dreamer?");
  expect(consoleErrors).toEqual([]);
});

test("leaving the editor with unsaved edits asks first, in a dialog of the page", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page);
  await page.goto("/editor?pipeline=base");
  await page.getByTestId("stage-node-draft").click();
  await page.getByTestId("stage-name").fill("Changed");
  const history = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" });
  const dialog = page.getByRole("dialog", { name: "Lose your unsaved changes?" });

  await history.click();
  await expect(dialog).toContainText("Leave and lose them?");
  await dialog.getByRole("button", { name: "Keep editing" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page).toHaveURL(/\/editor\?pipeline=base$/);
  await expect(page.getByTestId("stage-node-draft")).toContainText("Changed");

  await history.click();
  await dialog.getByRole("button", { name: "Leave" }).click();
  await expect(page).toHaveURL(/\/history$/);
  expect(consoleErrors).toEqual([]);
});

test("on a phone, the whole pipeline is in view when the editor opens", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/editor?pipeline=story");
  await expect(page.getByTestId("stage-node-ending")).toBeAttached();
  // The nodes that stick out of the canvas's box, by id.
  const outside = () =>
    page.evaluate(() => {
      const canvas = document.querySelector(".react-flow")!.getBoundingClientRect();
      return [...document.querySelectorAll(".react-flow__node")]
        .filter((node) => {
          const box = node.getBoundingClientRect();
          return box.left < canvas.left - 1 || box.right > canvas.right + 1 || box.top < canvas.top - 1 || box.bottom > canvas.bottom + 1;
        })
        .map((node) => node.getAttribute("data-id"));
    });
  await expect.poll(outside).toEqual([]);
  await page.locator(".react-flow").scrollIntoViewIfNeeded();
  await shot(page, "editor-story-390", { fullPage: false });
});
