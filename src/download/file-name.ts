/**
 * Names in the models folder: the file a download writes (a plain name that cannot leave the folder) and
 * the model name it is added under in models.yaml.
 */
import { ProjectLlmError } from "../common/index.js";

const fileNamePattern = /^[A-Za-z0-9][A-Za-z0-9._+-]*\.gguf$/i;
const maxFileNameLength = 200;

/**
 * Checks a model file's name: a plain name of letters, digits, `.`, `_`, `+` and `-` ending in `.gguf`.
 * A name with a folder in it (`/`, `\`, `..`) is refused as such, whether it would leave the models folder
 * or not: the file always goes in the models folder itself.
 */
export function checkModelFileName(name: string, source = "the file name"): string {
  if (/[\\/]/.test(name) || name === "." || name === ".." || name.includes("\0")) {
    throw new ProjectLlmError("usage", `${source} "${name.slice(0, 200)}" is not a plain file name: give a name with no folder in it, such as model.Q4_K_M.gguf (the file goes in the models folder)`, {
      details: { params: { reason: "plain-name", name: name.slice(0, 200) } },
    });
  }
  if (name.length > maxFileNameLength || !fileNamePattern.test(name)) {
    throw new ProjectLlmError("usage", `${source} "${name.slice(0, 200)}" is not a model file name: use up to ${maxFileNameLength} letters, digits, ".", "_", "+" and "-", starting with a letter or digit and ending in .gguf`, {
      details: { params: { reason: "file-name", name: name.slice(0, 200) } },
    });
  }
  return name;
}

/**
 * A model name for models.yaml from a file's name: `Llama-3.2-1B-Instruct-Q4_K_M.gguf` gives
 * `Llama-3.2-1B-Instruct-Q4_K_M`; characters a model name cannot have become "-".
 */
export function modelNameFromFile(fileName: string): string {
  const base = fileName
    .replace(/\.gguf$/i, "")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 64);
  return base.length > 0 ? base : "model";
}

/** `name`, or `name-2`, `name-3`… the first one not in `taken` (at most 64 characters). */
export function freeModelName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  for (let index = 2; ; index++) {
    const suffix = `-${index}`;
    const candidate = `${name.slice(0, 64 - suffix.length)}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}
