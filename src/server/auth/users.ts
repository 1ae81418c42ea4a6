/**
 * The users of a studio with access control: `users.json` in the data folder (PROJECT_LLM_DATA_DIR,
 * default `data/`), never in the config folder (configs are shared and committed; tokens are not). The
 * file holds each user's name, role and the scrypt hash of their token, written whole (temp file, fsync,
 * rename) with mode 0600. The CLI and the server both write it, each change under a lock on the file
 * (see `#change`); the server reads it again whenever it changes, so a user added or revoked from the
 * CLI counts at the next request (and ends their open streams: see `revocation.ts`).
 */
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { lock } from "proper-lockfile";
import { z } from "zod";
import { ProjectLlmError, fileMemo, writeFileDurably } from "../../common/index.js";
import { localIdentity, roles, type Identity, type Role } from "./roles.js";
import { newToken, tokenIdOf, tokenMatches } from "./tokens.js";

/** The data folder: `PROJECT_LLM_DATA_DIR`, else `data` (relative paths against `cwd`). */
export function dataDirectory(env: Record<string, string | undefined>, cwd: string): string {
  return path.resolve(/*turbopackIgnore: true*/ cwd, env.PROJECT_LLM_DATA_DIR || "data");
}

/** A user's name: shown in History and the header, so short and plain. */
export const userNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

const userSchema = z.object({
  name: z.string().regex(userNamePattern),
  role: z.enum(roles),
  tokenId: z.string(),
  salt: z.string(),
  hash: z.string(),
  createdAt: z.string(),
});
const fileSchema = z.object({ version: z.literal(1), users: z.array(userSchema) });
type StoredUser = z.infer<typeof userSchema>;

/** What may be shown of a user: never the token's hash. */
export interface UserSummary {
  name: string;
  role: Role;
  createdAt: string;
}

/** The users in `file` as it is now (none when it is not there). */
async function readUsersNow(file: string): Promise<StoredUser[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProjectLlmError("config-parse", `${file} is not valid JSON; restore it or remove it (then every user needs a new token)`);
  }
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ProjectLlmError("config-schema", `${file}: ${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  return parsed.data.users;
}

/** Read again only when the file changed (a stat per request otherwise). */
const readUsers = fileMemo(readUsersNow);

/**
 * How long a lock on users.json may go without its holder touching it before another process takes it
 * over (a holder that died): the lock's time is renewed every half of that while it is held, and a
 * change takes a few hundred ms at most (one scrypt hash).
 */
const lockStaleMs = 10_000;

export class UsersStore {
  readonly file: string;
  /** One change at a time in this process (and a lock across processes: see `#change`). */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #listeners: Array<() => void> = [];

  constructor(dataDir: string) {
    this.file = path.join(dataDir, "users.json");
  }

  async list(): Promise<UserSummary[]> {
    return (await readUsers(this.file)).map(({ name, role, createdAt }) => ({ name, role, createdAt }));
  }

  /** Adds a user with a new token; answers the token, which is shown once and kept nowhere. */
  async add(name: string, role: Role): Promise<{ user: UserSummary; token: string }> {
    if (!userNamePattern.test(name)) {
      throw new ProjectLlmError("usage", `"${name.slice(0, 40)}" is not a user name: 1-32 letters, digits, "_", "." or "-", starting with a letter or digit`);
    }
    // The local user is everyone at the machine when access control is off: its sessions are not one user's.
    if (name.toLowerCase() === localIdentity.user) throw new ProjectLlmError("usage", `"${localIdentity.user}" is the name of the studio's user without access control; choose another`);
    return this.#change(async (users) => {
      if (users.some((user) => user.name.toLowerCase() === name.toLowerCase())) {
        throw new ProjectLlmError("conflict", `a user "${name}" exists; revoke it first to give it a new token`);
      }
      const { token, stored } = await newToken();
      const user = { name, role, ...stored, createdAt: new Date().toISOString() };
      return { users: [...users, user], result: { user: { name, role, createdAt: user.createdAt }, token } };
    });
  }

  /** Removes a user: their token and their logins stop working at once. */
  async revoke(name: string): Promise<UserSummary> {
    return this.#change(async (users) => {
      const user = users.find((candidate) => candidate.name === name);
      if (!user) throw new ProjectLlmError("usage", `no user "${name.slice(0, 40)}"; see "project-llm users list"`);
      return { users: users.filter((candidate) => candidate !== user), result: { name: user.name, role: user.role, createdAt: user.createdAt } };
    });
  }

  /**
   * Tokens checked already, by their SHA-256 (never the token itself): a script that sends its token with
   * every request pays scrypt's 50 ms once, not each time. Each entry names the stored hash it matched,
   * so a user revoked or given a new token is checked again (and refused).
   */
  readonly #checked = new Map<string, string>();

  /** Whether this token was checked and matched before (by its digest; the stored hash may have changed since). */
  checkedBefore(token: string): boolean {
    return this.#checked.has(createHash("sha256").update(token).digest("base64url"));
  }

  /** The identity a token stands for, or undefined. */
  async verify(token: string): Promise<(Identity & { tokenId: string }) | undefined> {
    const tokenId = tokenIdOf(token);
    if (!tokenId) return undefined;
    const user = (await readUsers(this.file)).find((candidate) => candidate.tokenId === tokenId);
    if (!user) return undefined;
    const digest = createHash("sha256").update(token).digest("base64url");
    if (this.#checked.get(digest) !== user.hash) {
      if (!(await tokenMatches(token, user))) return undefined;
      this.#checked.set(digest, user.hash);
      if (this.#checked.size > 1000) this.#checked.delete(this.#checked.keys().next().value!);
    }
    return { user: user.name, role: user.role, tokenId };
  }

  /** Each user's token id now, by name. */
  async tokenIds(): Promise<Map<string, string>> {
    return new Map((await readUsers(this.file)).map((user) => [user.name, user.tokenId]));
  }

  /** Calls `listener` after each change this process makes to the users. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** The user whose token has this id now (a revoked user, or one with a new token, has none). */
  async byTokenId(tokenId: string): Promise<Identity | undefined> {
    const user = (await readUsers(this.file)).find((candidate) => candidate.tokenId === tokenId);
    return user && { user: user.name, role: user.role };
  }

  /**
   * Changes the users: one change at a time in this process (the queue) and across processes (a lock on
   * the file, `users.json.lock`, so that the CLI's `users add` and a change on the Users page at the same
   * moment both count). Under the lock the file is read as it is now, changed, and written durably.
   * The lock is proper-lockfile's (an atomic mkdir, renewed while held, taken over once stale), which
   * also works on network file systems, where an O_EXCL file does not always.
   */
  #change<T>(change: (users: StoredUser[]) => Promise<{ users: StoredUser[]; result: T }>): Promise<T> {
    const next = this.#queue.then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      let lost: Error | undefined;
      let release: () => Promise<void>;
      try {
        release = await lock(this.file, {
          realpath: false,
          stale: lockStaleMs,
          retries: { retries: 100, minTimeout: 20, maxTimeout: 250, factor: 1.5 },
          // Its default throws where nothing can catch it: the change below fails instead.
          onCompromised: (error) => (lost = error),
        });
      } catch (error) {
        throw new ProjectLlmError("busy", `${this.file} is locked by another process (${this.file}.lock) and stayed locked; try again, or remove the lock if no project-llm process is running`, {
          cause: error,
          details: { retryAfterSeconds: 1, params: { reason: "users" } },
        });
      }
      try {
        const { users, result } = await change(await readUsersNow(this.file));
        if (lost) {
          throw new ProjectLlmError("busy", `the lock on ${this.file} was lost while the users changed (${lost.message}); nothing was written, try again`, {
            details: { retryAfterSeconds: 1, params: { reason: "users" } },
          });
        }
        await writeFileDurably(this.file, `${JSON.stringify({ version: 1, users }, null, 2)}\n`);
        for (const listener of this.#listeners) listener();
        return result;
      } finally {
        await release().catch(() => undefined);
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
