/**
 * Run ids, with no Node-only import, so that the browser can make one too (the studio names a run before
 * it asks the server to start it, and follows its events at once).
 */
const runIdPattern = /^\d{8}-\d{6}-[0-9a-f]{6}$/;

/**
 * A new run id: the UTC date and time to the second, then 6 random hex digits
 * (`20261124-120102-3fa9c1`). Ids sort by start time as strings, and are safe as file names.
 */
export function newRunId(date = new Date()): string {
  const stamp = date.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const random = globalThis.crypto.getRandomValues(new Uint8Array(3));
  return `${stamp}-${Array.from(random, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

/** True for a well-formed run id (`YYYYMMDD-HHMMSS-xxxxxx`, lower-case hex), and for nothing else. */
export function isValidRunId(id: unknown): id is string {
  return typeof id === "string" && runIdPattern.test(id);
}
