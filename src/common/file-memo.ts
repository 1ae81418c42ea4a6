import type { Stats } from "node:fs";
import { stat } from "node:fs/promises";

/**
 * Remembers what `compute` found in a file for as long as the file is the same one: same device, inode,
 * size, modification time and change time (a replaced or rewritten file is read again, even one whose
 * modification time was set back, as `cp -p`, `rsync -a` or a restore do: they cannot set the change time). Model files are large and
 * change rarely, while their headers are read before every run: this keeps runs from starting late.
 * A caller that has just stat'ed the file (see `StatOnce`) may pass what it found.
 */
export function fileMemo<T>(compute: (file: string) => Promise<T>, limit = 256): (file: string, known?: Stats) => Promise<T> {
  const cache = new Map<string, { identity: string; value: Promise<T> }>();
  return async (file, known) => {
    let info;
    try {
      info = known ?? (await stat(file));
    } catch {
      // Missing or unreadable: `compute` says why, in its own words.
      return compute(file);
    }
    const identity = `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    const hit = cache.get(file);
    if (hit?.identity === identity) return hit.value;
    const value = compute(file);
    cache.delete(file);
    cache.set(file, { identity, value });
    value.catch(() => {
      if (cache.get(file)?.value === value) cache.delete(file);
    });
    if (cache.size > limit) cache.delete(cache.keys().next().value!);
    return value;
  };
}

/**
 * One stat per file for one operation: a run's checks, its plan and its session's records see each model
 * file as it was when the run began, and ask the disk once (each stat is a trip through the thread pool,
 * on the path to the run's first token).
 */
export class StatOnce {
  readonly #stats = new Map<string, Promise<Stats>>();

  get(file: string): Promise<Stats> {
    let info = this.#stats.get(file);
    if (!info) {
      info = stat(file);
      this.#stats.set(file, info);
    }
    return info;
  }
}
