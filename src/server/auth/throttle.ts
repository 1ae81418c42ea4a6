/**
 * Slows repeated failed logins: after `freeFailures` failed attempts from one client address, that address
 * is locked out for 1 s, then 2 s, 4 s, ... up to 15 minutes, doubling with each further failure, and its
 * attempts are refused at once (429 with Retry-After) without checking the token. A lockout window rather
 * than a delay held on the connection: a delay would keep each guesser's connection (and memory) open,
 * a refusal costs nothing. Tokens carry 192 random bits, so guessing one is hopeless anyway; this keeps a
 * guesser from spending the server's CPU on scrypt and filling its log.
 *
 * The client address is its connection's (see `clientAddress`). All addresses together also have a
 * ceiling, against many machines guessing at once: past `globalFailuresPerMinute` failures in a minute,
 * every check of a token not seen before is refused until the minute has passed (logins already made, by
 * cookie, and tokens that matched before are not affected).
 */
export interface ThrottleOptions {
  freeFailures?: number;
  maxLockoutMs?: number;
  globalFailuresPerMinute?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
}

/** Addresses remembered at most; the oldest is forgotten first. */
const maxEntries = 10_000;

export class LoginThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #freeFailures: number;
  readonly #maxLockoutMs: number;
  readonly #globalPerMinute: number;
  readonly #now: () => number;
  #recent: number[] = [];

  constructor(options: ThrottleOptions = {}) {
    this.#freeFailures = options.freeFailures ?? 5;
    this.#maxLockoutMs = options.maxLockoutMs ?? 15 * 60_000;
    this.#globalPerMinute = options.globalFailuresPerMinute ?? 300;
    this.#now = options.now ?? Date.now;
  }

  /** Seconds until this address may try again, or 0 when it may now. */
  retryAfterS(address: string): number {
    const now = this.#now();
    this.#recent = this.#recent.filter((at) => now - at < 60_000);
    let until = this.#recent.length >= this.#globalPerMinute ? this.#recent[0]! + 60_000 : 0;
    const entry = this.#entries.get(address);
    if (entry) until = Math.max(until, entry.lockedUntil);
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  failed(address: string): void {
    const now = this.#now();
    this.#recent.push(now);
    let entry = this.#entries.get(address);
    // An address quiet for the longest lockout starts over.
    if (entry && now - entry.lastFailure > this.#maxLockoutMs) entry = undefined;
    entry ??= { failures: 0, lockedUntil: 0, lastFailure: now };
    entry.failures += 1;
    entry.lastFailure = now;
    const over = entry.failures - this.#freeFailures;
    if (over > 0) entry.lockedUntil = now + Math.min(this.#maxLockoutMs, 1000 * 2 ** Math.min(over - 1, 30));
    this.#entries.delete(address);
    this.#entries.set(address, entry);
    if (this.#entries.size > maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  succeeded(address: string): void {
    this.#entries.delete(address);
  }
}
