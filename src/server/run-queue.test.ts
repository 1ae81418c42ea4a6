import { describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import { RunQueue, type Ticket } from "./run-queue.js";

function refusal(work: () => unknown): ProjectLlmError {
  try {
    work();
  } catch (error) {
    if (ProjectLlmError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("RunQueue", () => {
  it("lets runs go up to the in-flight cap, then queues them first come first served", () => {
    const queue = new RunQueue({ inFlight: 2, waiting: 5, perUser: 10 });
    const started: string[] = [];
    const tickets = ["a", "b", "c", "d"].map((name) => queue.admit("local", { onStart: () => started.push(name) }));
    expect(tickets.map((ticket) => ticket.ahead)).toEqual([undefined, undefined, 0, 1]);
    expect(queue.counts).toMatchObject({ running: 2, waiting: 2 });
    tickets[1]!.leave();
    expect(started).toEqual(["c"]);
    expect(tickets[2]!.ahead).toBeUndefined();
    expect(tickets[3]!.ahead).toBe(0);
    tickets[0]!.leave();
    expect(started).toEqual(["c", "d"]);
    expect(queue.counts).toMatchObject({ running: 2, waiting: 0 });
  });

  it("tells each waiting run its new place when one ahead leaves or starts", () => {
    const queue = new RunQueue({ inFlight: 1, waiting: 5, perUser: 10 });
    const first = queue.admit("local");
    const places: Record<string, number[]> = { b: [], c: [], d: [] };
    const waiting = (["b", "c", "d"] as const).map((name) => queue.admit("local", { onAhead: (ahead) => places[name]!.push(ahead) }));
    expect(waiting.map((ticket) => ticket.ahead)).toEqual([0, 1, 2]);
    // A waiting run cancelled: only those behind it move.
    waiting[1]!.leave();
    expect(places).toEqual({ b: [], c: [], d: [1] });
    first.leave();
    expect(places).toEqual({ b: [], c: [], d: [1, 0] });
    expect(waiting[0]!.ahead).toBeUndefined();
    // Leaving twice gives back one place.
    waiting[1]!.leave();
    expect(queue.counts).toMatchObject({ running: 1, waiting: 1 });
  });

  it("refuses a user past their cap with busy, and the full queue with unavailable, each with a retry hint", () => {
    const queue = new RunQueue({ inFlight: 1, waiting: 2, perUser: 2 });
    const ann = [queue.admit("ann"), queue.admit("ann")];
    const busy = refusal(() => queue.admit("ann"));
    expect(busy.code).toBe("busy");
    expect(busy.message).toMatch(/ann has 2 runs going or waiting/);
    expect(busy.details?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    queue.admit("bob");
    const full = refusal(() => queue.admit("cid"));
    expect(full.code).toBe("unavailable");
    expect(full.details?.params).toMatchObject({ reason: "queue-full", waiting: 2 });
    // The user's own runs ending lets them in again.
    ann[0]!.leave();
    expect(queue.admit("cid").ahead).toBe(1);
    expect(queue.counts.users).toEqual({ ann: 1, bob: 1, cid: 1 });
  });

  it("holds its caps under a burst of admissions", () => {
    const queue = new RunQueue({ inFlight: 3, waiting: 10, perUser: 4 });
    const outcomes = { admitted: [] as Ticket[], busy: 0, unavailable: 0 };
    for (let index = 0; index < 400; index++) {
      try {
        outcomes.admitted.push(queue.admit(`user${index % 50}`));
      } catch (error) {
        outcomes[(error as ProjectLlmError).code as "busy" | "unavailable"]++;
      }
    }
    expect(outcomes.admitted).toHaveLength(13);
    expect(outcomes.unavailable + outcomes.busy).toBe(387);
    expect(queue.counts).toMatchObject({ running: 3, waiting: 10 });
  });

  it("starts waiting runs when the in-flight cap grows, and lets going runs finish when it shrinks", () => {
    const queue = new RunQueue({ inFlight: 1, waiting: 5, perUser: 10 });
    const started: number[] = [];
    const tickets = [0, 1, 2, 3].map((index) => queue.admit("local", { onStart: () => started.push(index) }));
    queue.setLimits({ inFlight: 3, waiting: 5, perUser: 10 });
    expect(started).toEqual([1, 2]);
    queue.setLimits({ inFlight: 1, waiting: 5, perUser: 10 });
    tickets[0]!.leave();
    tickets[1]!.leave();
    expect(started).toEqual([1, 2]);
    tickets[2]!.leave();
    expect(started).toEqual([1, 2, 3]);
  });
});
