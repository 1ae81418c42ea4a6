import { describe, expect, it } from "vitest";
import { runsModels } from "./runs-models.js";

describe("the guess of whether a command line runs a model", () => {
  it("is yes for a run, the original line with an input, a plan and a rerun", () => {
    expect(runsModels(["run", "--input", "Hi"])).toBe(true);
    expect(runsModels(["run", "Once", "upon", "a", "time"])).toBe(true);
    expect(runsModels(["--models", "config/models.yaml", "--pipeline", "config/pipeline.yaml", "--mode", "base", "--input", "Hi", "--json"])).toBe(true);
    expect(runsModels(["-f", "story.txt"])).toBe(true);
    expect(runsModels(["--input=Hi"])).toBe(true);
    expect(runsModels(["-fstory.txt"])).toBe(true);
    // The input on stdin: `project-llm --pipeline long < story.txt`.
    expect(runsModels(["--pipeline", "long"], true)).toBe(true);
    expect(runsModels(["--pipeline", "long"], false)).toBe(false);
    expect(runsModels(["models"])).toBe(true);
    expect(runsModels(["plan", "--pipeline", "long"])).toBe(true);
    expect(runsModels(["sessions", "rerun", "20261202-063358-5ebc6d", "--from", "b"])).toBe(true);
  });

  it("is no for help, the version and the commands that run nothing", () => {
    expect(runsModels([])).toBe(false);
    expect(runsModels(["run", "--help"])).toBe(false);
    expect(runsModels(["--version"])).toBe(false);
    expect(runsModels(["validate"])).toBe(false);
    expect(runsModels(["sessions", "list"])).toBe(false);
    expect(runsModels(["models", "pull", "hf:user/repo/model.gguf"])).toBe(false);
    expect(runsModels(["validate"], true)).toBe(false);
    expect(runsModels(["users", "add", "ann", "--role", "runner"])).toBe(false);
    expect(runsModels(["init", "somewhere"])).toBe(false);
    expect(runsModels(["--config", "conf"])).toBe(false);
  });
});
