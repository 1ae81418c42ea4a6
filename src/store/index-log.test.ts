import { appendFile, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { Low } from "lowdb";
import { describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { IndexLog, type IndexFolder } from "./index-log.js";
import { makeSession } from "./session-store.conformance.js";
import { summarize } from "./session.js";
import { SessionIndex } from "./session-store.js";

/** The folder as a store without other writers sees it: a plain queue, and no account of its own writes. */
function folder(directory: string): IndexFolder {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    directory,
    serial: (work) => {
      const next = queue.then(work, work);
      queue = next.catch(() => undefined);
      return next;
    },
    ownWrite: (write) => write(),
    ownAppend: (file, text) => appendFile(file, text),
    names: () => readdir(directory),
    rebuilding: () => false,
    compactAfterLines: () => 1000,
  };
}

describe("IndexLog, the index's lowdb adapter", () => {
  it("reads index.json with its log applied, and writes only the changes recorded since the last write, never the whole index", async () => {
    const { dir, cleanup } = await tempDir("project-llm-index-log-");
    try {
      const summaries = Array.from({ length: 200 }, () => summarize(makeSession()));
      await writeFile(path.join(dir, "index.json"), JSON.stringify({ version: 1, sessions: summaries }));
      const removed = summaries[0]!;
      await writeFile(path.join(dir, "index.log"), `${JSON.stringify({ delete: removed.id })}\n`);
      const adapter = new IndexLog(folder(dir));
      const db = new Low(adapter, new SessionIndex());
      await db.read();
      expect(db.data.size).toBe(199);
      expect(db.data.has(removed.id)).toBe(false);

      const before = await stat(path.join(dir, "index.json"));
      const changed = { ...summaries[1]!, status: "failed" as const };
      db.data.set(changed);
      adapter.record(changed.id, changed);
      await db.write();
      // Nothing recorded since: nothing appended, whatever `db.data` holds.
      await db.write();

      const lines = (await readFile(path.join(dir, "index.log"), "utf8")).split("\n").filter(Boolean);
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([{ delete: removed.id }, { set: changed }]);
      expect((await stat(path.join(dir, "index.json"))).mtimeMs).toBe(before.mtimeMs);

      const reopened = new Low(new IndexLog(folder(dir)), new SessionIndex());
      await reopened.read();
      expect(reopened.data.values().sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(db.data.values().sort((a, b) => (a.id < b.id ? -1 : 1)));
      expect(reopened.data.get(changed.id)?.status).toBe("failed");
    } finally {
      await cleanup();
    }
  });
});
