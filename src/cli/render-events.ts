/**
 * Renders run events on a terminal: each stage's tokens on stdout under a stage header, a sub-header
 * whenever another model of a multi stage speaks, loading progress and figures on stderr.
 */
import { formatConfigIssue } from "../config/index.js";
import type { RunEvent, RunWarning } from "../engine/index.js";
import { bold, dim, formatDuration, green, red, yellow } from "./format.js";

/** A config warning as one line: "warning: file:line:column: path: message". */
export function writeWarning(stream: NodeJS.WriteStream, warning: RunWarning): void {
  stream.write(`${yellow(stream, "warning:")} ${formatConfigIssue(warning)}\n`);
}

export function createEventRenderer(out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr) {
  let lastSpeaker: string | undefined;
  let atLineStart = true;
  let progressShown = false;
  const stages = new Map<string, { type: string; models: string[] }>();

  const write = (text: string) => {
    if (text.length === 0) return;
    clearProgress();
    out.write(text);
    atLineStart = text.endsWith("\n");
  };
  const newline = () => {
    if (!atLineStart) write("\n");
  };
  const clearProgress = () => {
    if (progressShown && err.isTTY) err.write("\r\u001b[K");
    progressShown = false;
  };

  return (event: RunEvent): void => {
    switch (event.type) {
      case "run-queued":
        err.write(dim(err, `run ${event.runId} · waiting for a place: ${event.ahead} ahead\n`));
        break;
      case "run-start":
        for (const stage of event.stages) stages.set(stage.id, { type: stage.type, models: stage.models });
        err.write(dim(err, `run ${event.runId} · pipeline ${event.pipeline} · ${event.stages.length} stages\n`));
        for (const warning of event.warnings ?? []) writeWarning(err, warning);
        break;
      case "stage-start": {
        const stage = stages.get(event.stageId);
        newline();
        const what = stage ? `${stage.type}: ${stage.models.join(", ")}` : "";
        write(bold(out, `\n── ${event.stageId} ${what ? `(${what}) ` : ""}${event.reused ? "· reused " : ""}──\n`));
        lastSpeaker = undefined;
        break;
      }
      case "stage-load":
        if (err.isTTY) {
          err.write(`\r\u001b[K${dim(err, `loading ${event.model} ${Math.round(event.progress * 100)}%`)}`);
          progressShown = true;
          if (event.done) clearProgress();
        } else if (event.done) {
          err.write(dim(err, `loaded ${event.model}\n`));
        }
        break;
      case "stage-delta": {
        const speaker = `${event.part}:${event.model}`;
        const stage = stages.get(event.stageId);
        if (speaker !== lastSpeaker && (stage?.type === "multi" || event.part === "aggregation")) {
          newline();
          write(dim(out, event.part === "aggregation" ? `[synthesis by ${event.model}]\n` : `[${event.model}]\n`));
        }
        lastSpeaker = speaker;
        write(event.text);
        break;
      }
      case "stage-end": {
        // A stored or cached stage streamed nothing: its text is shown whole.
        if (event.reused || event.cached) write(event.output);
        newline();
        const metrics = event.metrics;
        if (event.cached) {
          err.write(dim(err, `✓ ${event.stageId}: cached (no model called) · ${formatDuration(metrics.durationMs)}\n`));
          break;
        }
        const vote = event.aggregation?.method === "vote" ? ` · vote: ${event.aggregation.tallies.map((tally) => `${tally.votes}×"${tally.answer.slice(0, 30)}"`).join(", ")}` : "";
        err.write(
          dim(err, `✓ ${event.stageId}: ${metrics.tokensOut} tokens · ${metrics.tokensPerSecond.toFixed(0)} tok/s · first token ${formatDuration(metrics.timeToFirstTokenMs)} · ${formatDuration(metrics.durationMs)}${vote}\n`),
        );
        break;
      }
      case "stage-error":
        newline();
        err.write((event.code === "cancelled" ? yellow : red)(err, `✗ ${event.stageId}: ${event.message}\n`));
        break;
      case "run-end":
        newline();
        if (event.status === "completed") {
          write(bold(out, "\n── final answer ──\n"));
          write(`${event.finalAnswer ?? ""}\n`);
          err.write(green(err, `run ${event.runId} completed in ${formatDuration(event.durationMs)}\n`));
        } else {
          err.write(red(err, `run ${event.runId} ${event.status}${event.error ? `: ${event.error.message}` : ""}\n`));
        }
        break;
    }
  };
}

