/**
 * Who a request comes from, and the login that makes a browser someone: the one place that reads
 * credentials. A request names its user by `Authorization: Bearer TOKEN` (scripts, the CLI) or by the
 * login cookie (browsers, after /login). With access control off, every request is the local user.
 */
import { ProjectLlmError, errorMessage } from "../../common/index.js";
import { clientAddress as peerAddress } from "../client-address.js";
import { CookieSigner, cookieName, loginMaxAgeS } from "./cookie.js";
import { accessMode, isLoopbackHost, type AccessMode } from "./mode.js";
import { localIdentity, type Identity } from "./roles.js";
import { RevocationWatch } from "./revocation.js";
import { LoginThrottle, type ThrottleOptions } from "./throttle.js";
import { UsersStore, dataDirectory } from "./users.js";

export type Authentication =
  | { ok: true; identity: Identity }
  | { ok: false; error: ProjectLlmError; status: 401 | 403 | 429; retryAfterS?: number };

export interface AccessControlOptions {
  env: Record<string, string | undefined>;
  cwd: string;
  throttle?: ThrottleOptions;
  /** How often open streams' users are checked against users.json written by another process (default 1 s). */
  revocationPollMs?: number;
}

/**
 * The client's address, for slowing failed logins: the address its connection comes from, as the server's
 * socket saw it (see `stampPeerAddresses`), never a header the client sent, so that no one can lock
 * another address out by naming it. A request the server did not stamp (a test's own Request) falls back
 * to X-Forwarded-For's first entry.
 */
export function clientAddress(request: Request): string {
  const peer = peerAddress(request);
  if (peer !== "unknown") return peer;
  return request.headers.get("x-forwarded-for")?.split(",")[0]?.trim().slice(0, 64) || "unknown";
}

/**
 * Whether the request came over HTTPS: its URL, or `X-Forwarded-Proto: https` from a proxy that ends TLS
 * in front of the studio. The header is trusted from anyone because it decides only the cookie's Secure
 * flag: a client that forges it gets a cookie its browser will not send back over plain HTTP, which harms
 * no one but itself, while a real proxy's users get a cookie that never travels in the clear.
 */
export function cameOverHttps(request: Request): boolean {
  if (new URL(request.url).protocol === "https:") return true;
  return request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase() === "https";
}

function cookieValue(request: Request): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index > 0 && part.slice(0, index).trim() === cookieName) return part.slice(index + 1).trim();
  }
  return undefined;
}

const unauthenticated = () =>
  new ProjectLlmError("unauthenticated", "log in first: open /login with your token, or send Authorization: Bearer TOKEN (an admin makes tokens with \"project-llm users add\")");

export class AccessControl {
  readonly mode: AccessMode;
  readonly users: UsersStore;
  readonly #cookies: CookieSigner;
  readonly #throttle: LoginThrottle;
  readonly #revocations: RevocationWatch;

  constructor(options: AccessControlOptions) {
    this.mode = accessMode(options.env);
    const dataDir = dataDirectory(options.env, options.cwd);
    this.users = new UsersStore(dataDir);
    this.#revocations = new RevocationWatch(this.users, options.revocationPollMs);
    this.#cookies = new CookieSigner(dataDir);
    this.#throttle = new LoginThrottle(options.throttle);
  }

  get enabled(): boolean {
    return this.mode.enabled;
  }

  /** Who sent the request: its bearer token's user, else its login cookie's, else no one. */
  async authenticate(request: Request): Promise<Authentication> {
    if (!this.enabled) return this.#loopbackOnly(request);
    const authorization = request.headers.get("authorization");
    if (authorization !== null) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) return { ok: false, status: 401, error: new ProjectLlmError("unauthenticated", 'the Authorization header is not "Bearer TOKEN"') };
      return this.#checkToken(match[1]!, clientAddress(request));
    }
    const cookie = cookieValue(request);
    if (cookie) {
      const claims = await this.#cookies.verify(cookie);
      const identity = claims && (await this.users.byTokenId(claims.tokenId));
      if (identity && identity.user === claims.user) return { ok: true, identity };
    }
    return { ok: false, status: 401, error: unauthenticated() };
  }

  /**
   * Without access control because HOST is a loopback address, only this machine may be served. A request
   * from another one means the server listens wider than HOST says (`next start -H 0.0.0.0`, a container
   * started with another command): refused, rather than serving the network with no login. An explicit
   * `PROJECT_LLM_AUTH=off` is the one way to serve it so (and warns at every start).
   */
  #loopbackOnly(request: Request): Authentication {
    const peer = peerAddress(request);
    if (this.mode.setting === "off" || !this.mode.loopback || peer === "unknown" || isLoopbackHost(peer)) return { ok: true, identity: localIdentity };
    return {
      ok: false,
      status: 403,
      error: new ProjectLlmError("forbidden", `this studio serves this machine only (HOST=${this.mode.host}), and the request came from ${peer}: start it with HOST=0.0.0.0 to serve the network with logins`),
    };
  }

  /**
   * Logs in with a token: answers the identity and the Set-Cookie value that keeps the browser logged
   * in (the cookie holds no token; see CookieSigner).
   */
  async login(token: string, request: Request): Promise<Authentication & { setCookie?: string }> {
    if (!this.enabled) return { ok: true, identity: localIdentity };
    const checked = await this.#checkToken(token, clientAddress(request));
    if (!checked.ok) return checked;
    const user = await this.users.verify(token);
    if (!user) return { ok: false, status: 401, error: unauthenticated() };
    const value = await this.#cookies.sign(user.user, user.tokenId);
    return { ...checked, setCookie: this.#setCookie(value, loginMaxAgeS, request) };
  }

  /**
   * For a stream that `identity` opens: a signal that aborts once the user is revoked or given a new
   * token (its reason says so), and `dispose` to call when the stream ends. Without access control it
   * never aborts.
   */
  async watchRevocation(identity: Identity): Promise<{ signal: AbortSignal; dispose: () => void }> {
    if (!this.enabled) return { signal: new AbortController().signal, dispose: () => undefined };
    return this.#revocations.watch(identity);
  }

  /** The Set-Cookie value that logs a browser out. */
  logoutCookie(request: Request): string {
    return this.#setCookie("", 0, request);
  }

  #setCookie(value: string, maxAgeS: number, request: Request): string {
    // Lax, not Strict: a link to the studio from a chat or a mail opens it logged in; every request that
    // changes something is a POST with a JSON body, which Lax never sends from another site.
    return `${cookieName}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${cameOverHttps(request) ? "; Secure" : ""}`;
  }

  async #checkToken(token: string, address: string): Promise<Authentication> {
    // A token that matched before (a script sending it with every request) costs no scrypt: the throttle,
    // there to spare the server's CPU and slow guessers, does not stand in its way.
    const wait = this.users.checkedBefore(token) ? 0 : this.#throttle.retryAfterS(address);
    if (wait > 0) {
      return { ok: false, status: 429, retryAfterS: wait, error: new ProjectLlmError("unauthenticated", `too many failed logins from your address; try again in ${wait} s`, { details: { params: { seconds: wait } } }) };
    }
    const user = await this.users.verify(token);
    if (!user) {
      this.#throttle.failed(address);
      return { ok: false, status: 401, error: new ProjectLlmError("unauthenticated", "that token is not a user's: it was mistyped or revoked; ask an admin for a new one") };
    }
    this.#throttle.succeeded(address);
    return { ok: true, identity: { user: user.user, role: user.role } };
  }

  /**
   * What the studio says when it starts. With access control on and no users yet, it makes the user
   * "admin" and prints, once, the address that logs them in (the only time a token is written anywhere
   * but to whom asked for it). On an address others can reach with access control off, a warning at every start.
   */
  async announce(port: string, print: { log(line: string): void; warn(line: string): void } = console): Promise<void> {
    const { host, loopback } = this.mode;
    if (!this.enabled) {
      if (!loopback) {
        print.warn(
          `project_llm: WARNING: listening on ${host} with PROJECT_LLM_AUTH=off: anyone who can reach this address can run pipelines, change them, delete sessions and unload models. Unset PROJECT_LLM_AUTH to require a login.`,
        );
      }
      return;
    }
    if ((await this.users.list()).length > 0) {
      print.log(`project_llm: access control is on; users log in at http://${urlHost(host)}:${port}/login (add users with "project-llm users add NAME --role ROLE")`);
      return;
    }
    let token: string;
    try {
      ({ token } = await this.users.add("admin", "admin"));
    } catch (error) {
      throw new ProjectLlmError("folder-not-writable", `cannot make the first user in ${this.users.file}: ${errorMessage(error)}; set PROJECT_LLM_DATA_DIR to a folder this user can write`, { cause: error });
    }
    print.log(`project_llm: access control is on; the first user is "admin". Log in once at http://${urlHost(host)}:${port}/login?token=${token}`);
  }
}

function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

const key = Symbol.for("project-llm.access-control");
type Holder = { [key]?: AccessControl };

/** The process's access control (one for every bundle of this module, as `getServer` keeps one studio). */
export function getAccessControl(): AccessControl {
  const holder = globalThis as Holder;
  return (holder[key] ??= new AccessControl({ env: process.env, cwd: process.cwd() }));
}
