import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import path from "node:path";

/** Temp files of `writeFileDurably` end with this; a folder's owner may sweep them on start. */
export const tempSuffix = ".tmp";

/** A temp file beside `file`, named so that no two writers, in this process or another, take the same. */
export function tempFileFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString("hex")}${tempSuffix}`);
}

/**
 * Writes a file so that a crash leaves either its old content or the new one, never a torn file: write a
 * temp file in the same folder, fsync it, rename it over the target, then fsync the folder so that the
 * rename itself survives a power cut. `sync: false` leaves out both fsyncs: the file is still replaced
 * whole or not at all, but a power cut may lose the write.
 */
export async function writeFileDurably(file: string, content: string, options: { sync?: boolean } = {}): Promise<void> {
  const sync = options.sync !== false;
  const temp = tempFileFor(file);
  const handle = await open(temp, "wx", 0o600);
  try {
    try {
      await handle.writeFile(content, "utf8");
      if (sync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    // The write's own error is the one to tell.
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  if (sync) await syncDirectory(path.dirname(file));
}

export async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch (error) {
    // Some platforms and file systems (Windows, some network mounts) cannot open or fsync a folder.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EBADF") throw error;
  } finally {
    await handle?.close();
  }
}

