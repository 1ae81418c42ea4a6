import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import { tempDir } from "../testing/fixtures.js";
import { loadModelsConfig } from "./load.js";
import { addModelEntry, modelsUsingFile } from "./models-source.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("project-llm-models-source-"));
});
afterEach(async () => cleanup());

const commented = `# Models of this machine.
models_directory: models # next to config/

defaults:
  temperature: 0 # greedy

models:
  # the small one
  storyteller:
    file: stories260K.gguf # 1.1 MiB
    required_for_base: true

# kept at the end
`;

const read = () => readFile(path.join(dir, "models.yaml"), "utf8");
async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  return ProjectLlmError.isInstance(error) ? error.code : String(error);
}

describe("addModelEntry", () => {
  it("adds a model at the end of models:, keeping every comment, key and style", async () => {
    await writeFile(path.join(dir, "models.yaml"), commented);
    await addModelEntry(dir, { name: "tiny", file: "tiny-F32.gguf", quantization: "F32", comment: "from hf:karpathy/tinyllamas-GGUF:F32" });
    const text = await read();
    expect(text).toBe(`${commented.replace("\n# kept at the end\n", "")}  # from hf:karpathy/tinyllamas-GGUF:F32
  tiny:
    file: tiny-F32.gguf
    quantization: F32

# kept at the end
`);
    const loaded = await loadModelsConfig(dir);
    expect(loaded.config.models.tiny).toMatchObject({ file: "tiny-F32.gguf", quantization: "F32" });
    expect(modelsUsingFile(loaded.config, "tiny-F32.gguf")).toEqual(["tiny"]);
  });

  it("creates models: in a file that has none, or an empty one", async () => {
    await writeFile(path.join(dir, "models.yaml"), "models_directory: models\nmodels: {} # none yet\n");
    await addModelEntry(dir, { name: "one", file: "one.gguf" });
    expect(await read()).toBe("models_directory: models\nmodels: # none yet\n  one:\n    file: one.gguf\n");
    await writeFile(path.join(dir, "models.yaml"), "# nothing yet\n");
    await addModelEntry(dir, { name: "one", file: "one.gguf" });
    expect(await read()).toBe("# nothing yet\n\nmodels:\n  one:\n    file: one.gguf\n");
  });

  it("refuses a taken name, a bad name, a file outside the models folder and a file that does not load, writing nothing", async () => {
    await writeFile(path.join(dir, "models.yaml"), commented);
    expect(await codeOf(addModelEntry(dir, { name: "storyteller", file: "x.gguf" }))).toBe("conflict");
    expect(await codeOf(addModelEntry(dir, { name: "no spaces", file: "x.gguf" }))).toBe("usage");
    expect(await codeOf(addModelEntry(dir, { name: "x", file: "../x.gguf" }))).toBe("model-outside-directory");
    expect(await codeOf(addModelEntry(dir, { name: "x", file: "/etc/x.gguf" }))).toBe("model-outside-directory");
    expect(await read()).toBe(commented);
    const broken = "models:\n  a:\n    fiel: a.gguf\n";
    await writeFile(path.join(dir, "models.yaml"), broken);
    expect(await codeOf(addModelEntry(dir, { name: "x", file: "x.gguf" }))).toBe("config-schema");
    expect(await read()).toBe(broken);
  });

  it("adds two models at once without losing either", async () => {
    await writeFile(path.join(dir, "models.yaml"), commented);
    await Promise.all([addModelEntry(dir, { name: "a", file: "a.gguf" }), addModelEntry(dir, { name: "b", file: "b.gguf" })]);
    expect(Object.keys((await loadModelsConfig(dir)).config.models)).toEqual(["storyteller", "a", "b"]);
  });
});
