/** Session parts as the engine stores them, for tests and benches that write sessions without a run. */
import type { StageRecord } from "../engine/index.js";
import { newRunId, type SessionRecord } from "../store/index.js";

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

const pipelines = ["base", "story", "review", "translate"];
const words = "fox lake woods river cat dog bird moon sun tree house road ship king queen dragon castle garden".split(" ");

/** A session of the shape a three-stage run writes (about 3 KB), started at `time`; `index` varies its words, pipeline and status. */
export function makeRunSession(time: number, index: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const id = newRunId(new Date(time));
  const word = (offset: number) => words[(index * 7 + offset) % words.length]!;
  const text = (stage: number) => `Once upon a time there was a ${word(stage)} who lived by the ${word(stage + 3)}. `.repeat(4);
  const stages: SessionRecord["stages"] = {};
  for (const [position, stageId] of ["draft", "voices", "ending"].entries()) {
    stages[stageId] = makeStageRecord(stageId, text(position), { model: "storyteller", startedAt: time + position * 80, endedAt: time + (position + 1) * 80 });
  }
  return {
    version: 1,
    id,
    pipelineName: pipelines[index % pipelines.length]!,
    input: `Once upon a time there was a ${word(0)} number ${index}`,
    status: index % 10 === 0 ? "failed" : "completed",
    startedAt: new Date(time).toISOString(),
    endedAt: new Date(time + 240).toISOString(),
    durationMs: 240,
    pipeline: { stages: [{ id: "draft", type: "single", model: "storyteller" }] },
    modelsConfig: { models: { storyteller: { file: "stories260K.gguf" } } },
    models: {},
    stages,
    finalAnswer: text(2),
    ...overrides,
  };
}
