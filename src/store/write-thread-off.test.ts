import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { writeFolderFile, writeInCallingThread } from "./write-thread.js";

// A file of its own: `writeInCallingThread` holds for the whole process (each test file runs in its own).
describe("writes in the calling thread (the command line's)", () => {
  it("makes every write through the fallback and starts no thread", async () => {
    const { dir, cleanup } = await tempDir("project-llm-write-thread-");
    try {
      const threads = () => (process.platform === "linux" ? readdirSync("/proc/self/task").length : 0);
      const before = threads();
      writeInCallingThread();
      const made: string[] = [];
      for (const name of ["a.json", "b.json"]) {
        const result = await writeFolderFile({ directory: dir, file: path.join(dir, name), content: "x" }, async () => {
          made.push(name);
          return { before: 1, after: 2 };
        });
        expect(result).toEqual({ before: 1, after: 2 });
      }
      expect(made).toEqual(["a.json", "b.json"]);
      expect(threads()).toBeLessThanOrEqual(before);
    } finally {
      await cleanup();
    }
  });
});
