/**
 * A session as a person reads it: a folder of text files (its input, what each stage passed on, each
 * model's answer, the final answer, and the session record), the same files as a ZIP archive, or one
 * Markdown document. Pure functions: writing the files is the caller's.
 */
import { strToU8, zipSync } from "fflate";
import { ProjectLlmError } from "../common/index.js";
import type { Aggregation, Pipeline } from "../config/schema.js";
import { topologicalOrder, type ModelOutput, type StageMetrics, type StageRecord } from "../engine/index.js";
import { pipelineHistories, turnsTranscript } from "../runtime/conversation.js";
import type { SessionRecord } from "./session.js";
import { neverSaved } from "./session-name.js";

/** One file of an exported session: a relative path (forward slashes) and its text. */
export interface ExportFile {
  path: string;
  text: string;
}

/**
 * A name safe as one path segment on every system: letters, digits, ".", "_" and "-" (anything else
 * becomes "_"), no leading dot, at most 64 characters. Stage ids and model names already have this form
 * (the schemas check them); a session file edited by hand may not.
 */
function safeSegment(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_").slice(0, 64);
  return safe === "" ? "_" : safe;
}

/** Refuses a path that could leave the export's folder: absolute, empty, "." or ".." segments, a backslash. */
function assertRelative(path: string): string {
  const segments = path.split("/");
  if (path.includes("\\") || segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw new ProjectLlmError("internal", `export path "${path.slice(0, 120)}" would leave the session's folder`);
  }
  return path;
}

/** The stages in the order they ran (every stage after its inputs); file order when the graph cannot be ordered. */
function stagesInOrder(session: SessionRecord): StageRecord[] {
  const pipeline = session.pipeline as Pick<Pipeline, "stages"> | undefined;
  let order: string[];
  try {
    order = topologicalOrder({ stages: pipeline?.stages ?? [] });
  } catch {
    order = [];
  }
  for (const id of Object.keys(session.stages)) if (!order.includes(id)) order.push(id);
  return order.flatMap((id) => (session.stages[id] ? [session.stages[id]] : []));
}

/** The synthesis call of a stage, when its answers were combined by a model. */
function synthesisOf(record: StageRecord): ModelOutput | undefined {
  return record.aggregation?.method === "synthesis" ? record.aggregation.output : undefined;
}

/**
 * The files of an exported session, in reading order: `input.txt`; per stage, numbered in the order the
 * stages ran, `01-draft.txt` (what the stage passed on) and, for a stage of several models, one file per
 * model (`02-voices/1-storyteller.txt`, and `02-voices/synthesis-storyteller.txt` for the synthesis);
 * `final.txt` (when the run has a final answer); `session.json` (the whole record). A stage without
 * output (failed, cancelled) has no file of its own. Every path is checked to stay inside the folder.
 */
export function sessionFiles(session: SessionRecord): ExportFile[] {
  // A conversation's earlier turns come before its input (`conversation.txt`; the stage named, as on the
  // session's page, in a pipeline of several stages).
  const several = ((session.pipeline as Partial<Pick<Pipeline, "stages">> | undefined)?.stages?.length ?? 0) > 1;
  const files: ExportFile[] = [
    ...pipelineHistories(session.pipeline).map(({ stageId, turns }) => ({
      path: several ? `conversation-${safeSegment(stageId)}.txt` : "conversation.txt",
      text: turnsTranscript(turns),
    })),
    { path: "input.txt", text: session.input },
  ];
  const stages = stagesInOrder(session);
  const width = Math.max(2, String(stages.length).length);
  stages.forEach((record, index) => {
    const stem = `${String(index + 1).padStart(width, "0")}-${safeSegment(record.stageId)}`;
    if (record.output !== undefined) files.push({ path: `${stem}.txt`, text: record.output });
    const synthesis = synthesisOf(record);
    if (record.models.length > 1 || synthesis) {
      record.models.forEach((output, position) => files.push({ path: `${stem}/${position + 1}-${safeSegment(output.model)}.txt`, text: output.answer }));
      if (synthesis) files.push({ path: `${stem}/synthesis-${safeSegment(synthesis.model)}.txt`, text: synthesis.answer });
    }
  });
  if (session.finalAnswer !== undefined) files.push({ path: "final.txt", text: session.finalAnswer });
  files.push({ path: "session.json", text: `${JSON.stringify(session, null, 2)}\n` });
  for (const file of files) assertRelative(file.path);
  return files;
}

/**
 * The exported files as a ZIP archive, inside a folder named after the session (`ID/input.txt`, ...),
 * dated when the run started.
 */
export function sessionZip(session: SessionRecord): Uint8Array {
  const folder = safeSegment(session.id);
  const entries = Object.fromEntries(sessionFiles(session).map((file) => [`${folder}/${file.path}`, strToU8(file.text)]));
  return zipSync(entries, { mtime: new Date(session.startedAt) });
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A duration for people: "850 ms", "1.25 s", "12.5 s". */
function duration(ms: number): string {
  return ms < 1000 ? `${integer.format(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** A stage's or a model's figures in one line: "5 tokens in, 48 out, 1,950 tok/s, first token 3 ms, 40 ms". */
export function describeMetrics(metrics: StageMetrics): string {
  return `${integer.format(metrics.tokensIn)} tokens in, ${integer.format(metrics.tokensOut)} out, ${integer.format(metrics.tokensPerSecond)} tok/s, first token ${duration(metrics.timeToFirstTokenMs)}, ${duration(metrics.durationMs)}`;
}

/** Text as a fenced block, with a fence longer than any run of backticks inside, so nothing in it is read as Markdown. */
function codeBlock(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}text\n${text}${text.endsWith("\n") ? "" : "\n"}${fence}`;
}

/** Text as inline code (a name, an id), with a fence of backticks it cannot close. */
function inlineCode(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  const padded = text.startsWith("`") || text.endsWith("`") ? ` ${text} ` : text;
  return `${fence}${padded.replace(/\n/g, " ")}${fence}`;
}

/** The messages of a session's Markdown document (the `history.export` messages of the pages). */
export type MarkdownMessage =
  | "title"
  | "pipeline"
  | "pipelineUnsaved"
  | "apiCall"
  | "status"
  | "started"
  | "duration"
  | "branch"
  | "branchEdited"
  | "input"
  | "conversation"
  | "conversationOfStage"
  | "userTurn"
  | "assistantTurn"
  | "single"
  | "multi"
  | "kept"
  | "cached"
  | "metrics"
  | "model"
  | "failed"
  | "vote"
  | "tally"
  | "tie"
  | "synthesisBy"
  | "passedOn"
  | "runError"
  | "finalAnswer"
  | "noFinalAnswer"
  | `methods.${Aggregation["method"]}`;

/** A piece of what a document says: the reader's words, or data (a name, a path, the server's own message), written as inline code. */
export interface MarkdownPiece {
  text: string;
  data: boolean;
}

/**
 * The words and figures of a session's Markdown document in its reader's language, as the session's page
 * says them. The caller gives them (the studio's server, from the pages' messages): the store has no
 * language of its own.
 */
export interface MarkdownLabels {
  /** The message `key` with `values` put in (names and ids come as inline code, numbers as numbers for plurals). */
  text(key: MarkdownMessage, values?: Record<string, string | number>): string;
  number(value: number): string;
  /** A duration: "850 ms", "1.25 s". */
  ms(ms: number): string;
  dateTime(value: string): string;
  /** A stage's state in a word or two ("done", "not run"). */
  stageState(status: StageRecord["status"]): string;
  /** Why a stage (or one model's call) has no answer; nothing for a cancel, which its state says. */
  stageError(error: NonNullable<StageRecord["error"]>): MarkdownPiece[];
  /** Why the run failed: the stage it failed at, or what went wrong. */
  runError(error: NonNullable<SessionRecord["error"]>): MarkdownPiece[];
}

/** Pieces as Markdown: the words as they are, the data as inline code. */
function piecesText(pieces: readonly MarkdownPiece[]): string {
  return pieces.map((piece) => (piece.data ? inlineCode(piece.text) : piece.text)).join("");
}

function metricsText(labels: MarkdownLabels, metrics: StageMetrics): string {
  return labels.text("metrics", {
    tokensIn: metrics.tokensIn,
    tokensOut: labels.number(metrics.tokensOut),
    rate: labels.number(Math.round(metrics.tokensPerSecond)),
    firstToken: labels.ms(metrics.timeToFirstTokenMs),
    duration: labels.ms(metrics.durationMs),
  });
}

/** One model's answer, under its own heading, with its figures. */
function modelSection(labels: MarkdownLabels, heading: string, output: ModelOutput): string[] {
  const failure = output.error ? ` — ${labels.text("failed", { error: piecesText(labels.stageError(output.error)) })}` : "";
  return [`### ${heading}`, "", metricsText(labels, output.metrics) + failure, "", codeBlock(output.answer)];
}

/** A stage: what it is, its state and figures, each model's answer, how they were combined, what it passed on. */
function stageSection(labels: MarkdownLabels, record: StageRecord, number: number, stage: Pipeline["stages"][number] | undefined): string[] {
  const lines = [`## ${number}. ${inlineCode(record.stageId)}`, ""];
  const kind = stage ? (stage.type === "single" ? labels.text("single") : labels.text("multi", { count: stage.models.length, method: labels.text(`methods.${stage.aggregation.method}`) })) : undefined;
  lines.push([kind, record.reused ? labels.text("kept") : record.cached ? labels.text("cached") : labels.stageState(record.status)].filter(Boolean).join(" · "));
  if (record.metrics) lines.push("", metricsText(labels, record.metrics));
  const error = record.error ? piecesText(labels.stageError(record.error)) : "";
  if (error) lines.push("", error);
  const synthesis = synthesisOf(record);
  if (record.models.length > 1 || synthesis) {
    for (const output of record.models) lines.push("", ...modelSection(labels, inlineCode(output.model), output));
    if (record.aggregation?.method === "vote") {
      lines.push("", `### ${labels.text("vote")}`, "");
      for (const tally of record.aggregation.tallies) {
        lines.push(`- ${labels.text("tally", { votes: tally.votes, models: tally.models.map(inlineCode).join(", "), answer: inlineCode(tally.answer) })}`);
      }
      if (record.aggregation.tie) lines.push("", labels.text("tie"));
    }
    if (synthesis) lines.push("", ...modelSection(labels, labels.text("synthesisBy", { model: inlineCode(synthesis.model) }), synthesis));
    if (record.output !== undefined) lines.push("", `### ${labels.text("passedOn")}`, "", codeBlock(record.output));
  } else {
    const [only] = record.models;
    if (only) lines.push("", labels.text("model", { model: inlineCode(only.model) }) + (only.error ? ` — ${labels.text("failed", { error: piecesText(labels.stageError(only.error)) })}` : ""));
    if (record.output !== undefined) lines.push("", codeBlock(record.output));
  }
  return lines;
}

/**
 * The session as one Markdown document in its reader's language (`labels`): its facts, the input, each
 * stage in the order the stages ran with its models' answers and figures, and the final answer. Model
 * text is fenced, never read as Markdown; names and ids are inline code.
 */
export function sessionToMarkdown(session: SessionRecord, labels: MarkdownLabels): string {
  const pipeline = session.pipeline as Pick<Pipeline, "stages"> | undefined;
  const facts = [
    // An API call on a model ran a one-stage pipeline of its own, not one of the user's: the call says what ran.
    ...(session.api && neverSaved(session) ? [] : [labels.text(session.inlinePipeline ? "pipelineUnsaved" : "pipeline", { name: inlineCode(session.pipelineName) })]),
    ...(session.api ? [labels.text("apiCall", { model: inlineCode(session.api.model) })] : []),
    labels.text("status", { status: session.status }),
    labels.text("started", { started: labels.dateTime(session.startedAt) }),
    ...(session.durationMs !== undefined ? [labels.text("duration", { duration: labels.ms(session.durationMs) })] : []),
    ...(session.parentRunId ? [labels.text(session.inputEdited ? "branchEdited" : "branch", { parent: inlineCode(session.parentRunId), stage: inlineCode(session.rerunFromStage ?? "?") })] : []),
  ];
  const lines = [`# ${labels.text("title", { id: inlineCode(session.id) })}`, "", ...facts.map((fact) => `- ${fact}`)];
  // A conversation's earlier turns, before its input; a stage is named where the pipeline has several.
  for (const { stageId, turns } of pipelineHistories(session.pipeline)) {
    lines.push("", `## ${(pipeline?.stages.length ?? 0) > 1 ? labels.text("conversationOfStage", { stage: inlineCode(stageId) }) : labels.text("conversation")}`);
    for (const turn of turns) lines.push("", `### ${labels.text(turn.role === "user" ? "userTurn" : "assistantTurn")}`, "", codeBlock(turn.content));
  }
  lines.push("", `## ${labels.text("input")}`, "", codeBlock(session.input));
  stagesInOrder(session).forEach((record, index) => {
    lines.push("", ...stageSection(labels, record, index + 1, pipeline?.stages.find((stage) => stage.id === record.stageId)));
  });
  // A cancel or an interruption is no error: the status and the final answer's line say it.
  if (session.error && session.status === "failed") lines.push("", `## ${labels.text("runError")}`, "", piecesText(labels.runError(session.error)));
  lines.push("", `## ${labels.text("finalAnswer")}`, "", session.finalAnswer !== undefined ? codeBlock(session.finalAnswer) : labels.text("noFinalAnswer", { status: session.status }));
  return `${lines.join("\n")}\n`;
}
