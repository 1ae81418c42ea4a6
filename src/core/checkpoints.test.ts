import { describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import { SessionCheckpoints, storageFailed, writeWithRetries } from "./checkpoints.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A write that takes `ms`, recording the state it wrote and how many ran at once. */
function slowWrites(ms: number, state: () => number) {
  const written: number[] = [];
  let running = 0;
  let most = 0;
  const write = async () => {
    const snapshot = state();
    running++;
    most = Math.max(most, running);
    await sleep(ms);
    written.push(snapshot);
    running--;
  };
  return { write, written, most: () => most };
}

describe("checkpoints of a running session", () => {
  it("writes a stage's end an interval after the last write began (the session's creation first), and text within the interval", async () => {
    let state = 0;
    const writes = slowWrites(1, () => state);
    const checkpoints = new SessionCheckpoints({ write: writes.write, intervalMs: 300 });
    state = 1;
    checkpoints.textArrived();
    await sleep(20);
    state = 2;
    // The session was just created: a stage that ends now is written once the interval has passed.
    checkpoints.stageEnded();
    await sleep(100);
    expect(writes.written).toEqual([]);
    await expect.poll(() => writes.written).toEqual([2]);
    state = 3;
    checkpoints.textArrived();
    await expect.poll(() => writes.written, { timeout: 5000 }).toEqual([2, 3]);
    await checkpoints.close();
  });

  it("writes a stage's end at once when the last write began an interval ago", async () => {
    let state = 0;
    const writes = slowWrites(1, () => state);
    const checkpoints = new SessionCheckpoints({ write: writes.write, intervalMs: 50 });
    await sleep(80);
    state = 1;
    checkpoints.stageEnded();
    await sleep(20);
    expect(writes.written).toEqual([1]);
    await checkpoints.close();
  });

  it("never writes twice at once: requests during a write become one more write, of the latest state, in order", async () => {
    let state = 0;
    const writes = slowWrites(60, () => state);
    // No interval: each stage's end asks for a write at once.
    const checkpoints = new SessionCheckpoints({ write: writes.write, intervalMs: 0 });
    for (state = 1; state <= 5; state++) {
      checkpoints.stageEnded();
      await sleep(20);
    }
    state = 6;
    await sleep(250);
    await checkpoints.close();
    expect(writes.most()).toBe(1);
    // Each write holds the state when it started, so they land in order, the last with the latest state.
    expect(writes.written).toEqual([...writes.written].sort((a, b) => a - b));
    expect(writes.written.at(-1)).toBeGreaterThanOrEqual(5);
  });

  it("stops at close: waits for the write in flight and starts no other", async () => {
    let state = 0;
    const writes = slowWrites(50, () => ++state);
    const checkpoints = new SessionCheckpoints({ write: writes.write, intervalMs: 10 });
    await sleep(15);
    checkpoints.stageEnded();
    await sleep(5);
    checkpoints.stageEnded();
    checkpoints.textArrived();
    await checkpoints.close();
    expect(writes.written).toEqual([1]);
    await sleep(80);
    expect(writes.written).toEqual([1]);
  });

  it("reports a failed write and goes on", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const checkpoints = new SessionCheckpoints({
      write: async () => {
        if (++calls === 1) throw Object.assign(new Error("EROFS: read-only file system"), { code: "EROFS" });
      },
      onError: (error) => errors.push(error),
      intervalMs: 0,
    });
    checkpoints.stageEnded();
    await sleep(10);
    checkpoints.stageEnded();
    await sleep(10);
    await checkpoints.close();
    expect(errors).toHaveLength(1);
    expect([checkpoints.written, checkpoints.failed]).toEqual([1, 1]);
  });
});

describe("the final write of a session", () => {
  it("tries again after a failure, and succeeds when the next try does", async () => {
    let calls = 0;
    const retries: number[] = [];
    await writeWithRetries(
      async () => {
        if (++calls === 1) throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
      },
      { delaysMs: [5, 5], onRetry: (_, delay) => retries.push(delay) },
    );
    expect([calls, retries]).toEqual([2, [5]]);
  });

  it("gives up after its tries with the last error, and at once on an error of ours", async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      throw Object.assign(new Error(`EROFS ${calls}`), { code: "EROFS" });
    };
    await expect(writeWithRetries(failing, { delaysMs: [1, 1, 1] })).rejects.toThrow("EROFS 4");
    calls = 0;
    const ours = async () => {
      calls++;
      throw new ProjectLlmError("internal", "does not match the session schema");
    };
    await expect(writeWithRetries(ours, { delaysMs: [1, 1] })).rejects.toThrow("schema");
    expect(calls).toBe(1);
  });

  it("says what could not be written where, and why, in plain words", () => {
    const failure = (code: string) => storageFailed(Object.assign(new Error(`${code}: open '/srv/sessions/x.json'`), { code }), "20261130-030102-3fa9c1", "/srv/sessions");
    expect(failure("EROFS")).toMatchObject({
      code: "storage-failed",
      message: "session 20261130-030102-3fa9c1 could not be saved in the sessions folder /srv/sessions: it is on a read-only file system (EROFS: open '/srv/sessions/x.json'); its output is not stored",
      details: { params: { reason: "read-only", folder: "/srv/sessions", id: "20261130-030102-3fa9c1" } },
    });
    expect([failure("EACCES"), failure("ENOSPC"), failure("ENOENT"), failure("EIO")].map((error) => error.details?.params)).toMatchObject([
      { reason: "permission" },
      { reason: "disk-full" },
      { reason: "missing" },
      { reason: "error", detail: "EIO: open '/srv/sessions/x.json'" },
    ]);
    const taken = new ProjectLlmError("invalid-id", "a session with id 20261130-030102-3fa9c1 already exists");
    expect(storageFailed(taken, "20261130-030102-3fa9c1", "/srv/sessions")).toBe(taken);
  });
});

describe("checkpoints of a long session", () => {
  it("space out their writes as they grow slower, never past the longest interval", async () => {
    const starts: number[] = [];
    const checkpoints = new SessionCheckpoints({
      write: async () => {
        starts.push(performance.now());
        await sleep(40);
      },
      intervalMs: 50,
      maxIntervalMs: 300,
    });
    const streaming = setInterval(() => checkpoints.textArrived(), 5);
    await expect.poll(() => starts.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
    clearInterval(streaming);
    await checkpoints.close();
    // Once a write has taken 40 ms, the 50 ms interval is stretched to 300 ms (ten times 40, capped); the
    // requests made while the first writes ran follow at once.
    const gaps = starts.slice(1).map((at, index) => at - starts[index]!);
    for (const gap of gaps.slice(2)) expect(gap).toBeGreaterThanOrEqual(290);
  });
});
