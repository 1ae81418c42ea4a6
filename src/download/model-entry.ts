import { fileQuantization, type NewModelEntry } from "../config/index.js";
import { displayAddress } from "./model-uri.js";

/**
 * The models.yaml entry of a downloaded file: its name, its file, the quantization the file says it has
 * (`Q4_K_M`, `F32`) and a comment saying where it came from (see `displayAddress`: no signed token).
 */
export async function downloadedModelEntry(options: { name: string; fileName: string; path: string; uri: string; now?: Date }): Promise<NewModelEntry> {
  const quantization = await fileQuantization(options.path).catch(() => undefined);
  const day = (options.now ?? new Date()).toISOString().slice(0, 10);
  return {
    name: options.name,
    file: options.fileName,
    quantization: quantization?.replace(/^(MOSTLY|ALL)_/, ""),
    comment: `downloaded from ${displayAddress(options.uri)} on ${day}`,
  };
}
