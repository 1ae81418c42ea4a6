import { readFile, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { fileMemo } from "./file-memo.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir("project-llm-file-memo-")));
afterEach(() => cleanup());

describe("fileMemo", () => {
  it("reads a file once while it stays the same, and again when it is rewritten in place with its size and modification time kept", async () => {
    const file = path.join(dir, "model.gguf");
    await writeFile(file, "GGUF weights A");
    let reads = 0;
    const read = fileMemo(async (name) => (reads++, readFile(name, "utf8")));
    expect(await read(file)).toBe("GGUF weights A");
    expect(await read(file)).toBe("GGUF weights A");
    expect(reads).toBe(1);

    // What `cp -p` over the file does: same inode, same size, the old modification time put back (a
    // whole second, which utimes sets exactly).
    const kept = new Date(1_700_000_000_000);
    await utimes(file, kept, kept);
    expect(await read(file)).toBe("GGUF weights A");
    const reads0 = reads;
    const before = await stat(file);
    // File times tick with the kernel's coarse clock (a few ms): the rewrite must fall in a later tick.
    await sleep(20);
    await writeFile(file, "GGUF weights B");
    await utimes(file, kept, kept);
    const after = await stat(file);
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
    expect(await read(file)).toBe("GGUF weights B");
    expect(reads).toBe(reads0 + 1);
  });
});
