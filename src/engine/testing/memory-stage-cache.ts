/**
 * An in-memory StageCachePort for the engine's unit tests: entries by the key's canonical JSON, with a
 * record of every lookup and store. The studio's own cache keeps its entries on disk (src/store/stage-cache.ts).
 */
import stringify from "fast-json-stable-stringify";
import type { StageRecord } from "../events.js";
import type { StageCacheKey, StageCachePort } from "../stage-cache.js";

export type MemoryStageCache = StageCachePort & {
  entries: Map<string, StageRecord>;
  gets: StageCacheKey[];
  puts: StageCacheKey[];
};

export function createMemoryStageCache(): MemoryStageCache {
  const entries = new Map<string, StageRecord>();
  const gets: StageCacheKey[] = [];
  const puts: StageCacheKey[] = [];
  return {
    entries,
    gets,
    puts,
    get(key) {
      gets.push(key);
      const record = entries.get(stringify(key));
      return Promise.resolve(record && structuredClone(record));
    },
    put(key, record) {
      puts.push(key);
      entries.set(stringify(key), structuredClone(record));
      return Promise.resolve();
    },
  };
}
