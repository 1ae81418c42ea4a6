/**
 * Access tokens: made from the system's random source, kept only as salted scrypt hashes, compared in
 * constant time. node:crypto has all of it; no library is needed.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/**
 * A token is its id (12 characters, stored in the clear to find its user without hashing every user's
 * token) followed by its secret (32 characters, 192 bits), all URL-safe base64: it goes in a link.
 */
const idLength = 12;

export interface TokenHash {
  /** The token's first characters: which user it is, not a secret. */
  tokenId: string;
  salt: string;
  hash: string;
}

/** scrypt's defaults (N = 16384, r = 8): about 50 ms a check; every check after a login is a cookie's HMAC. */
const keyLength = 32;

function derive(token: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(token, salt, keyLength, (error, key) => (error ? reject(error) : resolve(key))));
}

/** A new token, and the hash to keep of it (the token itself is shown once and never stored). */
export async function newToken(): Promise<{ token: string; stored: TokenHash }> {
  const tokenId = randomBytes(9).toString("base64url");
  const token = tokenId + randomBytes(24).toString("base64url");
  const salt = randomBytes(16);
  const hash = await derive(token, salt);
  return { token, stored: { tokenId, salt: salt.toString("base64url"), hash: hash.toString("base64url") } };
}

/** The id part of a token, or undefined for a string that is no token. */
export function tokenIdOf(token: string): string | undefined {
  return /^[A-Za-z0-9_-]{44}$/.test(token) ? token.slice(0, idLength) : undefined;
}

/** True when `token` is the one `stored` was made from. */
export async function tokenMatches(token: string, stored: TokenHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, "base64url");
  const actual = await derive(token, Buffer.from(stored.salt, "base64url"));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
