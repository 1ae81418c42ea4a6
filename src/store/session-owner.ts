/**
 * Which process runs a session. The studio and the CLI share a sessions folder, and a studio that starts
 * marks `interrupted` the sessions left `running` by a process that stopped mid-run: it must tell those
 * from a run another process (a CLI run) still has in progress.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { z } from "zod";

export const sessionOwnerSchema = z.object({
  /** The host name of the machine (or container) the process runs on. */
  host: z.string(),
  pid: z.number().int().positive(),
  /**
   * What tells the process from a later one given the same pid: on Linux, the boot's id and the process's
   * start time in clock ticks since boot (`/proc`); absent where there is no `/proc`.
   */
  start: z.string().optional(),
});
export type SessionOwner = z.infer<typeof sessionOwnerSchema>;

/** This boot's id; false where there is none to read. */
let bootId: string | false | undefined;

function readQuietly(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The start of a process of this host (see `SessionOwner.start`), or undefined where it cannot be read. */
function processStart(pid: number): string | undefined {
  bootId ??= readQuietly("/proc/sys/kernel/random/boot_id")?.trim() || false;
  if (bootId === false) return undefined;
  const stat = readQuietly(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command's name (in parentheses) may hold spaces and parentheses: the fields after its last ")"
  // are fields 3 onwards, and the start time is field 22.
  const ticks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  return ticks === undefined ? undefined : `${bootId}/${ticks}`;
}

let ownRecord: SessionOwner | undefined;

/** The owner record of a process of this host: this one by default. */
export function processOwner(pid = process.pid): SessionOwner {
  if (pid === process.pid && ownRecord) return { ...ownRecord };
  const start = processStart(pid);
  const owner = { host: os.hostname(), pid, ...(start === undefined ? {} : { start }) };
  if (pid === process.pid) ownRecord = owner;
  return { ...owner };
}

/**
 * Whether a session's owner is another process of this host that is still running, so that the session's
 * run is still in progress there. False for this process itself, for a process that is gone (or whose pid
 * another process has since: its start differs), and for another host's (there is no asking it).
 *
 * Where there is no `/proc` to read the start from, a pid given to another process since counts as the
 * owner: its session stays `running` until that process ends too.
 */
export function runsElsewhere(owner: SessionOwner | undefined): boolean {
  if (!owner || owner.host !== os.hostname() || owner.pid === process.pid) return false;
  try {
    // Signal 0 sends nothing: it asks whether the process exists.
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: it exists, run by another user.
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  if (owner.start === undefined) return true;
  const start = processStart(owner.pid);
  return start === undefined || start === owner.start;
}
