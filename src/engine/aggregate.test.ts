import { describe, expect, it } from "vitest";
import { aggregateWithoutModel, concatAnswers, normaliseAnswer, voteAnswers } from "./aggregate.js";

const answers = (...pairs: Array<[string, string]>) => pairs.map(([model, answer]) => ({ model, answer }));

describe("aggregations", () => {
  it("normalises votes: case, white space, surrounding quotes, trailing punctuation", () => {
    expect(normaliseAnswer("  The   Blue\tSky. ")).toBe("the blue sky");
    expect(normaliseAnswer('"Yes".')).toBe("yes");
    expect(normaliseAnswer("'YES!?'")).toBe("yes");
    expect(normaliseAnswer("“No…”")).toBe("no");
    expect(normaliseAnswer("3.14")).toBe("3.14");
  });

  it("votes by majority, keeping tallies in first-seen order with their models", () => {
    const { winner, result } = voteAnswers(answers(["m1", "Red"], ["m2", " Blue."], ["m3", '"blue"'], ["m4", "red!"], ["m5", "BLUE"]));
    expect(winner).toBe(" Blue.");
    expect(result).toEqual({
      method: "vote",
      tallies: [
        { answer: "red", votes: 2, models: ["m1", "m4"] },
        { answer: "blue", votes: 3, models: ["m2", "m3", "m5"] },
      ],
      winner: "blue",
      tie: false,
    });
  });

  it("breaks a tie in favour of the answer given first in model order", () => {
    const first = voteAnswers(answers(["m1", "cat"], ["m2", "dog"], ["m3", "Dog"], ["m4", "Cat."]));
    expect(first.winner).toBe("cat");
    expect(first.result).toMatchObject({ winner: "cat", tie: true });
    const swapped = voteAnswers(answers(["m2", "dog"], ["m1", "cat"], ["m4", "Cat."], ["m3", "Dog"]));
    expect(swapped.winner).toBe("dog");
    expect(voteAnswers(answers(["m1", "x"])).result.tie).toBe(false);
  });

  it("concatenates with or without model labels", () => {
    const list = answers(["m1", "one"], ["m2", "two"]);
    expect(concatAnswers(list, { separator: "\n\n", labels: true })).toBe("[model: m1]\none\n\n[model: m2]\ntwo");
    expect(concatAnswers(list, { separator: " | ", labels: false })).toBe("one | two");
  });

  it("renders a template aggregation and rejects a placeholder past the last model", () => {
    const list = answers(["m1", "one"], ["m2", "two"]);
    expect(aggregateWithoutModel({ method: "template", template: "{{input}}: {{answer.m2}}/{{answer.1}} by {{model.2}}" }, "Q", list, "stage s").answer).toBe("Q: two/one by m2");
    expect(() => aggregateWithoutModel({ method: "template", template: "{{answer.3}}" }, "Q", list, "stage s")).toThrow(/stage s aggregation template: unknown placeholder \{\{answer\.3\}\}/);
  });
});
