import { describe, expect, it } from "vitest";
import { globalOptions, splitCommand } from "./args.js";

const options = { ...globalOptions, input: { type: "string", short: "i" }, force: { type: "boolean" } } as const;

describe("splitCommand", () => {
  it("takes the first word that is neither an option nor an option's value as the command", () => {
    expect(splitCommand(["--config", "/some/config", "models"], options)).toEqual({ command: "models", rest: ["--config", "/some/config"], words: ["models"] });
    expect(splitCommand(["--json", "sessions", "list"], options)).toEqual({ command: "sessions", rest: ["--json", "list"], words: ["sessions", "list"] });
    expect(splitCommand(["-i", "run", "validate"], options)).toEqual({ command: "validate", rest: ["-i", "run"], words: ["validate"] });
  });

  it("keeps every other argument in its order, before and after the command", () => {
    expect(splitCommand(["--models-dir", "m", "run", "Once", "--force", "upon"], options)).toEqual({
      command: "run",
      rest: ["--models-dir", "m", "Once", "--force", "upon"],
      words: ["run", "Once", "upon"],
    });
  });

  it("reads an option's value given with = or glued to a short flag as part of the option", () => {
    expect(splitCommand(["--config=run", "-iHello", "models"], options).command).toBe("models");
  });

  it("finds no command in the original project's line, and takes a word after -- as a word", () => {
    expect(splitCommand(["--models", "config/models.yaml", "--input", "Hi", "--json"], options)).toEqual({
      rest: ["--models", "config/models.yaml", "--input", "Hi", "--json"],
      words: [],
    });
    expect(splitCommand(["--json", "--", "--input"], options)).toEqual({ command: "--input", rest: ["--json", "--"], words: ["--input"] });
  });
});
