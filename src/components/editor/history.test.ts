import { describe, expect, it } from "vitest";
import { createHistory, historyLimit, pushHistory, redoHistory, undoHistory } from "./history";

describe("history", () => {
  it("undoes and redoes in order, and a new change drops the redo steps", () => {
    let history = pushHistory(pushHistory(createHistory("a"), "b"), "c");
    history = undoHistory(history);
    expect(history.present).toBe("b");
    history = undoHistory(history);
    expect(history.present).toBe("a");
    expect(undoHistory(history)).toBe(history);
    history = redoHistory(history);
    expect(history.present).toBe("b");
    history = pushHistory(history, "d");
    expect(history.future).toEqual([]);
    expect(redoHistory(history).present).toBe("d");
  });

  it("merges changes with the same key into one step", () => {
    let history = createHistory("");
    for (const text of ["h", "he", "hel"]) history = pushHistory(history, text, "stage1:prompt");
    history = pushHistory(history, "x", "stage1:name");
    expect(history.past).toEqual(["", "hel"]);
    expect(undoHistory(undoHistory(history)).present).toBe("");
  });

  it("keeps at most historyLimit steps", () => {
    let history = createHistory(0);
    for (let index = 1; index <= historyLimit + 10; index++) history = pushHistory(history, index);
    expect(history.past.length).toBe(historyLimit);
  });
});
