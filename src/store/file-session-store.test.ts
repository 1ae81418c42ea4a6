import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { FileSessionStore } from "./file-session-store.js";
import { makeSession, sessionStoreConformance } from "./session-store.conformance.js";
import { summarize } from "./session.js";

sessionStoreConformance("FileSessionStore", async () => {
  const { dir, cleanup } = await tempDir();
  return { store: new FileSessionStore(dir), cleanup };
});

describe("FileSessionStore on disk", () => {
  it("writes one whole JSON file per session and leaves no temp file", async () => {
    const { dir, cleanup } = await tempDir();
    const store = new FileSessionStore(dir);
    const session = makeSession();
    await store.save(session);
    expect(JSON.parse(await readFile(path.join(dir, `${session.id}.json`), "utf8"))).toEqual(session);
    expect((await readdir(dir)).sort()).toEqual([`${session.id}.json`, "index.json"].sort());
    await cleanup();
  });

  it("rebuilds a missing or damaged index from the session files, ignoring torn temp files", async () => {
    const { dir, cleanup } = await tempDir();
    const sessions = [makeSession(), makeSession({ status: "failed" }), makeSession()];
    const first = new FileSessionStore(dir);
    for (const session of sessions) await first.save(session);
    const listing = await first.list();
    await writeFile(path.join(dir, "index.json"), "{ torn");
    await writeFile(path.join(dir, `${sessions[0]!.id}.json.123.456.tmp`), "{ half a ses");
    const second = new FileSessionStore(dir);
    expect(await second.list()).toEqual(listing);
    expect((await readdir(dir)).some((name) => name.endsWith(".tmp"))).toBe(false);
    await writeFile(path.join(dir, "index.json"), JSON.stringify({ version: 1, sessions: [] }));
    expect((await new FileSessionStore(dir).list()).total).toBe(3);
    await cleanup();
  });

  it("refuses an id that would leave its folder before touching the disk", async () => {
    const { dir, cleanup } = await tempDir();
    const store = new FileSessionStore(dir);
    await expect(store.save({ ...makeSession(), id: "../escape" })).rejects.toMatchObject({ code: "invalid-id" });
    await expect(store.delete("../../etc/passwd")).rejects.toMatchObject({ code: "invalid-id" });
    expect(await readdir(path.dirname(dir))).not.toContain("escape.json");
    await cleanup();
  });

  it("lists a filtered page of 10,000 sessions quickly from the index", async () => {
    const { dir, cleanup } = await tempDir();
    const summaries = Array.from({ length: 10_000 }, (_, index) => summarize(makeSession({ status: index % 10 === 0 ? "failed" : "completed", input: `story number ${index}` })));
    // The index alone (session files are not opened to list); its size must match for it to be trusted,
    // so the files are written as empty placeholders.
    await writeFile(path.join(dir, "index.json"), JSON.stringify({ version: 1, sessions: summaries }));
    await Promise.all(summaries.map((summary) => writeFile(path.join(dir, `${summary.id}.json`), "{}")));
    const store = new FileSessionStore(dir);
    await store.list({ limit: 1 });
    const started = performance.now();
    const page = await store.list({ status: "failed", query: "story", limit: 50, offset: 100 });
    const elapsed = performance.now() - started;
    expect(page.total).toBe(1000);
    expect(page.items).toHaveLength(50);
    console.log(`list of 10,000 sessions, filtered page: ${elapsed.toFixed(1)} ms`);
    expect(elapsed).toBeLessThan(500);
    await cleanup();
  });
});
