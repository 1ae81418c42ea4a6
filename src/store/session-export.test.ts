import { strFromU8, unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import type { ModelOutput, StageRecord } from "../engine/index.js";
import { makeFullSession, makeStageRecord } from "./session-store.conformance.js";
import { sessionFiles, sessionToMarkdown, sessionZip, type MarkdownLabels } from "./session-export.js";

const metrics = { tokensIn: 12, tokensOut: 1500, timeToFirstTokenMs: 3, tokensPerSecond: 1950.4, durationMs: 1250 };

function answer(model: string, text: string): ModelOutput {
  return { model, prompt: "p", answer: text, params: {}, metrics, stopReason: "eos", chat: false };
}

/** A multi stage of two models whose answers a third one synthesised. */
function voices(): StageRecord {
  return {
    stageId: "voices",
    status: "completed",
    reused: false,
    output: "woven together",
    answer: "woven together",
    metrics,
    models: [answer("storyteller", "a fox ran"), answer("dreamer", "a fox ```dreamed```")],
    aggregation: { method: "synthesis", output: answer("critic", "woven together") },
  };
}

/** A draft, the voices reading it, and an ending reading both (listed out of order in the record). */
function story() {
  return makeFullSession({
    input: "Once upon a time",
    pipeline: {
      stages: [
        { id: "draft", type: "single", model: "storyteller" },
        { id: "voices", type: "multi", models: ["storyteller", "dreamer"], input_from: "draft", aggregation: { method: "synthesis", model: "critic" } },
        { id: "ending", type: "single", model: "dreamer", input_from: ["draft", "voices"] },
      ],
    },
    stages: { ending: makeStageRecord("ending", "The end."), draft: makeStageRecord("draft", "there was a fox"), voices: voices() },
    finalAnswer: "The end.",
  });
}

describe("sessionFiles", () => {
  it("lists the input, each stage in the order the stages ran, each model's answer, the final answer and the record", () => {
    const session = story();
    const files = sessionFiles(session);
    expect(files.map((file) => file.path)).toEqual([
      "input.txt",
      "01-draft.txt",
      "02-voices.txt",
      "02-voices/1-storyteller.txt",
      "02-voices/2-dreamer.txt",
      "02-voices/synthesis-critic.txt",
      "03-ending.txt",
      "final.txt",
      "session.json",
    ]);
    const text = Object.fromEntries(files.map((file) => [file.path, file.text]));
    expect(text["input.txt"]).toBe("Once upon a time");
    expect(text["01-draft.txt"]).toBe("there was a fox");
    expect(text["02-voices/2-dreamer.txt"]).toBe("a fox ```dreamed```");
    expect(text["02-voices/synthesis-critic.txt"]).toBe("woven together");
    expect(text["final.txt"]).toBe("The end.");
    expect(JSON.parse(text["session.json"]!)).toEqual(session);
  });

  it("puts a conversation's earlier turns before its input, the stage named in a pipeline of several", () => {
    const history = [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
    ];
    const chat = makeFullSession({ input: "A story?", pipeline: { stages: [{ id: "chat", type: "single", model: "storyteller", history }] }, stages: { chat: makeStageRecord("chat", "Once.") }, finalAnswer: "Once." });
    const files = sessionFiles(chat);
    expect(files.map((file) => file.path).slice(0, 3)).toEqual(["conversation.txt", "input.txt", "01-chat.txt"]);
    expect(files[0]!.text).toBe("User: Hi\n\nAssistant: Hello.");
    const two = makeFullSession({
      pipeline: { stages: [{ id: "a", type: "single", model: "storyteller", history }, { id: "b", type: "single", model: "storyteller", input_from: "a", history: [{ role: "narrator", content: "not a turn" }] }, { id: "c", type: "single", model: "storyteller", history }] },
      stages: {},
    });
    expect(sessionFiles(two).map((file) => file.path).slice(0, 3)).toEqual(["conversation-a.txt", "conversation-c.txt", "input.txt"]);
    const one = makeFullSession({ pipeline: { stages: [{ id: "a", type: "single", model: "storyteller", history }, { id: "b", type: "single", model: "storyteller", input_from: "a" }] }, stages: {} });
    expect(sessionFiles(one).map((file) => file.path).slice(0, 2)).toEqual(["conversation-a.txt", "input.txt"]);
  });

  it("leaves out what a failed run did not write", () => {
    const failed = makeFullSession({
      status: "failed",
      stages: { draft: { ...makeStageRecord("draft", ""), status: "failed", output: undefined, answer: undefined, error: { code: "generation-failed", message: "stopped" } } },
      finalAnswer: undefined,
    });
    expect(sessionFiles(failed).map((file) => file.path)).toEqual(["input.txt", "session.json"]);
  });

  it("keeps every path inside the folder, even for names edited by hand", () => {
    const session = story();
    session.stages = { "../../etc": { ...voices(), stageId: "../../etc", models: [answer("..", "x"), answer("/abs\\path", "y"), answer(".hidden", "z")] } };
    const paths = sessionFiles(session).map((file) => file.path);
    expect(paths).toEqual(["input.txt", "01-__.._etc.txt", "01-__.._etc/1-_.txt", "01-__.._etc/2-_abs_path.txt", "01-__.._etc/3-_hidden.txt", "01-__.._etc/synthesis-critic.txt", "final.txt", "session.json"]);
    for (const path of paths) {
      expect(path.startsWith("/")).toBe(false);
      expect(path.split("/").every((segment) => segment !== ".." && segment !== "." && segment !== "" && !segment.startsWith("."))).toBe(true);
      expect(path).not.toContain("\\");
    }
  });
});

describe("sessionZip", () => {
  it("holds the same files in a folder named after the session", () => {
    const session = story();
    const entries = unzipSync(sessionZip(session));
    const files = sessionFiles(session);
    expect(Object.keys(entries)).toEqual(files.map((file) => `${session.id}/${file.path}`));
    for (const file of files) expect(strFromU8(entries[`${session.id}/${file.path}`]!)).toBe(file.text);
  });
});

/**
 * Labels of no language (a stand-in for the pages' messages, which the server gives): each message is its
 * key and its values, so that a test reads the document's structure and what each message was given.
 */
const keyLabels: MarkdownLabels = {
  text: (key, values) => (values ? `${key}(${Object.entries(values).map(([name, value]) => `${name}=${value}`).join("; ")})` : key),
  number: (value) => `#${value}`,
  ms: (ms) => `${ms}ms`,
  dateTime: (value) => `at ${value}`,
  stageState: (status) => `state(${status})`,
  stageError: (error) => [{ text: `stageError(${error.code}) `, data: false }, { text: error.message, data: true }],
  runError: (error) => [{ text: `runError(${error.code}) `, data: false }, { text: error.message, data: true }],
};

describe("sessionToMarkdown", () => {
  it("writes the facts, the input, each stage with its models' answers and figures, and the final answer, in order", () => {
    const session = { ...story(), parentRunId: "20260101-000000-abcdef", rerunFromStage: "voices", inputEdited: true, inlinePipeline: true };
    const markdown = sessionToMarkdown(session, keyLabels);
    const order = [`# title(id=\`${session.id}\`)`, "## input", "## 1. `draft`", "## 2. `voices`", "### `storyteller`", "### `dreamer`", "### synthesisBy(model=`critic`)", "### passedOn", "## 3. `ending`", "## finalAnswer"];
    const positions = order.map((heading) => markdown.indexOf(`\n${heading}\n`) === -1 ? markdown.indexOf(`${heading}\n`) : markdown.indexOf(`\n${heading}\n`));
    expect(positions.every((position) => position >= 0), markdown).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(markdown).toContain("- pipelineUnsaved(name=`base`)\n- status(status=completed)\n- started(started=at 2026-");
    expect(markdown).toContain("- branchEdited(parent=`20260101-000000-abcdef`; stage=`voices`)");
    expect(markdown).toContain("multi(count=2; method=methods.synthesis) · state(completed)");
    expect(markdown).toContain("metrics(tokensIn=12; tokensOut=#1500; rate=#1950; firstToken=3ms; duration=1250ms)");
    expect(markdown.endsWith("## finalAnswer\n\n```text\nThe end.\n```\n")).toBe(true);
  });

  it("says what an API call asked for: the model in place of its one-stage pipeline, beside a named pipeline", () => {
    const modelCall = sessionToMarkdown({ ...story(), inlinePipeline: true, pipelineName: "unsaved", api: { model: "storyteller" } }, keyLabels);
    expect(modelCall).toContain("- apiCall(model=`storyteller`)\n- status(status=completed)");
    expect(modelCall).not.toContain("pipelineUnsaved(");
    const pipelineCall = sessionToMarkdown({ ...story(), api: { model: "pipeline/base" } }, keyLabels);
    expect(pipelineCall).toContain("- pipeline(name=`base`)\n- apiCall(model=`pipeline/base`)\n- status(");
  });

  it("writes a conversation's earlier turns before the input, naming the stage where the pipeline has several", () => {
    const history = [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
    ];
    const markdown = sessionToMarkdown(makeFullSession({ input: "A story?", pipeline: { stages: [{ id: "chat", type: "single", model: "storyteller", history }] }, stages: {} }), keyLabels);
    expect(markdown).toContain("\n## conversation\n\n### userTurn\n\n```text\nHi\n```\n\n### assistantTurn\n\n```text\nHello.\n```\n\n## input\n\n```text\nA story?\n```\n");
    const several = sessionToMarkdown({ ...story(), pipeline: { stages: [...(story().pipeline as { stages: object[] }).stages.map((stage, index) => (index === 1 ? { ...stage, history } : stage))] } }, keyLabels);
    expect(several).toContain("\n## conversationOfStage(stage=`voices`)\n\n### userTurn\n");
  });

  it("fences model text so that nothing in it is read as Markdown", () => {
    const markdown = sessionToMarkdown(story(), keyLabels);
    // The dreamer's answer holds a run of three backticks: its fence is four long.
    expect(markdown).toContain("````text\na fox ```dreamed```\n````");
    const hostile = sessionToMarkdown(makeFullSession({ input: "# not a heading\n```\n<script>x</script>" }), keyLabels);
    expect(hostile).toContain("````text\n# not a heading\n```\n<script>x</script>\n````");
  });

  it("shows a vote's tallies, the errors in the reader's words with their data as inline code, and why there is no final answer", () => {
    const vote: StageRecord = {
      ...voices(),
      aggregation: { method: "vote", tallies: [{ answer: "a fox", votes: 2, models: ["storyteller", "dreamer"] }, { answer: "a `cat`", votes: 1, models: ["critic"] }], winner: "a fox", tie: true },
    };
    const ending: StageRecord = { stageId: "ending", status: "failed", reused: false, models: [], error: { code: "context-overflow", message: "too `long`" } };
    const failed = makeFullSession({ status: "failed", stages: { voices: vote, ending }, finalAnswer: undefined, error: { code: "generation-failed", message: "the model stopped" } });
    const markdown = sessionToMarkdown(failed, keyLabels);
    expect(markdown).toContain("### vote\n\n- tally(votes=2; models=`storyteller`, `dreamer`; answer=`a fox`)\n- tally(votes=1; models=`critic`; answer=`` a `cat` ``)\n\ntie");
    expect(markdown).toContain("## 2. `ending`\n\nstate(failed)\n\nstageError(context-overflow) `` too `long` ``\n");
    expect(markdown).toContain("## runError\n\nrunError(generation-failed) `the model stopped`");
    expect(markdown).toContain("## finalAnswer\n\nnoFinalAnswer(status=failed)");
    // A cancel is no error: the status and the final answer's line say it.
    const cancelled = sessionToMarkdown(makeFullSession({ status: "cancelled", finalAnswer: undefined, error: { code: "cancelled", message: "the run was cancelled" } }), keyLabels);
    expect(cancelled).not.toContain("runError");
    expect(cancelled).toContain("## finalAnswer\n\nnoFinalAnswer(status=cancelled)");
  });
});
