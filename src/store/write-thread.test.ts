import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { writeFolderFile } from "./write-thread.js";

const unused = () => Promise.reject(new Error("the write thread was expected to make this write"));

describe("the session store's write thread", () => {
  it("writes a file durably, making its folder, and says the folder's times before and after", async () => {
    const { dir, cleanup } = await tempDir("project-llm-write-thread-");
    try {
      const folder = path.join(dir, "sessions");
      const first = await writeFolderFile({ directory: folder, file: path.join(folder, "a.json"), content: "one" }, unused);
      // The folder was not there: no time before, none accounted after.
      expect(first).toEqual({ before: undefined, after: undefined });
      expect(await readFile(path.join(folder, "a.json"), "utf8")).toBe("one");
      const before = (await stat(folder)).mtimeMs;
      const second = await writeFolderFile({ directory: folder, file: path.join(folder, "a.json"), content: "two" }, unused);
      expect(second.before).toBe(before);
      expect(second.after).toBe((await stat(folder)).mtimeMs);
      expect(await readFile(path.join(folder, "a.json"), "utf8")).toBe("two");
      // Without its fsyncs (a running session's first record), the file is still replaced whole.
      await writeFolderFile({ directory: folder, file: path.join(folder, "a.json"), content: "three", sync: false }, unused);
      expect(await readFile(path.join(folder, "a.json"), "utf8")).toBe("three");
      // No temp file is left behind, and the file is the owner's alone.
      expect(await readdir(folder)).toEqual(["a.json"]);
      expect((await stat(path.join(folder, "a.json"))).mode & 0o777).toBe(0o600);
      await writeFolderFile({ directory: folder, file: path.join(folder, "log"), content: "x\n", append: true }, unused);
      await writeFolderFile({ directory: folder, file: path.join(folder, "log"), content: "y\n", append: true }, unused);
      expect(await readFile(path.join(folder, "log"), "utf8")).toBe("x\ny\n");
    } finally {
      await cleanup();
    }
  });

  it("fails with the file system's own error, its code and path, and leaves no temp file", async () => {
    const { dir, cleanup } = await tempDir("project-llm-write-thread-");
    try {
      // The target is a folder: the rename over it fails.
      await mkdir(path.join(dir, "taken.json"));
      const error = await writeFolderFile({ directory: dir, file: path.join(dir, "taken.json"), content: "x" }, unused).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ code: "EISDIR", syscall: "rename" });
      expect((await readdir(dir)).sort()).toEqual(["taken.json"]);
      // A folder that cannot be made: a file stands where it would be.
      await writeFile(path.join(dir, "file"), "");
      const missing = await writeFolderFile({ directory: path.join(dir, "file", "sessions"), file: path.join(dir, "file", "sessions", "a.json"), content: "x" }, unused).catch((caught: unknown) => caught);
      expect(missing).toMatchObject({ code: "ENOTDIR" });
    } finally {
      await cleanup();
    }
  });
});
