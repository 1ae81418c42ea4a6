/** node-llama-cpp's exports from their own modules (see llama-imports.ts): the index's values, fewer modules. */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import * as index from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { llamaImports, namesFromIndex } from "./llama-imports.js";

/** Every name the inference worker and the configuration check take from node-llama-cpp. */
const used = ["getLlama", "getModuleVersion", "GgufInsights", "GgufFileType", "GgmlType", "LlamaChat", "LlamaCompletion", "LlamaLogLevel", "readGgufFileInfo", "resolveChatWrapper", "TokenBias", "InsufficientMemoryError"] as const;

let cleanup: () => Promise<void>;
let dir: string;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

/**
 * The module URLs a fresh Node process loads for `names` (by llama-imports.js, built in dist/), or for
 * node-llama-cpp's index when `names` is "index": a module hook reports each module it loads.
 */
async function modulesLoaded(names: readonly string[] | "index"): Promise<string[]> {
  const hook = path.join(dir, "hook.mjs");
  await writeFile(hook, "let port;\nexport function initialize(data) { port = data.port; }\nexport async function load(url, context, next) { port.postMessage(url); return next(url, context); }\n");
  const imports = pathToFileURL(path.resolve("dist/runtime/llama-imports.js")).href;
  const script = path.join(dir, `list-${names === "index" ? "index" : names.length}.mjs`);
  await writeFile(
    script,
    [
      'import { register } from "node:module";',
      'import { MessageChannel } from "node:worker_threads";',
      "const urls = [];",
      "const { port1, port2 } = new MessageChannel();",
      "port1.on('message', (url) => urls.push(url));",
      `register(${JSON.stringify(pathToFileURL(hook).href)}, { data: { port: port2 }, transferList: [port2] });`,
      names === "index"
        ? `await import(${JSON.stringify(pathToFileURL(path.resolve("node_modules/node-llama-cpp/dist/index.js")).href)});`
        : `const { llamaImports, namesFromIndex } = await import(${JSON.stringify(imports)}); const got = await llamaImports(...${JSON.stringify(names)}); if (Object.values(got).some((value) => value === undefined) || namesFromIndex() !== 0) throw new Error("not all from their modules");`,
      // The hook's last messages come through before the list is printed.
      "await new Promise((resolve) => setTimeout(resolve, 100));",
      "port1.close();",
      "console.log(JSON.stringify(urls.filter((url) => url.includes('/node_modules/'))));",
    ].join("\n"),
  );
  const { stdout } = await promisify(execFile)(process.execPath, [script], { cwd: process.cwd() });
  return JSON.parse(stdout) as string[];
}

describe("node-llama-cpp's exports taken from their own modules", () => {
  it("are the very values of the package's index: the same classes, functions and enums", async () => {
    const before = namesFromIndex();
    const got = (await llamaImports(...used)) as Record<string, unknown>;
    for (const name of used) {
      expect(got[name], name).toBeDefined();
      expect(got[name], name).toBe((index as Record<string, unknown>)[name]);
    }
    // None had to be taken from the index: each was found in the module the index imports it from.
    expect(namesFromIndex()).toBe(before);
    // A class taken so is the one the package's own objects are made of.
    const { InsufficientMemoryError } = await llamaImports("InsufficientMemoryError");
    expect(new index.InsufficientMemoryError("full") instanceof InsufficientMemoryError).toBe(true);
  });

  it("load fewer modules than the index: no model downloader for the worker, the metadata reader alone for a quantization check", async () => {
    const [whole, worker, reader] = await Promise.all([modulesLoaded("index"), modulesLoaded(used), modulesLoaded(["GgmlType", "GgufFileType", "readGgufFileInfo"])]);
    // The index loads the model downloader (ipull); what the worker uses does not.
    expect(whole.some((url) => url.includes("/node_modules/ipull/"))).toBe(true);
    expect(worker.some((url) => url.includes("/node_modules/ipull/"))).toBe(false);
    expect(worker.length).toBeLessThan(whole.length * 0.85);
    expect(reader.length).toBeLessThan(whole.length * 0.3);
    expect(reader.some((url) => url.includes("/LlamaChat/"))).toBe(false);
  });
});
