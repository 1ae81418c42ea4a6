/** Sizes for people, in binary units; shared by the CLI and the browser (no Node-only import here). */
export function formatBytes(bytes: number | undefined, missing = "—"): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return missing;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
