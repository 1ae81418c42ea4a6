/**
 * The Run, History and Models pages in a real browser against the real server and model.
 */
import { expect, test } from "@playwright/test";
import { liveText, recordLiveText } from "./live-text";
import { shot, waitForEnd, watchConsole } from "./page-checks";

test("b. a run streams each stage's tokens while it runs, then the final answer", async ({ page }) => {
  const errors = watchConsole(page);
  // The story pipeline with stages long enough to be seen live however late the page's stream connects.
  await page.goto("/?pipeline=saga");
  await expect(page.getByLabel("Pipeline")).toHaveValue("saga");
  await page.getByLabel("Input").fill("Once upon a time");
  // Computed, so that it streams (an earlier run of this input fills the stage cache).
  await page.getByTestId("use-cache").uncheck();
  await recordLiveText(page);
  await page.getByLabel("Input").press("Control+Enter");
  await expect(page).toHaveURL(/run=\d{8}-\d{6}-[0-9a-f]{6}/);
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  const live = await liveText(page);
  expect(live).toEqual({ opening: true, voices: true, ending: true });
  for (const stage of ["opening", "voices", "ending"]) await expect(page.getByTestId(`stage-${stage}`)).toHaveAttribute("data-state", "done");
  await expect(page.getByRole("table", { name: "Vote tallies of voices" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Timeline" })).toBeVisible();

  // A reload after the end shows the same run from its stored events.
  const answer = await page.getByTestId("final-answer").textContent();
  await page.reload();
  await expect(page.getByTestId("final-answer")).toHaveText(answer!);
  await shot(page, "run");
  expect(errors).toEqual([]);
});

test("b. reloading mid-run reattaches to the live stream, and Cancel stops it", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto("/?pipeline=long");
  await page.getByLabel("Input").fill("A long time ago");
  // Computed as it goes, not served from the stage cache.
  await page.getByTestId("use-cache").uncheck();
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/run=/);
  await expect(page.getByTestId("stage-one")).toHaveAttribute("data-state", "generating");
  await page.reload();
  // Back on the same run, still live: the text so far, then more of it.
  await expect(page.getByRole("region", { name: "Pipeline graph" })).toBeVisible();
  const text = page.getByTestId("text-one-storyteller");
  await expect(text).not.toBeEmpty();
  const before = (await text.textContent())!.length;
  await expect.poll(async () => (await text.textContent())!.length).toBeGreaterThan(before);
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("region", { name: "Result" })).toContainText("cancelled");
  await expect(page.getByTestId("stage-three")).toHaveAttribute("data-state", "cancelled");
  const id = new URL(page.url()).searchParams.get("run")!;
  const session = await (await page.request.get(`/api/sessions/${id}`)).json();
  expect(session.status).toBe("cancelled");
  await shot(page, "run-cancelled");
  expect(errors).toEqual([]);
});

test("the address follows the run: a failed start keeps it, a reload right after Run finds the run", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto("/?pipeline=story");
  await page.getByLabel("Input").fill("Once upon a time");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  // The address is written once the server has answered the start, which a run served whole from the
  // stage cache (the same input as the test before) can end before: it is waited for, not read once.
  await expect.poll(() => new URL(page.url()).searchParams.get("run")).toMatch(/^\d{8}-\d{6}-[0-9a-f]{6}$/);
  const first = new URL(page.url()).searchParams.get("run");

  // A start refused at once: the error says where the config is wrong; the page and its address stay on
  // the run before, and back still leads where it led.
  await page.getByLabel("Pipeline", { exact: true }).selectOption("broken");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByRole("alert").filter({ hasText: "The run could not start" })).toContainText(/broken\.yaml:6:\d+: /);
  await expect(page.getByTestId("final-answer")).not.toBeEmpty();
  expect(new URL(page.url()).searchParams.get("run")).toBe(first);
  await expect(page.getByLabel("Pipeline", { exact: true })).toHaveValue("broken");
  await shot(page, "run-start-refused");

  // A reload right after Run, before the address names the run, comes back to that run. What the click
  // leaves for a reload is set here by hand: how soon chromium keeps a write before a reload is its own.
  const started = (await (await page.request.post("/api/runs", { data: { pipeline: "story", input: "Once upon a time" } })).json()) as { id: string };
  await page.evaluate(
    (runId) => sessionStorage.setItem("project-llm.pending-run", JSON.stringify({ runId, url: `/?pipeline=story&run=${runId}`, from: window.location.href, at: Date.now() })),
    started.id,
  );
  await page.reload();
  await expect(page).toHaveURL(new RegExp(`run=${started.id}`));
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  await page.goBack();
  // Back is a navigation within the document: the address is waited for, not read once.
  await expect.poll(() => new URL(page.url()).searchParams.get("run")).toBe(first);

  // The refused start's 422 is the only error the browser reports.
  expect(errors.filter((error) => !/status of 422/.test(error))).toEqual([]);
});

test("a link followed right after Run is not undone by the run's address", async ({ page }) => {
  const errors = watchConsole(page);
  // The run's address is due while the navigation is on its way: the next page's data comes late (and
  // is not prefetched: the route is in place before the page loads).
  await page.route(
    (url) => url.pathname === "/history" && url.searchParams.has("_rsc"),
    async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 700));
      await route.continue();
    },
  );
  await page.goto("/?pipeline=story");
  await page.getByLabel("Input").fill("Once upon a time");
  await page.evaluate(() => {
    document.querySelector<HTMLButtonElement>("form[aria-label='Start a run'] button[type=submit]")!.click();
    document.querySelector<HTMLAnchorElement>("nav a[href='/history']")!.click();
  });
  await expect(page).toHaveURL(/\/history$/);
  await expect(page.getByRole("table", { name: "Sessions" })).toBeVisible();
  await page.waitForTimeout(500);
  await expect(page).toHaveURL(/\/history$/);
  expect(errors).toEqual([]);
});

test("c. History lists the session; a rerun from the second stage is a branch the tree shows", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto("/?pipeline=story");
  const tag = Date.now().toString(36);
  await page.getByLabel("Input").fill(`Story ${tag}. The little dog`);
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  await expect(page).toHaveURL(/run=\d{8}-\d{6}-[0-9a-f]{6}/);
  const parentId = new URL(page.url()).searchParams.get("run")!;

  await page.getByRole("link", { name: "History" }).click();
  await expect(page.getByTestId(`session-row-${parentId}`)).toBeVisible();
  await expect(page.getByTestId(`session-row-${parentId}`)).toContainText(`Story ${tag}. The little dog`);
  await page.getByLabel("Search").fill(`${tag} little dog`);
  await expect(page.getByRole("table", { name: "Sessions" }).locator("tbody tr")).toHaveCount(1);
  await shot(page, "history");

  await page.getByTestId(`session-row-${parentId}`).getByRole("link").first().click();
  await expect(page.getByRole("heading", { name: "Session" })).toBeVisible();
  await page.getByLabel("From stage").selectOption("voices");
  await page.getByRole("button", { name: "Rerun", exact: true }).click();
  await expect(page).toHaveURL(/\/\?run=/);
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  await expect(page.getByTestId("stage-opening")).toHaveAttribute("data-state", "reused");
  const branchId = new URL(page.url()).searchParams.get("run")!;
  expect(branchId).not.toBe(parentId);

  await page.goto(`/history/${branchId}`);
  const tree = page.getByRole("region", { name: "Family tree" });
  await expect(tree.getByTestId(`tree-node-${parentId}`)).toBeVisible();
  await expect(tree.getByTestId(`tree-node-${branchId}`)).toContainText("rerun from voices");
  await shot(page, "session");

  await page.getByRole("link", { name: "Compare with its parent" }).click();
  await expect(page.getByRole("heading", { name: "Compare sessions" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Stage opening" })).toContainText("same answer");

  // A second branch from the first stage with an edited input: every stage runs again, and the
  // comparison marks what changed. The edited word is the input's last, so that the greedy model goes
  // on differently (with the tag last, it once wrote the same story for both).
  await page.goto(`/history/${parentId}`);
  await page.getByLabel("From stage").selectOption("opening");
  await page.getByLabel("with an edited input").check();
  await page.getByRole("textbox", { name: "Edited input" }).fill(`Story ${tag}. The little cat`);
  await page.getByRole("button", { name: "Rerun", exact: true }).click();
  await expect(page).toHaveURL(/\/\?run=/);
  await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
  const editedId = new URL(page.url()).searchParams.get("run")!;
  await expect(page.getByTestId("stage-opening")).toHaveAttribute("data-state", "done");
  await page.goto(`/history/compare?a=${parentId}&b=${editedId}`);
  const input = page.getByRole("region", { name: "Input difference" });
  await expect(input.locator("del")).toHaveText("dog");
  await expect(input.locator("ins")).toHaveText("cat");
  await expect(page.getByRole("region", { name: "Stage opening" })).toContainText("answers differ");
  await shot(page, "compare");
  await page.goto(`/history/${editedId}`);
  await expect(page.getByRole("region", { name: "Family tree" }).getByTestId(`tree-node-${editedId}`)).toContainText("rerun from opening");
  expect(errors).toEqual([]);
});

test("d. the Models page shows a present model and a missing one as such", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto("/models");
  const present = page.getByTestId("model-storyteller");
  await expect(present).toContainText("present");
  await expect(present).toContainText("llama");
  await expect(present.getByRole("meter", { name: "RAM needed" })).toBeVisible();
  const missing = page.getByTestId("model-absent");
  await expect(missing).toContainText("missing");
  await expect(missing).toContainText("not-downloaded-yet.gguf");
  await shot(page, "models");
  expect(errors).toEqual([]);
});

test("d. a model whose file is loaded with other settings says so, and its Unload frees the file", async ({ page, request }) => {
  const errors = watchConsole(page);
  // Every load of the file goes first (earlier tests ran cramped, whose failing stage loads it with its own context).
  expect((await request.post("/api/trpc/models.unload", { data: { name: "storyteller" } })).status()).toBe(200);
  // The base pipeline loads stories260K.gguf with the default context; cramped names the file with a context of its own.
  const started = await request.post("/api/runs", { data: { pipeline: "base", input: "Once upon a time", cache: false } });
  expect(started.status()).toBe(202);
  expect(await waitForEnd(request, ((await started.json()) as { id: string }).id)).toBeTruthy();
  await page.goto("/models");
  const cramped = page.getByTestId("model-cramped");
  const storyteller = page.getByTestId("model-storyteller");
  await expect(cramped).toContainText("its file is loaded with other settings");
  await expect(cramped.getByText("loaded", { exact: true })).toHaveCount(0);
  await expect(storyteller.getByText("loaded", { exact: true })).toBeVisible();
  await expect(storyteller).not.toContainText("its file is loaded with other settings");
  await shot(page, "models-file-loaded");
  await cramped.getByRole("button", { name: "Unload cramped" }).click();
  await expect(cramped).not.toContainText("loaded", { timeout: 15_000 });
  await expect(storyteller).not.toContainText("loaded");
  expect(errors).toEqual([]);
});

test("d. Unload of a model a run is using says it goes when its calls end, and it goes then", async ({ page, request }) => {
  const errors = watchConsole(page);
  // Eight long stages on the model, computed: it is busy for seconds while the page unloads it.
  const started = await request.post("/api/runs", { data: { pipeline: "marathon", input: "A long time ago", cache: false } });
  expect(started.status()).toBe(202);
  const { id } = (await started.json()) as { id: string };
  // Until a call runs on the model (earlier tests may have left it loaded and idle, which Unload unloads at once).
  const busy = async () => {
    const status = (await (await request.get("/api/trpc/models.status")).json()) as { result: { data: { loaded: { busy: number }[] } } };
    return status.result.data.loaded.some((entry) => entry.busy > 0);
  };
  await expect.poll(busy, { timeout: 60_000 }).toBe(true);
  await page.goto("/models");
  const card = page.getByTestId("model-storyteller");
  await card.getByRole("button", { name: "Unload storyteller" }).click();
  await expect(card).toContainText("loaded · unloads when its calls end");
  await expect(card.getByRole("button", { name: "Unload storyteller" })).toHaveCount(0);
  await shot(page, "models-unloading");
  // Cancelled, its call ends: the model goes, and the page, which looks again meanwhile, says so unasked.
  await request.post("/api/trpc/runs.cancel", { data: { id } });
  await expect(card).not.toContainText("loaded", { timeout: 15_000 });
  await waitForEnd(request, id);
  expect(((await (await request.get(`/api/sessions/${id}`)).json()) as { status: string }).status).toBe("cancelled");
  expect(errors).toEqual([]);
});

test("model text is shown as text, never run as markup", async ({ page, request }) => {
  // The input is echoed by a stage with output_mode input_plus_answer; the page must show it literally.
  const input = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
  const started = await request.post("/api/runs", { data: { pipeline: "base", input } });
  expect(started.status()).toBe(202);
  const { id } = (await started.json()) as { id: string };
  await page.goto(`/history/${id}`);
  await expect(page.getByRole("region", { name: "Input" })).toContainText(input);
  await expect(page.getByTestId("final-answer")).toBeVisible({ timeout: 60_000 });
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await shot(page, "session-markup-as-text");
});
