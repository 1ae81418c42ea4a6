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
/** The story model's facts as node-llama-cpp reads them, before the patch. */
let unpatched: string;

/** A file's facts as plain text (its sizes are bigints); `fileOffset`, where the file's data starts, left out. */
const facts = async (file: string) => {
  const info = await readGgufFileInfo(file, { logWarnings: false });
  const tensorInfo = info.tensorInfo?.map(({ fileOffset: _fileOffset, ...tensor }) => tensor);
  const { metadata, architectureMetadata, version, tensorCount, metadataSize, tensorInfoSize } = info;
  return JSON.stringify({ metadata, architectureMetadata, version, tensorCount, metadataSize, tensorInfoSize, tensorInfo }, (_key, value: unknown) => (typeof value === "bigint" ? `${value}n` : value));
};

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  // Read before the tests below patch the reader (no other test file does).
  expect(firstGrowthsKept()).toBe(0);
  unpatched = await facts(story);
});
afterAll(() => cleanup());

describe("the GGUF reader's first growth", () => {
  it("is kept without a copy by readGgufFileInfo's own reader, and the file reads the same", async () => {
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
    // The tensors' facts come after the template, through the copied second growth.
    expect(JSON.parse(await facts(file)).tensorInfo).toEqual(JSON.parse(unpatched).tensorInfo);
  });
});
