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
 * `loadModel` make their own; GGUF parsing is node-llama-cpp's. Another major version of node-llama-cpp,
 * or a reader whose internals are not what this expects, is left as it is (reads as slow as they were;
 * gguf-read.int.test.ts then fails, so that the patch is looked at again).
 */
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

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
      // The package exports only its index: the reader's module is found beside it (the same file the
      // index imports, so the same class).
      const require = createRequire(import.meta.url);
      const index = require.resolve("node-llama-cpp");
      const { version } = require(path.join(path.dirname(index), "..", "package.json")) as { version?: string };
      if (!version?.startsWith("3.")) return false;
      const file = path.join(path.dirname(index), "gguf", "fileReaders", "GgufFileReader.js");
      const { GgufFileReader } = (await import(pathToFileURL(file).href)) as { GgufFileReader?: { prototype: ReaderPrototype } };
      const prototype = GgufFileReader?.prototype;
      const original = prototype?._addToBuffer;
      if (!prototype || typeof original !== "function" || original.length !== 1) return false;
      prototype._addToBuffer = function (this: ReaderState, buffer: Buffer) {
        if (this._buffer instanceof Buffer && this._buffer.byteLength === 0) {
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
