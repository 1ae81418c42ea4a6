/** Session parts as the engine stores them, for tests and benches that write sessions without a run. */
import type { StageRecord } from "../engine/index.js";

const metrics = { tokensIn: 4, tokensOut: 3, timeToFirstTokenMs: 2, tokensPerSecond: 1500, durationMs: 4 };

/** A completed stage record, as the engine stores it: one model (`tiny` unless told) wrote `output`. */
export function makeStageRecord(stageId: string, output: string, options: { model?: string; startedAt?: number; endedAt?: number } = {}): StageRecord {
  return {
    stageId,
    status: "completed",
    reused: false,
    input: "Once upon a time",
    output,
    answer: output,
    metrics,
    models: [{ model: options.model ?? "tiny", prompt: "Once upon a time", answer: output, params: { temperature: 0 }, metrics, stopReason: "eos", chat: false }],
    startedAt: options.startedAt ?? 1,
    endedAt: options.endedAt ?? 5,
  };
}
