/**
 * The run queue on the Run page: a run that waits behind others says how many are ahead of it, the figure
 * moves as the queue does, and the run shows as running once it has its place (the suite's studio runs
 * one run at a time: `runs_in_flight: 1`, see prepare.mjs). On a phone, in English and in Russian.
 */
import { expect, test, type APIRequestContext } from "@playwright/test";
import { shot, watchConsole } from "./page-checks";

async function start(request: APIRequestContext, pipeline: string, input: string): Promise<string> {
  const response = await request.post("/api/runs", { data: { pipeline, input } });
  expect(response.status()).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

const cancel = (request: APIRequestContext, id: string) => request.post("/api/trpc/runs.cancel", { data: { id } });

const words = {
  "en-US": { queued: "queued", one: "waiting: 1 ahead", next: "waiting: next in line", running: /running|completed/ },
  "ru-RU": { queued: "в очереди", one: "в очереди: впереди 1 запуск", next: "в очереди: следующий", running: /идёт|завершён/ },
} as const;

for (const locale of ["en-US", "ru-RU"] as const) {
  test(`a queued run shows its place as it moves, then runs (${locale}, phone)`, async ({ browser, request }) => {
    const context = await browser.newContext({ locale, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const errors = watchConsole(page);
    const said = words[locale];
    // A long run holds the one place; two more wait behind it.
    const first = await start(request, "marathon", "A long time ago");
    const second = await start(request, "base", "Once upon a time");
    const third = await start(request, "base", "A cat sat");
    await page.goto(`/?run=${third}`);
    await expect(page.getByTestId("run-status")).toHaveText(said.queued);
    await expect(page.getByTestId("run-queue")).toHaveText(said.one);
    // The others in progress say which waits; a run that waits has no session to link to yet.
    await expect(page.getByRole("region").filter({ has: page.locator(`a[href*="run=${second}"]`) })).toContainText(said.next);
    await expect(page.locator(`a[href="/history/${third}"]`)).toHaveCount(0);
    // A waiting run can be cancelled from its page.
    await expect(page.getByRole("button", { name: locale === "en-US" ? "Cancel" : "Отменить" })).toBeVisible();
    await shot(page, `queue-waiting-phone-${locale.slice(0, 2)}`, { fullPage: false });

    await cancel(request, second);
    await expect(page.getByTestId("run-queue")).toHaveText(said.next);
    await cancel(request, first);
    await expect(page.getByTestId("run-status")).toHaveText(said.running);
    await expect(page.getByTestId("run-queue")).toHaveCount(0);
    await expect(page.locator(`a[href="/history/${third}"]`)).toHaveCount(1);
    await expect(page.getByTestId("final-answer")).not.toBeEmpty({ timeout: 60_000 });
    await shot(page, `queue-ran-phone-${locale.slice(0, 2)}`, { fullPage: false });
    expect(errors).toEqual([]);
    await context.close();
  });
}
