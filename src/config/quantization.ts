/**
 * A GGUF file's own quantization, read with node-llama-cpp's metadata reader (plain JavaScript: it loads
 * no native code), to check the `quantization` a model declares. The reader is imported when a file is
 * first read, not with this module, and without the rest of node-llama-cpp (see llama-imports.ts): its
 * whole index, ~415 modules, took ~0.45 s of every CLI command's start (`--help`, `sessions list`), and
 * of a run's check of a configuration that declares a quantization (the reader alone: ~0.1 s).
 */
import { fileMemo } from "../common/index.js";
import { llamaImports } from "../runtime/llama-imports.js";

/**
 * `general.file_type` as node-llama-cpp names it (`MOSTLY_Q4_K_M`, `ALL_F32`), or, for files without one,
 * the tensor type that holds the most weights (`F32`, `Q8_0`).
 */
export const fileQuantization = fileMemo(async (file: string): Promise<string | undefined> => {
  const { GgmlType, GgufFileType, readGgufFileInfo } = await llamaImports("GgmlType", "GgufFileType", "readGgufFileInfo");
  const info = await readGgufFileInfo(file, { logWarnings: false });
  const fileType = (info.metadata as { general?: { file_type?: number } }).general?.file_type;
  if (fileType !== undefined) return (GgufFileType as Record<number, string>)[fileType];
  const weights = new Map<number, number>();
  for (const tensor of info.fullTensorInfo ?? info.tensorInfo ?? []) {
    const count = tensor.dimensions.reduce<number>((product, dimension) => product * Number(dimension), 1);
    weights.set(tensor.ggmlType, (weights.get(tensor.ggmlType) ?? 0) + count);
  }
  const dominant = [...weights.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  return dominant === undefined ? undefined : (GgmlType as Record<number, string>)[dominant];
});

/** Declared and actual agree when one names the other, ignoring case and the MOSTLY_/ALL_ prefix. */
export function quantizationMatches(declared: string, actual: string): boolean {
  const normalise = (value: string) => value.toUpperCase().replace(/^(MOSTLY|ALL)_/, "").replace(/[^A-Z0-9]/g, "");
  return normalise(declared) === normalise(actual);
}
