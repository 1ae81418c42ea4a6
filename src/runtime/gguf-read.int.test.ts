/** node-llama-cpp's GGUF reader with its first growth kept without a copy (see gguf-read.ts): the same facts. */
import path from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeGgufWithChatTemplate } from "../testing/gguf-with-chat-template.js";
import { storiesFile, tempDir, testModelsDir } from "../testing/fixtures.js";
import { firstGrowthsKept, lightenFirstGgufRead } from "./gguf-read.js";

const story = path.join(testModelsDir, storiesFile);
let cleanup: () => Promise<void>;
let dir: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(() => cleanup());

/** A file's facts as plain text (its sizes are bigints). */
const facts = async (file: string) => {
  const info = await readGgufFileInfo(file, { logWarnings: false });
  return JSON.stringify({ metadata: info.metadata, tensorInfo: info.tensorInfo, version: info.version, tensorCount: info.tensorCount }, (_key, value: unknown) => (typeof value === "bigint" ? `${value}n` : value));
};

describe("the GGUF reader's first growth", () => {
  it("is kept without a copy by readGgufFileInfo's own reader, and the file reads the same", async () => {
    const unpatched = await facts(story);
    expect(await lightenFirstGgufRead()).toBe(true);
    const before = firstGrowthsKept();
    const patched = await facts(story);
    // The class readGgufFileInfo's reader comes from is the one patched: its first growth went through it.
    expect(firstGrowthsKept()).toBe(before + 1);
    expect(patched).toBe(unpatched);
    expect(JSON.parse(patched).tensorInfo.length).toBeGreaterThan(0);
  });

  it("reads a header past the first 4 MiB, which grows the buffer again by a copy", async () => {
    await lightenFirstGgufRead();
    // A 5 MiB template: the reader's first read (what it needs and 4 MiB more) ends inside it.
    const template = "{{ messages }}".repeat(Math.ceil((5 * 1024 * 1024) / 14));
    const file = path.join(dir, "long-template.gguf");
    await writeGgufWithChatTemplate(story, file, template);
    const before = firstGrowthsKept();
    const info = await readGgufFileInfo(file, { logWarnings: false });
    expect(firstGrowthsKept()).toBe(before + 1);
    expect(info.metadata.tokenizer?.chat_template).toBe(template);
    expect(info.tensorInfo?.map((tensor) => tensor.name)).toEqual(JSON.parse(await facts(story)).tensorInfo.map((tensor: { name: string }) => tensor.name));
  });
});
