/**
 * Synthetic sessions, named as such (pipeline "synthetic-stream"), never shown as real runs: a stream of
 * text events to measure or follow with no model running. Replayed with `pace=recorded`, a session of
 * `count` events `gapMs` apart streams for `count * gapMs` ms (gaps capped at a second).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { RunEvent } from "../engine/index.js";
import type { SessionRecord } from "../store/index.js";

export interface SyntheticOptions {
  /** Text events. */
  count: number;
  /** Words in each text event (" w1", " w2", ..., a line break after every twelfth). */
  tokensPerEvent: number;
  /** Time between two text events, as recorded. */
  gapMs: number;
}

/** A completed session of one stage whose text came in `count` events. */
export function syntheticSession(id: string, { count, tokensPerEvent, gapMs }: SyntheticOptions): SessionRecord {
  const startedAt = Date.UTC(2000, 0, 1);
  const events: RunEvent[] = [
    { type: "run-start", runId: id, seq: 0, at: startedAt, pipeline: "synthetic-stream", input: "synthetic", reusedStageIds: [], stages: [{ id: "only", type: "single", models: ["storyteller"], inputFrom: [] }] },
    { type: "stage-start", runId: id, seq: 1, at: startedAt, stageId: "only", input: "synthetic", reused: false },
  ];
  let word = 0;
  let answer = "";
  for (let index = 0; index < count; index++) {
    const text = Array.from({ length: tokensPerEvent }, () => (++word % 12 === 0 ? ` w${word}\n` : ` w${word}`)).join("");
    answer += text;
    events.push({ type: "stage-delta", runId: id, seq: events.length, at: startedAt + index * gapMs, stageId: "only", model: "storyteller", part: "model", text });
  }
  const durationMs = count * gapMs;
  const end = startedAt + durationMs;
  const metrics = { tokensIn: 1, tokensOut: count * tokensPerEvent, timeToFirstTokenMs: 0, tokensPerSecond: (count * tokensPerEvent) / (durationMs / 1000), durationMs };
  const models = [{ model: "storyteller", prompt: "synthetic", answer, params: {}, metrics, stopReason: "maxTokens" as const, chat: false }];
  events.push({ type: "stage-end", runId: id, seq: events.length, at: end, stageId: "only", reused: false, output: answer, answer, metrics, models });
  events.push({ type: "run-end", runId: id, seq: events.length, at: end, status: "completed", finalAnswer: answer, durationMs });
  return {
    version: 1,
    id,
    pipelineName: "synthetic-stream",
    input: "synthetic",
    status: "completed",
    startedAt: new Date(startedAt).toISOString(),
    endedAt: new Date(end).toISOString(),
    durationMs,
    pipeline: { stages: [{ id: "only", type: "single", model: "storyteller", params: {}, output_mode: "answer_only" }] },
    modelsConfig: {},
    models: {},
    stages: { only: { stageId: "only", status: "completed", reused: false, output: answer, answer, metrics, models } },
    finalAnswer: answer,
    events,
  };
}

/** Writes `syntheticSession(id, options)` into the sessions folder `folder`. */
export async function writeSyntheticSession(folder: string, id: string, options: SyntheticOptions): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, `${id}.json`), JSON.stringify(syntheticSession(id, options)));
}
