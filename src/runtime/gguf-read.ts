/**
 * node-llama-cpp's GGUF metadata reader (`readGgufFileInfo`, also called by `loadModel`) grows its
 * buffer by reading what it needs plus 4 MiB, then copying the buffer it had and the bytes read into a
 * new one (`GgufFileReader._addToBuffer`). The first growth copies an empty buffer: the new one, 4 MiB
 * and more, is written whole, and the one read is read whole (its pages past the file's end too). Where a
 * process's first touch of memory is slow (this machine's virtual machine: ~15 ms for 4 MiB), that copy
 * was most of a small model's read (~25 of the 40-68 ms of stories260K's 1.2 MB), and a cold run reads
 * its model twice (the plan's insights, then `loadModel`'s own): stories260K's `loadModel` in a cold run
 * 37 ms against 66 (BENCHMARKS.md, "A model's GGUF header, read without a copy").
 *
 * `lightenFirstGgufRead` makes a reader's first growth keep the bytes it read as its buffer: the same
 * bytes (each reader's buffers are its own and never written after they are read). Later growths copy as
 * before. Patched here, not reimplemented: the reader is not exported, and `readGgufFileInfo` and
 * `loadModel` make their own; GGUF parsing is node-llama-cpp's. It is patched only where node-llama-cpp
 * is of major version 3 and a new reader of that class starts with an empty buffer and appends two
 * buffers by copying them into one (tried on a probe first); elsewhere reads are left as they were, and
 * gguf-read.int.test.ts fails.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { nodeLlamaCppIndex } from "./llama-imports.js";

interface ReaderState {
  _buffer: Buffer;
}

interface ReaderPrototype {
  _addToBuffer?: (this: ReaderState, buffer: Buffer) => void;
}

let lightened: Promise<boolean> | undefined;
let firstGrowths = 0;

/** Patches node-llama-cpp's GGUF reader once per process; whether it could. */
export function lightenFirstGgufRead(): Promise<boolean> {
  lightened ??= (async () => {
    try {
      // The package's exports name neither the reader nor its package.json: both are found beside its
      // index, by the real path both resolvers give (the file the index's own imports load: one class).
      const index = nodeLlamaCppIndex();
      if (index === undefined) return false;
      const { version } = JSON.parse(readFileSync(path.join(path.dirname(index), "..", "package.json"), "utf8")) as { version?: string };
      if (!version?.startsWith("3.")) return false;
      const file = path.join(path.dirname(index), "gguf", "fileReaders", "GgufFileReader.js");
      const { GgufFileReader } = (await import(pathToFileURL(file).href)) as { GgufFileReader?: { new (): ReaderState; prototype: ReaderPrototype } };
      const prototype = GgufFileReader?.prototype;
      const original = prototype?._addToBuffer;
      if (!GgufFileReader || !prototype || typeof original !== "function") return false;
      // What keeping the first buffer relies on: a reader starts empty and appends by copying.
      const probe = new GgufFileReader();
      if (!Buffer.isBuffer(probe._buffer) || probe._buffer.byteLength !== 0) return false;
      const [first, second] = [Buffer.from([1, 2]), Buffer.from([3])];
      original.call(probe, first);
      original.call(probe, second);
      if (probe._buffer === first || !probe._buffer.equals(Buffer.from([1, 2, 3]))) return false;
      prototype._addToBuffer = function (this: ReaderState, buffer: Buffer) {
        if (Buffer.isBuffer(buffer) && Buffer.isBuffer(this._buffer) && this._buffer.byteLength === 0) {
          firstGrowths++;
          this._buffer = buffer;
          return;
        }
        original.call(this, buffer);
      };
      return true;
    } catch {
      return false;
    }
  })();
  return lightened;
}

/** How many reads' first growths kept their bytes without a copy (for tests). */
export function firstGrowthsKept(): number {
  return firstGrowths;
}
