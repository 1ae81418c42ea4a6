/**
 * Work on 100,000 sessions that must not hold the server's event loop: an ordered array that grows at
 * both ends in constant time, and a sort done in slices. Written here because neither is in a well-kept
 * library of the shape the index needs (a plain array of its summaries, walked by position).
 */

/** Yields to the event loop: timers, I/O and other requests run before the work goes on. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * An array kept as two halves, the front one reversed, so that an item put first or last costs the same:
 * a rebuild of the index adds its sessions newest first (each one before all others), and runs add theirs
 * last. With one array each of the rebuild's 100,000 insertions moved all the items before it: 5 s of CPU.
 */
export class TwoEndedArray<T> {
  /** Items 0 .. front.length - 1, last one first. */
  #front: T[] = [];
  /** The items after those. */
  #back: T[] = [];

  get length(): number {
    return this.#front.length + this.#back.length;
  }

  /** The item at `position` (0 <= position < length). */
  at(position: number): T {
    const front = this.#front.length;
    return (position < front ? this.#front[front - 1 - position] : this.#back[position - front]) as T;
  }

  /** Replaces the item at `position`. */
  replace(position: number, item: T): void {
    const front = this.#front.length;
    if (position < front) this.#front[front - 1 - position] = item;
    else this.#back[position - front] = item;
  }

  /** Puts `item` at `position` (0 <= position <= length): the items from there on move one place on. */
  insert(position: number, item: T): void {
    const front = this.#front.length;
    if (position === 0) this.#front.push(item);
    else if (position >= this.length) this.#back.push(item);
    else if (position <= front) this.#front.splice(front - position, 0, item);
    else this.#back.splice(position - front, 0, item);
  }

  /** Removes the item at `position`. */
  remove(position: number): void {
    const front = this.#front.length;
    if (position < front) this.#front.splice(front - 1 - position, 1);
    else this.#back.splice(position - front, 1);
  }

  clear(): void {
    this.#front = [];
    this.#back = [];
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let position = this.#front.length - 1; position >= 0; position--) yield this.#front[position]!;
    yield* this.#back;
  }
}

export interface SliceOptions {
  /** Steps of work between two turns of the event loop (default 10,000: a few ms). */
  sliceSize?: number;
  /** How a slice ends (default: `nextTurn`). */
  pause?: () => Promise<void>;
}

/**
 * `items` sorted by `compare` (stably) into a new array, by a merge sort that yields to the event loop
 * every `sliceSize` steps: `Array.prototype.sort` of the 100,000 names of a sessions folder held the loop
 * for 90 ms at once.
 */
export async function sortInSlices<T>(items: readonly T[], compare: (a: T, b: T) => number, options: SliceOptions = {}): Promise<T[]> {
  const sliceSize = options.sliceSize ?? 10_000;
  const pause = options.pause ?? nextTurn;
  const count = items.length;
  let source = [...items];
  let target = new Array<T>(count);
  let steps = 0;
  for (let width = 1; width < count; width *= 2) {
    for (let start = 0; start < count; start += 2 * width) {
      const middle = Math.min(start + width, count);
      const end = Math.min(start + 2 * width, count);
      let left = start;
      let right = middle;
      for (let next = start; next < end; next++) {
        target[next] = left < middle && (right >= end || compare(source[left]!, source[right]!) <= 0) ? source[left++]! : source[right++]!;
        if (++steps >= sliceSize) {
          steps = 0;
          await pause();
        }
      }
    }
    [source, target] = [target, source];
  }
  return source;
}
