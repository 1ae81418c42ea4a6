/**
 * Run ids, with no Node-only import, so that the browser can make one too (the studio names a run before
 * it asks the server to start it, and follows its events at once).
 */
const runIdPattern = /^\d{8}-\d{6}-[0-9a-f]{6}$/;

/** How many suffixes 6 hex digits hold. */
const suffixCount = 0x1000000;

function randomSuffix(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]! % suffixCount;
}

// Each process (or page) walks the suffixes from a random one by a random odd step: an odd step is prime to
// their count, so no suffix comes back before all 16,777,216 have been given out. Random suffixes alone
// would repeat within one second once in 34 runs of 1,000 ids.
let nextSuffix = randomSuffix();
const suffixStep = randomSuffix() | 1;

/**
 * A new run id: the UTC date and time to the second, then 6 hex digits (`20261124-120102-3fa9c1`). Ids
 * sort by start time as strings, and are safe as file names. The ids one process makes never repeat (a
 * suffix comes back only after 16,777,216 ids); two processes (the CLI and the studio, two pages) pick their
 * suffixes at random, so two ids they make in the same second are the same once in 16,777,216 (a store
 * refuses to create a session whose id is taken).
 */
export function newRunId(date = new Date()): string {
  const stamp = date.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const suffix = nextSuffix;
  nextSuffix = (nextSuffix + suffixStep) % suffixCount;
  return `${stamp}-${suffix.toString(16).padStart(6, "0")}`;
}

/** True for a well-formed run id (`YYYYMMDD-HHMMSS-xxxxxx`, lower-case hex), and for nothing else. */
export function isValidRunId(id: unknown): id is string {
  return typeof id === "string" && runIdPattern.test(id);
}
