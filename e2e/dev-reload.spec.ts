/**
 * Development mode: `next dev` on a copy of the app's sources (so that the test can edit them), a run,
 * then edits to server modules that hot reload evaluates again: the next run is served by the same studio
 * (the first run is still in its memory) and the same single inference worker. SIGTERM stops both.
 */
import { expect, test } from "@playwright/test";
import { cp, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { spawnStudio, work, workerPids } from "./studio-process";

const root = path.resolve(".");
const app = path.join(work, "dev-app");

/** The inference workers forked by the development server of the copy. */
const workers = () => workerPids(`${app}/dist/runtime/worker.js`);

async function edit(file: string, change: (text: string) => string): Promise<void> {
  const full = path.join(app, file);
  await writeFile(full, change(await readFile(full, "utf8")));
}

test("hot reload keeps one studio and one inference worker", async ({ request }) => {
  test.setTimeout(300_000);
  await rm(app, { recursive: true, force: true });
  await mkdir(app, { recursive: true });
  for (const entry of ["src", "public", "package.json", "next.config.mjs", "tsconfig.json", "postcss.config.mjs", "tailwind.config.ts"]) {
    await cp(path.join(root, entry), path.join(app, entry), { recursive: true });
  }
  // The packages and the compiled worker are the checkout's own.
  await symlink(path.join(root, "node_modules"), path.join(app, "node_modules"));
  await symlink(path.join(root, "dist"), path.join(app, "dist"));

  const { server, base, output, exited } = spawnStudio({
    args: [path.join(root, "node_modules", "next", "dist", "bin", "next"), "dev", "--webpack", "--hostname", "127.0.0.1", "--port", String(Number(process.env.E2E_PORT ?? 3123) + 2)],
    cwd: app,
    portOffset: 2,
    sessions: "sessions-dev",
    env: { NEXT_MANUAL_SIG_HANDLE: "1" },
  });

  try {
    await expect.poll(async () => (await request.get(`${base}/api/health`, { timeout: 120_000 }).catch(() => undefined))?.status(), { timeout: 180_000 }).toBe(200);

    const run = async (input: string) => {
      const started = await request.post(`${base}/api/runs`, { data: { pipeline: "base", input }, timeout: 120_000 });
      expect(started.status(), output()).toBe(202);
      const { id } = (await started.json()) as { id: string };
      const stream = await (await request.get(`${base}/api/runs/${id}/events`, { timeout: 120_000 })).text();
      expect(stream).toContain("event: run-end");
      const session = (await (await request.get(`${base}/api/sessions/${id}`)).json()) as { status: string };
      expect(session.status).toBe("completed");
      return id;
    };
    const first = await run("Once upon a time");
    expect(workers()).toHaveLength(1);
    const worker = workers()[0];

    // Edits to the server's modules and to a route: hot reload evaluates them again.
    await edit("src/server/instance.ts", (text) => `${text}\n// edited by the hot-reload test\n`);
    await edit("src/server/run-manager.ts", (text) => `${text}\n// edited by the hot-reload test\n`);
    await edit("src/app/api/health/route.ts", (text) => text.replace('{ status: "ok" }', '{ status: "ok", reloaded: true }'));
    await expect.poll(async () => (await (await request.get(`${base}/api/health`, { timeout: 120_000 })).json()) as unknown, { timeout: 120_000 }).toEqual({ status: "ok", reloaded: true });

    const second = await run("The little dog");
    // The same studio: the run from before the reload is still in its memory, beside the new one.
    const listed = (await (await request.get(`${base}/api/trpc/runs.list`)).json()) as { result: { data: Array<{ id: string }> } };
    expect(listed.result.data.map((entry) => entry.id)).toEqual(expect.arrayContaining([first, second]));
    // The same single worker.
    expect(workers()).toEqual([worker]);
  } finally {
    server.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("timeout"), 15_000))]);
    if (code === "timeout") server.kill("SIGKILL");
    await rm(app, { recursive: true, force: true });
    await expect.poll(workers, { timeout: 10_000 }).toEqual([]);
  }
});
