import { fileQuantization, type NewModelEntry } from "../config/index.js";

/**
 * The models.yaml entry of a downloaded file: its name, its file, the quantization the file says it has
 * (`Q4_K_M`, `F32`) and a comment saying where it came from (an address without its query, which may
 * hold a signed token).
 */
export async function downloadedModelEntry(options: { name: string; fileName: string; path: string; uri: string; now?: Date }): Promise<NewModelEntry> {
  const quantization = await fileQuantization(options.path).catch(() => undefined);
  const source = /^https?:/i.test(options.uri) ? options.uri.replace(/[?#].*$/, "") : options.uri;
  const day = (options.now ?? new Date()).toISOString().slice(0, 10);
  return {
    name: options.name,
    file: options.fileName,
    quantization: quantization?.replace(/^(MOSTLY|ALL)_/, ""),
    comment: `downloaded from ${source} on ${day}`,
  };
}
