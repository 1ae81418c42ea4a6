/**
 * The login cookie: a signed value, not a session kept in memory, so that logins outlive a restart of the
 * studio. It holds the user's name, their token's id (not the token: that is never stored anywhere) and
 * when they logged in, signed with HMAC-SHA256 under a key made once and kept in the data folder (0600).
 * A revoked user, or one given a new token, has no user with that token id any more: their cookies stop
 * working at the next request.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import path from "node:path";

export const cookieName = "project_llm_login";
/** How long a login lasts (Jupyter's default is 14 days; a studio on a team's box is opened daily). */
export const loginMaxAgeS = 30 * 24 * 3600;

interface LoginClaims {
  /** User name. */
  u: string;
  /** Token id. */
  t: string;
  /** Issued at, seconds since the epoch. */
  i: number;
}

export class CookieSigner {
  readonly #file: string;
  #key: Promise<Buffer> | undefined;

  constructor(dataDir: string) {
    this.#file = path.join(dataDir, "cookie-secret");
  }

  /** The signing key: read from the data folder, made there on first use. */
  #signingKey(): Promise<Buffer> {
    this.#key ??= (async () => {
      try {
        return Buffer.from((await readFile(this.#file, "utf8")).trim(), "base64url");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
      await mkdir(path.dirname(this.#file), { recursive: true, mode: 0o700 });
      const key = randomBytes(32);
      try {
        // "wx": two processes starting at once keep the first key written.
        const handle = await open(this.#file, "wx", 0o600);
        await handle.writeFile(key.toString("base64url"));
        await handle.close();
        return key;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        return Buffer.from((await readFile(this.#file, "utf8")).trim(), "base64url");
      }
    })();
    this.#key.catch(() => (this.#key = undefined));
    return this.#key;
  }

  async sign(user: string, tokenId: string, now = Date.now()): Promise<string> {
    const claims: LoginClaims = { u: user, t: tokenId, i: Math.floor(now / 1000) };
    const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return `${body}.${createHmac("sha256", await this.#signingKey()).update(body).digest("base64url")}`;
  }

  /** The claims of a well-signed, unexpired cookie value, else undefined. */
  async verify(value: string, now = Date.now()): Promise<{ user: string; tokenId: string } | undefined> {
    const [body, signature, extra] = value.split(".");
    if (!body || !signature || extra !== undefined || value.length > 512) return undefined;
    // Compared as text: a base64url decoder ignores the last character's spare bits, so a signature with
    // them changed would decode to the same bytes; only the one spelling the signature makes is good.
    const expected = Buffer.from(createHmac("sha256", await this.#signingKey()).update(body).digest("base64url"));
    const actual = Buffer.from(signature);
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as LoginClaims;
      if (typeof claims.u !== "string" || typeof claims.t !== "string" || typeof claims.i !== "number") return undefined;
      if (now / 1000 - claims.i > loginMaxAgeS || claims.i > now / 1000 + 60) return undefined;
      return { user: claims.u, tokenId: claims.t };
    } catch {
      return undefined;
    }
  }
}
