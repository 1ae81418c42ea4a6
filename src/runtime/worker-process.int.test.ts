/** The inference worker forked before its settings are known (see worker-process.ts), on the real model. */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processAlive, storiesFile, tempDir, testModelsDir } from "../testing/fixtures.js";
import { createRuntime } from "./index.js";
import { prestartWorker } from "./worker-process.js";

const workerPath = path.resolve("dist/runtime/worker.js");
let cleanup: () => Promise<void>;
let dir: string;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

describe("a worker forked early", () => {
  it("is the one the next runtime takes: it gets the settings then, and runs the calls", async () => {
    const pid = prestartWorker(workerPath);
    expect(pid).toBeGreaterThan(0);
    // Forked once: a second call keeps the first.
    expect(prestartWorker(workerPath)).toBe(pid);
    const runtime = createRuntime({ workerPath, gpu: false, parallel: 3 });
    try {
      const result = await runtime.generate({
        model: { name: "stories", path: path.join(testModelsDir, storiesFile), load: { context_size: 256, gpu_layers: 0, threads: "auto" } },
        prompt: "Once upon a time",
        params: { temperature: 0, max_tokens: 8 },
      });
      expect(result.text.length).toBeGreaterThan(0);
      expect(runtime.stats()).toMatchObject({ workerPid: pid, workerStarts: 1 });
      // The worker runs with the settings it was sent, not its defaults (\`auto\`: 1 on a CPU).
      expect((await runtime.status()).parallel).toBe(3);
    } finally {
      await runtime.dispose();
    }
    // Taken once: the next runtime forks its own.
    const next = createRuntime({ workerPath, gpu: false });
    try {
      await next.status();
      expect(next.stats().workerPid).not.toBe(pid);
    } finally {
      await next.dispose();
    }
  });

  it("nobody takes neither keeps its parent running nor outlives it", async () => {
    const parent = path.join(dir, "parent.mjs");
    await writeFile(parent, `import { prestartWorker } from ${JSON.stringify(pathToFileURL(path.resolve("dist/runtime/worker-process.js")).href)};\nconsole.log(prestartWorker(${JSON.stringify(workerPath)}));\n`);
    const started = performance.now();
    const { stdout } = await promisify(execFile)(process.execPath, [parent], { timeout: 20_000 });
    // The parent ended on its own, well before the worker would have started node-llama-cpp.
    expect(performance.now() - started).toBeLessThan(5_000);
    const pid = Number(stdout.trim());
    expect(pid).toBeGreaterThan(0);
    await expect.poll(() => processAlive(pid), { timeout: 10_000 }).toBe(false);
  });
});
