/**
 * Run from the editor, in a real browser against the real server and model: with unsaved edits the run
 * takes the pipeline as it is on the canvas (the file is not touched, the session is marked unsaved and
 * holds the edited pipeline); a pipeline the server refuses shows its issues and stays in the editor.
 */
import { expect, test } from "@playwright/test";
import { collectConsoleErrors, openInEditor, readPipelineText, writePipeline } from "./editor-helpers";

interface Session {
  status: string;
  pipelineName: string;
  inlinePipeline?: boolean;
  pipeline: { stages: Array<{ id: string; params?: { max_tokens?: number } }> };
  stages: Record<string, unknown>;
}

test("Run with unsaved edits runs the canvas's pipeline without saving it, and the session is marked unsaved", async ({ page, request }) => {
  const consoleErrors = collectConsoleErrors(page);
  const name = await writePipeline(
    "manual",
    `pipeline:
  stages:
    - id: draft
      type: single
      model: storyteller
      params:
        max_tokens: 24
    - id: ending
      type: single
      model: dreamer
      input_from: draft
      params:
        max_tokens: 12
`,
  );
  const before = await readPipelineText(name);
  await openInEditor(page, name, "draft");
  const run = page.getByRole("button", { name: /^Run( unsaved)? ▶$/ });
  await expect.soft(run).toHaveText("Run ▶");

  await page.getByTestId("stage-node-draft").click();
  await page.getByLabel("max_tokens").fill("9");
  await expect.soft(run).toHaveText("Run unsaved ▶");
  await expect.soft(page.getByTestId("run-note")).toContainText("the file stays as it is");
  await page.getByLabel("Input for a run").fill("Once upon a time");
  await run.click();

  await expect(page).toHaveURL(new RegExp(`/\\?pipeline=${name}&run=\\d{8}-\\d{6}-[0-9a-f]{6}`));
  const id = new URL(page.url()).searchParams.get("run")!;
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  const session = (await (await request.get(`/api/sessions/${id}`)).json()) as Session;
  expect(session.inlinePipeline).toBe(true);
  expect(session.pipelineName).toBe(name);
  expect(session.pipeline.stages.find((stage) => stage.id === "draft")?.params?.max_tokens).toBe(9);
  expect(session.status).toBe("completed");
  expect(await readPipelineText(name)).toBe(before);

  // Back in the editor, the edits are there again, and undo goes back to the file.
  await page.goBack();
  await expect(page.getByTestId("notice")).toContainText("Your unsaved edits are back");
  await expect(page.getByTestId("dirty-marker")).toBeVisible();
  await page.getByTestId("stage-node-draft").click();
  await expect(page.getByLabel("max_tokens")).toHaveValue("9");
  await page.getByRole("button", { name: "Undo" }).click();
  await expect(page.getByLabel("max_tokens")).toHaveValue("24");
  await expect(page.getByTestId("dirty-marker")).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});

test("a run the server refuses shows its issues, and the edits stay in the editor", async ({ page }) => {
  const consoleErrors = collectConsoleErrors(page, [/status of 422|status of 400/]);
  const name = await writePipeline(
    "refused",
    `pipeline:
  stages:
    - id: draft
      type: single
      model: storyteler
`,
  );
  await openInEditor(page, name, "draft");
  await page.getByTestId("stage-node-draft").click();
  await page.getByTestId("stage-name").fill("Edited");
  await page.getByLabel("Input for a run").fill("Once upon a time");
  await page.getByRole("button", { name: /^Run( unsaved)? ▶$/ }).click();
  const notice = page.getByTestId("notice");
  await expect(notice).toHaveAttribute("role", "alert");
  await expect(notice).toContainText("storyteler");
  await expect(page).toHaveURL(new RegExp(`/editor\\?pipeline=${name}$`));
  await expect(page.getByTestId("stage-node-draft")).toContainText("Edited");
  await expect(page.getByTestId("dirty-marker")).toBeVisible();
  expect(consoleErrors).toEqual([]);
});
