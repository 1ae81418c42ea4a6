/**
 * `runtime.batch: auto` on a CPU: whether the calls of a multi stage that share one loaded model decode in
 * one batch or one after another, chosen per loaded model by what each way measured on this machine. On
 * a quiet machine a batch was as fast or faster on every model tried on 2026-11-30 (BENCHMARKS.md,
 * "Batching": 1.01-1.37x); on 2026-12-02's machine, at one thread, it was slower on the 27M model (0.79x
 * busy, 0.83x quiet) and on the 400M one when quiet (0.83x; 1.07x with both cores busy), about as fast
 * on stories260K (1.01x, 1.06x busy), and faster on the 400M one at two threads (1.19x). Which one wins depends on the CPU, the model, the threads and what else runs,
 * so no fixed rule is the better of the two everywhere.
 *
 * A group (the K calls of one multi stage, see `GenerateRequest.group`) is timed from its first call's
 * start to its last call's end: its tokens out over that time. The two ways are compared in pairs of
 * groups next to each other in time, one each way: the rate of a model's groups moved between rounds
 * more than the two ways differ (0.5x to 1.4x of its median on a quiet machine, and a machine that got
 * busy halved it), and two groups side by side see the same machine. A model's groups take each way in
 * turn, batched first, until `firstPairs` pairs are measured; from then on they take the way the median of
 * the last `keptPairs` pairs favours, and now and then the other way (which makes a pair with the group
 * before it and one with the group after it), so that a change is seen: every `exploreEvery`-th group
 * where the two ways are close, every `exploreClearEvery`-th where one is faster by `clearRatio` or more
 * (a check there costs that much, and is less likely to change the choice). A group during which the model
 * was loaded, or one that failed, is not counted, nor a model's first batch since it was loaded (see the
 * supervisor's `#batchedBefore`), nor a pair of groups further apart than `pairWithinMs`. The figures are
 * kept in a file beside the memory estimates, so that a restarted studio does not measure again from
 * nothing; the file is JSON, written whole to a temporary file and renamed, merged with what another
 * process wrote there meanwhile (a lost one costs a few groups of measuring).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tempFileFor } from "../common/durable-write.js";

export type BatchWay = "batched" | "one-at-a-time";

/** Pairs kept per model: the median of their ratios decides. */
export const keptPairs = 5;
/** Pairs measured before the faster way is taken: one is not enough, the rounds' spread is wider than the ways' difference. */
export const firstPairs = 3;
/** Every this many groups on a model, the way that is not chosen is measured again, where the two are close. */
export const exploreEvery = 8;
/** The same where one way is faster by `clearRatio` or more. */
export const exploreClearEvery = 32;
export const clearRatio = 1.15;
/** Two groups further apart than this make no pair: the machine may have changed between them. */
export const pairWithinMs = 10 * 60 * 1000;
/** Models kept in the file (the least recently used go first). */
const maxModels = 256;
const saveDelayMs = 50;

interface ModelFigures {
  /** Batched over one at a time, by pairs of groups next to each other (newest last). */
  ratios: number[];
  /** The last group counted: its way, its rate and when it ended. */
  last?: { way: BatchWay; rate: number; at: number };
  /** Groups chosen since the way not chosen was last taken. */
  sinceOther: number;
  usedAt: number;
}

export interface BatchFigures {
  /** Batched over one at a time, by pairs of groups (newest last): above 1, a batch was faster. */
  ratios: number[];
  /** The way the next group would take, without counting it (see `BatchChooser.choose`). */
  next: BatchWay;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const isPositive = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value) && value > 0;
const other = (way: BatchWay): BatchWay => (way === "batched" ? "one-at-a-time" : "batched");

function parse(text: string): Map<string, ModelFigures> {
  const figures = new Map<string, ModelFigures>();
  try {
    const data = JSON.parse(text) as { version?: unknown; models?: unknown };
    if (data?.version !== 2 || typeof data.models !== "object" || data.models === null) return figures;
    for (const [key, value] of Object.entries(data.models as Record<string, Partial<ModelFigures>>)) {
      const { ratios, last, sinceOther, usedAt } = value ?? {};
      if (!Array.isArray(ratios) || ratios.length > keptPairs || !ratios.every(isPositive) || typeof sinceOther !== "number" || !Number.isInteger(sinceOther) || sinceOther < 0 || !isPositive(usedAt)) continue;
      const lastValid = typeof last === "object" && last !== null && (last.way === "batched" || last.way === "one-at-a-time") && isPositive(last.rate) && isPositive(last.at);
      figures.set(key, { ratios, sinceOther, usedAt, ...(lastValid ? { last } : {}) });
    }
  } catch {
    // Not what `save` writes: measured again.
  }
  return figures;
}

export class BatchChooser {
  readonly #file: string | undefined;
  #figures: Map<string, ModelFigures> | undefined;
  #saveTimer: NodeJS.Timeout | undefined;

  /** `file`: where the figures are kept between runtimes; unset: in memory only. */
  constructor(file?: string) {
    this.#file = file;
  }

  #all(): Map<string, ModelFigures> {
    if (this.#figures) return this.#figures;
    let text = "";
    try {
      if (this.#file) text = readFileSync(this.#file, "utf8");
    } catch {
      // No file yet.
    }
    this.#figures = parse(text);
    return this.#figures;
  }

  #of(key: string): ModelFigures {
    const all = this.#all();
    let figures = all.get(key);
    if (!figures) {
      figures = { ratios: [], sinceOther: 0, usedAt: Date.now() };
      all.set(key, figures);
    }
    return figures;
  }

  /** The way the next group on this loaded model takes (`key`: its file and load settings); counts it. */
  choose(key: string): BatchWay {
    const figures = this.#of(key);
    figures.usedAt = Date.now();
    const way = wayFor(figures);
    if (figures.ratios.length >= firstPairs) figures.sinceOther = way === betterOf(figures) ? figures.sinceOther + 1 : 0;
    return way;
  }

  /** A group's tokens out per second, the way it ran; `at`: when it ended (ms since the epoch). */
  record(key: string, way: BatchWay, tokensPerSecond: number, at = Date.now()): void {
    if (!isPositive(tokensPerSecond)) return;
    const figures = this.#of(key);
    const last = figures.last;
    if (last !== undefined && last.way !== way && at - last.at <= pairWithinMs) {
      figures.ratios.push(way === "batched" ? tokensPerSecond / last.rate : last.rate / tokensPerSecond);
      if (figures.ratios.length > keptPairs) figures.ratios.shift();
    }
    figures.last = { way, rate: tokensPerSecond, at };
    this.#scheduleSave();
  }

  /** What is measured for a loaded model, and the way its next group would take. */
  figures(key: string): BatchFigures {
    const figures = this.#all().get(key) ?? { ratios: [], sinceOther: 0, usedAt: 0 };
    return { ratios: [...figures.ratios], next: wayFor(figures) };
  }

  /** Writes what is pending now (a runtime being disposed). */
  flush(): void {
    if (this.#saveTimer === undefined) return;
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    this.#save();
  }

  #scheduleSave(): void {
    if (!this.#file || this.#saveTimer !== undefined) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#save();
    }, saveDelayMs);
    this.#saveTimer.unref();
  }

  #save(): void {
    const file = this.#file;
    if (!file) return;
    // Another process (the CLI beside a studio) may have written its own models since this one read the
    // file: theirs are kept, and of a model both have, the one used last.
    let written = new Map<string, ModelFigures>();
    try {
      written = parse(readFileSync(file, "utf8"));
    } catch {
      // No file yet.
    }
    for (const [key, figures] of this.#all()) {
      const theirs = written.get(key);
      if (theirs === undefined || theirs.usedAt <= figures.usedAt) written.set(key, figures);
      else this.#all().set(key, theirs);
    }
    const kept = [...written].filter(([, figures]) => figures.last !== undefined);
    kept.sort(([, a], [, b]) => b.usedAt - a.usedAt);
    const temp = tempFileFor(file);
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(temp, JSON.stringify({ version: 2, models: Object.fromEntries(kept.slice(0, maxModels)) }));
      renameSync(temp, file);
    } catch {
      // A folder that cannot be written: the figures stay in memory.
      rmSync(temp, { force: true });
    }
  }
}

const betterOf = (figures: ModelFigures): BatchWay => (median(figures.ratios) >= 1 ? "batched" : "one-at-a-time");

function wayFor(figures: ModelFigures): BatchWay {
  // Turn about, batched first, until the first pairs are measured.
  if (figures.ratios.length < firstPairs) return figures.last === undefined ? "batched" : other(figures.last.way);
  const better = betterOf(figures);
  const ratio = median(figures.ratios);
  const every = ratio >= clearRatio || ratio <= 1 / clearRatio ? exploreClearEvery : exploreEvery;
  return figures.sinceOther + 1 >= every ? other(better) : better;
}
