/**
 * The CLI and the studio on one sessions folder: a studio that starts while a CLI run goes leaves that run
 * to its process, and History follows it to its end. The real CLI, a studio server of its own, the real model.
 */
import { expect, test } from "@playwright/test";
import { spawn } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { shot, watchConsole } from "./page-checks";
import { spawnStudio, work } from "./studio-process";

test("a CLI run that goes on while the studio starts stays running in History, and History shows how it ended", async ({ page, request }) => {
  test.setTimeout(180_000);
  const sessions = "sessions-cli-and-studio";
  const folder = path.join(work, sessions);
  await rm(folder, { recursive: true, force: true });
  const cli = spawn(process.execPath, ["dist/cli/main.js", "run", "--pipeline", "long", "--input", "Once upon a time"], {
    env: {
      ...process.env,
      NO_COLOR: "1",
      PROJECT_LLM_CONFIG_DIR: path.join(work, "config"),
      PROJECT_LLM_SESSIONS_DIR: folder,
      PROJECT_LLM_MODELS_DIR: path.resolve(process.env.PROJECT_LLM_TEST_MODELS || "models"),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let cliOutput = "";
  cli.stdout.on("data", (chunk: Buffer) => (cliOutput += chunk.toString()));
  cli.stderr.on("data", (chunk: Buffer) => (cliOutput += chunk.toString()));
  const cliExited = new Promise<number | null>((resolve) => cli.on("exit", (code) => resolve(code)));
  let studio: ReturnType<typeof spawnStudio> | undefined;
  try {
    // The run's session is on disk, running, from its start.
    let id = "";
    await expect
      .poll(async () => (id = (await readdir(folder).catch(() => [] as string[])).find((name) => /^\d{8}-\d{6}-[0-9a-f]{6}\.json$/.test(name))?.slice(0, -5) ?? ""), { timeout: 60_000 })
      .not.toBe("");
    // The CLI is held still while the studio starts, so that its run cannot end before the studio looked at it.
    process.kill(cli.pid!, "SIGSTOP");

    studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 1, sessions });
    const base = studio.base;
    await expect.poll(async () => (await request.get(`${base}/api/health`).catch(() => undefined))?.status(), { timeout: 120_000 }).toBe(200);
    // The studio's first answer comes once it has looked for sessions left running.
    expect((await (await request.get(`${base}/api/sessions/${id}`)).json()).status).toBe("running");
    const errors = watchConsole(page);
    await page.goto(`${base}/history`);
    const row = page.getByTestId(`session-row-${id}`);
    await expect(row).toContainText("running");
    await shot(page, "history-cli-run-going");

    process.kill(cli.pid!, "SIGCONT");
    expect(await cliExited, cliOutput).toBe(0);
    expect(JSON.parse(await readFile(path.join(folder, `${id}.json`), "utf8"))).toMatchObject({ id, status: "completed" });
    await page.reload();
    await expect(row).toContainText("completed");
    expect(studio.output()).not.toContain("interrupted");
    expect(errors).toEqual([]);
  } finally {
    if (cli.exitCode === null) {
      cli.kill("SIGCONT");
      cli.kill("SIGKILL");
    }
    studio?.server.kill("SIGTERM");
    await studio?.exited;
  }
});
