import { describe, expect, it } from "vitest";
import { downstreamOf, findCycle, inputIds, mayRunTogether, sinkIds, stageModels, topologicalOrder } from "./graph.js";

const stages = [
  { id: "a" },
  { id: "b", input_from: "a" },
  { id: "c", input_from: ["a", "b"] },
  { id: "d" },
];

describe("graph", () => {
  it("reads input_from as one id or a list", () => {
    expect(inputIds({ input_from: "a" })).toEqual(["a"]);
    expect(inputIds({ input_from: ["a", "b"] })).toEqual(["a", "b"]);
    expect(inputIds({})).toEqual([]);
  });

  it("orders stages after their inputs", () => {
    expect(topologicalOrder({ stages: [stages[2]!, stages[1]!, stages[0]!, stages[3]!] as never })).toEqual(["a", "b", "c", "d"]);
  });

  it("rejects a cycle and names the stages in it", () => {
    expect(findCycle([{ id: "x", input_from: "z" }, { id: "y", input_from: "x" }, { id: "z", input_from: "y" }, { id: "w" }])).toEqual(["x", "y", "z", "x"]);
    expect(findCycle(stages)).toBeUndefined();
    expect(() => topologicalOrder({ stages: [{ id: "p", input_from: "q" }, { id: "q", input_from: "p" }] as never })).toThrow(/cycle/);
  });

  it("finds everything downstream of a stage, and the sinks", () => {
    expect([...downstreamOf({ stages } as never, "b")].sort()).toEqual(["b", "c"]);
    expect([...downstreamOf({ stages } as never, "a")].sort()).toEqual(["a", "b", "c"]);
    expect(sinkIds({ stages } as never)).toEqual(["c", "d"]);
  });
});

describe("stages that may run at the same time", () => {
  it("are those neither upstream nor downstream of each other", () => {
    // a -> b, a -> c, [b, c] -> d; e reads nothing.
    const fan = { stages: [{ id: "a" }, { id: "b", input_from: "a" }, { id: "c", input_from: "a" }, { id: "d", input_from: ["b", "c"] }, { id: "e" }] } as never;
    const together = mayRunTogether(fan);
    const pairs = ["a", "b", "c", "d", "e"].flatMap((x) => ["a", "b", "c", "d", "e"].filter((y) => x < y && together(x, y)).map((y) => x + y));
    expect(pairs).toEqual(["ae", "bc", "be", "ce", "de"]);
    expect(together("b", "b")).toBe(false);
    expect(together("b", "nowhere")).toBe(false);
  });

  it("reach past 32 stages (each stage's upstream is a bit set of several words)", () => {
    // A chain s0 -> ... -> s69, and x beside it from s40 on.
    const chain = Array.from({ length: 70 }, (_, index) => ({ id: `s${index}`, ...(index > 0 ? { input_from: `s${index - 1}` } : {}) }));
    const together = mayRunTogether({ stages: [...chain, { id: "x", input_from: "s39" }] } as never);
    expect(chain.filter((stage) => together("x", stage.id)).map((stage) => stage.id)).toEqual(chain.slice(40).map((stage) => stage.id));
    expect(together("s0", "s69")).toBe(false);
  });
});

describe("graph errors and models", () => {
  it("names the cycle or the unknown stage when it cannot order the stages, with config-invalid", () => {
    expect(() => topologicalOrder({ stages: [{ id: "p", input_from: "q" }, { id: "q", input_from: "p" }] as never })).toThrow(
      expect.objectContaining({ code: "config-invalid", message: expect.stringMatching(/cycle: (p → q → p|q → p → q)/) }),
    );
    expect(() => topologicalOrder({ stages: [{ id: "p", input_from: "ghost" }] as never })).toThrow(/p reads unknown stage "ghost"/);
  });

  it("lists a stage's models once each, the synthesis model last", () => {
    expect(stageModels({ id: "s", type: "multi", models: ["m1", "m2", "m1"], aggregation: { method: "synthesis", model: "judge", params: {} } } as never)).toEqual([
      "m1",
      "m2",
      "judge",
    ]);
    expect(stageModels({ id: "s", type: "single", model: "m1" } as never)).toEqual(["m1"]);
  });
});

describe("graph of a long pipeline", () => {
  // A chain as deep as a pipeline sent to the server can be: the recursive walk overflowed the stack here.
  const chain = (length: number) => Array.from({ length }, (_, index) => (index === 0 ? { id: "s0" } : { id: `s${index}`, input_from: `s${index - 1}` }));

  it("walks a 100,000-stage chain without overflowing the stack, in file order or reversed", () => {
    const stages = chain(100_000);
    expect(findCycle(stages)).toBeUndefined();
    expect(topologicalOrder({ stages } as never)).toEqual(stages.map((stage) => stage.id));
    expect(topologicalOrder({ stages: [...stages].reverse() } as never)).toEqual(stages.map((stage) => stage.id));
  });

  it("finds a cycle that closes a 100,000-stage chain and names its stages", () => {
    const stages = chain(100_000);
    stages[0] = { id: "s0", input_from: "s99999" };
    const cycle = findCycle(stages)!;
    expect(cycle).toHaveLength(100_001);
    expect(cycle[0]).toBe(cycle.at(-1));
    expect(() => topologicalOrder({ stages } as never)).toThrow(/cycle/);
  });

  it("keeps file order among independent stages", () => {
    expect(topologicalOrder({ stages: [{ id: "c", input_from: "a" }, { id: "b" }, { id: "a" }, { id: "d", input_from: ["b", "c"] }] } as never)).toEqual(["b", "a", "c", "d"]);
  });
});
