/**
 * node-llama-cpp's exports, each from the module of the package that defines it, not through its index.
 * The index loads every part of the package: with the model downloader (ipull) and its dependencies,
 * ~415 modules, against ~320 for what the inference worker uses and ~70 for the GGUF metadata reader.
 * On this project's 2-core machine that is ~45 ms of each inference worker's cold start (462 against
 * 418 ms, the median of 12 imports each) and ~390 ms of a configuration check that reads a model's
 * quantization (528 against 142 ms; BENCHMARKS.md, "node-llama-cpp's modules by what is used").
 *
 * The package's exports name its index alone, so the modules are found beside it: which file defines
 * each name is read from the index's own `import { … } from "./….js"` lines (tsc's output), not listed
 * here, so a release that moves a class is followed. A name the index does not import plainly that way,
 * or a module that fails to load or lacks the name, is taken from the index itself: slower, the same
 * values. Each module is loaded by the real path of its file, the URL the index's own import of it has:
 * one module instance, the same classes (`instanceof` holds either way; llama-imports.int.test.ts).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type * as NodeLlamaCpp from "node-llama-cpp";

type Exports = typeof NodeLlamaCpp;

/** Node's own `require` where webpack bundled this module (the studio's server): webpack's resolves nothing at run time. */
declare const __non_webpack_require__: NodeJS.Require | undefined;

/** node-llama-cpp's index file (its real path), or undefined where it cannot be found. */
export function nodeLlamaCppIndex(): string | undefined {
  try {
    const nodeRequire = typeof __non_webpack_require__ === "function" ? __non_webpack_require__ : createRequire(import.meta.url);
    return nodeRequire.resolve("node-llama-cpp");
  } catch {
    return undefined;
  }
}

let definedIn: Map<string, string> | undefined;

/** Which module of the package each name the index re-exports comes from (by the index's import lines). */
function modulesByName(): Map<string, string> {
  if (definedIn) return definedIn;
  definedIn = new Map();
  const index = nodeLlamaCppIndex();
  if (index === undefined) return definedIn;
  let source: string;
  try {
    source = readFileSync(index, "utf8");
  } catch {
    return definedIn;
  }
  for (const [, names, file] of source.matchAll(/^import\s*\{([^}]*)\}\s*from\s*"(\.\/[^"]+\.js)";$/gm)) {
    for (const name of names!.split(",").map((part) => part.trim())) {
      // `a as b` and type-only names are left to the index.
      if (/^[A-Za-z_$][\w$]*$/.test(name)) definedIn.set(name, path.join(path.dirname(index), file!));
    }
  }
  return definedIn;
}

const loaded = new Map<string, Promise<Record<string, unknown>>>();

function load(file: string): Promise<Record<string, unknown>> {
  let module = loaded.get(file);
  if (!module) {
    module = import(/* webpackIgnore: true */ /* turbopackIgnore: true */ pathToFileURL(file).href) as Promise<Record<string, unknown>>;
    loaded.set(file, module);
  }
  return module;
}

let fromIndex = 0;

/** How many names came from the index, not their own modules, in this process (for tests). */
export function namesFromIndex(): number {
  return fromIndex;
}

/** The named exports of node-llama-cpp, each loaded with only the modules it needs. */
export async function llamaImports<const Name extends keyof Exports>(...names: Name[]): Promise<Pick<Exports, Name>> {
  const files = modulesByName();
  const picked = await Promise.all(
    names.map(async (name) => {
      const file = files.get(name);
      if (file !== undefined) {
        try {
          const module = await load(file);
          if (module[name] !== undefined) return [name, module[name]] as const;
        } catch {
          // Taken from the index below.
        }
      }
      fromIndex++;
      const index = (await import("node-llama-cpp")) as unknown as Record<string, unknown>;
      return [name, index[name]] as const;
    }),
  );
  return Object.fromEntries(picked) as Pick<Exports, Name>;
}
