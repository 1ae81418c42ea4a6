import { createHash } from "node:crypto";
import { utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../testing/fixtures.js";
import { makeFullSession, makeStageRecord } from "./session-store.conformance.js";
import { assertRunId, isValidRunId, modelHeaderBytes, modelIdentity, newRunId, sessionSchema, sessionToText, summarize } from "./session.js";

describe("run ids", () => {
  it("stamps the UTC time to the second, then 6 hex digits", () => {
    expect(newRunId(new Date(Date.UTC(2026, 10, 24, 12, 1, 2)))).toMatch(/^20261124-120102-[0-9a-f]{6}$/);
  });

  it("sort by time as strings", () => {
    const earlier = newRunId(new Date(Date.UTC(2026, 0, 1, 23, 59, 59)));
    const later = newRunId(new Date(Date.UTC(2026, 0, 2, 0, 0, 0)));
    expect(earlier < later).toBe(true);
  });

  it("never repeat within one process, even 100,000 made in the same second", () => {
    // Random suffixes alone would repeat here almost surely (about 300 pairs are expected).
    const second = new Date();
    const ids = Array.from({ length: 100_000 }, () => newRunId(second));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every(isValidRunId)).toBe(true);
  });

  it("refuses anything else with invalid-id", () => {
    for (const bad of ["../x", "a/b", "", "20261124-120102-3fa9c", "20261124-120102-3fa9c1.json", " 20261124-120102-3fa9c1", "20261124-120102-3FA9C1", undefined, 42]) {
      expect(isValidRunId(bad)).toBe(false);
      expect(() => assertRunId(bad)).toThrow(expect.objectContaining({ code: "invalid-id" }));
    }
    expect(assertRunId("20261124-120102-3fa9c1")).toBe("20261124-120102-3fa9c1");
  });
});

describe("modelIdentity", () => {
  it("hashes the first min(size, 1 MiB) bytes and records size and mtime", async () => {
    const { dir, cleanup } = await tempDir("project-llm-store-");
    try {
      const small = path.join(dir, "small.gguf");
      await writeFile(small, "GGUF tiny");
      await utimes(small, 1_700_000_000, 1_700_000_000);
      expect(await modelIdentity(small)).toEqual({
        path: small,
        size: 9,
        mtimeMs: 1_700_000_000_000,
        headerSha256: createHash("sha256").update("GGUF tiny").digest("hex"),
      });

      const big = Buffer.alloc(modelHeaderBytes + 4096, 7);
      big.write("GGUF", 0);
      const file = path.join(dir, "big.gguf");
      await writeFile(file, big);
      const identity = await modelIdentity(file);
      expect(identity.size).toBe(modelHeaderBytes + 4096);
      expect(identity.headerSha256).toBe(createHash("sha256").update(big.subarray(0, modelHeaderBytes)).digest("hex"));
      // A change past the header does not change the hash; a change inside it does.
      big[modelHeaderBytes + 10] = 1;
      await writeFile(file, big);
      expect((await modelIdentity(file)).headerSha256).toBe(identity.headerSha256);
      big[100] = 1;
      await writeFile(file, big);
      expect((await modelIdentity(file)).headerSha256).not.toBe(identity.headerSha256);
    } finally {
      await cleanup();
    }
  });

  it("rejects a missing file", async () => {
    await expect(modelIdentity("/nonexistent/model.gguf")).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("session records", () => {
  it("parse a whole session, and reject an unknown status or a bad id", () => {
    const session = makeFullSession();
    expect(sessionSchema.parse(session)).toEqual(session);
    expect(sessionSchema.safeParse({ ...session, status: "done" }).success).toBe(false);
    expect(sessionSchema.safeParse({ ...session, id: "../x" }).success).toBe(false);
  });

  it("summarize without undefined fields, so an index round-trip through JSON is lossless", () => {
    const summary = summarize(makeFullSession({ parentRunId: undefined }));
    expect(Object.values(summary as Record<string, unknown>)).not.toContain(undefined);
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it("keeps an API call's model in the summary (History names it), and refuses a record whose api has no model", () => {
    const session = makeFullSession({ inlinePipeline: true, pipelineName: "unsaved", api: { model: "storyteller" } });
    expect(sessionSchema.safeParse(session).success).toBe(true);
    expect(summarize(session)).toMatchObject({ inlinePipeline: true, pipelineName: "unsaved", api: { model: "storyteller" } });
    expect(summarize(makeFullSession({})).api).toBeUndefined();
    expect(sessionSchema.safeParse({ ...session, api: {} }).success).toBe(false);
  });
});

describe("sessionToText", () => {
  it("writes the input, each stage's output and the final answer", () => {
    const session = makeFullSession({
      input: "Tell me a story",
      stages: { draft: makeStageRecord("draft", "a draft about a cat"), polish: makeStageRecord("polish", "a polished cat story") },
      finalAnswer: "a polished cat story",
    });
    const text = sessionToText(session);
    expect(text).toContain(`session ${session.id}  completed  pipeline base`);
    expect(text).toMatch(/## input\nTell me a story/);
    expect(text).toMatch(/## stage draft \(completed\)\na draft about a cat/);
    expect(text.indexOf("## stage draft")).toBeLessThan(text.indexOf("## stage polish"));
    expect(text.endsWith("## final answer\na polished cat story")).toBe(true);
  });

  it("writes a conversation's earlier turns before the input", () => {
    const history = [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
    ];
    const text = sessionToText(makeFullSession({ input: "A story?", pipeline: { stages: [{ id: "chat", type: "single", model: "storyteller", history }] } }));
    expect(text).toContain("\n\n## conversation before stage chat\nUser: Hi\n\nAssistant: Hello.\n\n## input\nA story?\n");
  });

  it("exports the final answer alone, and says why there is none", () => {
    expect(sessionToText(makeFullSession({ finalAnswer: "just this" }), { detail: "answer" })).toBe("just this");
    const failed = makeFullSession({ status: "failed", finalAnswer: undefined, error: { code: "generation-failed", message: "the model stopped" } });
    expect(sessionToText(failed, { detail: "answer" })).toBe("");
    expect(sessionToText(failed)).toContain("generation-failed: the model stopped");
    expect(sessionToText(failed)).toContain("(none: the run failed)");
  });
});
