import { mkdir, readFile, stat, utimes } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir } from "../../testing/fixtures.js";
import { peerHeader } from "../client-address.js";
import { AccessControl, LoginThrottle, accessMode, cookieName, hasRole, isLoopbackHost, mayActOn, type Authentication } from "./index.js";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir: root, cleanup } = await tempDir("project-llm-auth-")));
afterEach(async () => cleanup());

const lan = (dataDir: string, extra: Record<string, string> = {}) => new AccessControl({ env: { HOST: "0.0.0.0", PROJECT_LLM_DATA_DIR: dataDir, ...extra }, cwd: "/" });
const request = (headers: Record<string, string> = {}, url = "http://192.168.1.20:3000/api/sessions/x") => new Request(url, { headers: { "x-forwarded-for": "192.168.1.77", ...headers } });
const bearer = (token: string, headers: Record<string, string> = {}) => request({ authorization: `Bearer ${token}`, ...headers });
const identityOf = (result: Authentication) => (result.ok ? result.identity : result.status);

describe("the mode", () => {
  it("is on unless the studio listens on loopback, and PROJECT_LLM_AUTH decides when set", () => {
    expect(accessMode({}).enabled).toBe(false);
    expect(accessMode({ HOST: "127.0.0.1" }).enabled).toBe(false);
    expect(accessMode({ HOST: "::1" }).enabled).toBe(false);
    expect(accessMode({ HOST: "localhost" }).enabled).toBe(false);
    expect(accessMode({ HOST: "0.0.0.0" }).enabled).toBe(true);
    expect(accessMode({ HOST: "::" }).enabled).toBe(true);
    expect(accessMode({ HOST: "192.168.1.20" }).enabled).toBe(true);
    expect(accessMode({ HOST: "0.0.0.0", PROJECT_LLM_AUTH: "off" }).enabled).toBe(false);
    expect(accessMode({ HOST: "127.0.0.1", PROJECT_LLM_AUTH: "on" }).enabled).toBe(true);
    expect(() => accessMode({ PROJECT_LLM_AUTH: "yes" })).toThrow(/PROJECT_LLM_AUTH is "yes"; set it to on or off/);
    expect(isLoopbackHost("127.8.0.1")).toBe(true);
    expect(isLoopbackHost("10.0.0.1")).toBe(false);
  });

  it("makes everyone the local admin when off", async () => {
    const access = new AccessControl({ env: {}, cwd: root });
    expect(identityOf(await access.authenticate(request()))).toEqual({ user: "local", role: "admin" });
    expect(identityOf(await access.authenticate(request({ [peerHeader]: "::ffff:127.0.0.1" })))).toEqual({ user: "local", role: "admin" });
  });

  it("off because HOST is loopback, refuses a connection from another machine (a server started on 0.0.0.0 by other means)", async () => {
    const access = new AccessControl({ env: { HOST: "127.0.0.1" }, cwd: root });
    const refused = await access.authenticate(request({ [peerHeader]: "192.168.1.77" }));
    expect(refused).toMatchObject({ ok: false, status: 403 });
    expect(refused.ok ? "" : refused.error.message).toMatch(/serves this machine only \(HOST=127\.0\.0\.1\).*192\.168\.1\.77.*HOST=0\.0\.0\.0/);
    // Turned off on purpose, it serves everyone (and warns at every start).
    const open = new AccessControl({ env: { HOST: "127.0.0.1", PROJECT_LLM_AUTH: "off" }, cwd: root });
    expect(identityOf(await open.authenticate(request({ [peerHeader]: "192.168.1.77" })))).toEqual({ user: "local", role: "admin" });
  });
});

describe("roles", () => {
  it("rank viewer < runner < editor < admin, and only admins act on others' runs", () => {
    expect(hasRole("runner", "viewer")).toBe(true);
    expect(hasRole("runner", "editor")).toBe(false);
    expect(hasRole("admin", "editor")).toBe(true);
    expect(mayActOn({ user: "ann", role: "runner" }, "ann")).toBe(true);
    expect(mayActOn({ user: "ann", role: "editor" }, "bob")).toBe(false);
    expect(mayActOn({ user: "ann", role: "runner" }, undefined)).toBe(false);
    expect(mayActOn({ user: "root", role: "admin" }, "bob")).toBe(true);
  });
});

describe("users", () => {
  it("keeps a salted scrypt hash of each token in a 0600 file, never the token", async () => {
    const access = lan(path.join(root, "data"));
    const { token } = await access.users.add("ann", "runner");
    const second = await access.users.add("bob", "runner");
    expect(token).toMatch(/^[A-Za-z0-9_-]{44}$/);
    const file = path.join(root, "data", "users.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, "utf8");
    expect(text).not.toContain(token.slice(12));
    const stored = JSON.parse(text) as { users: { salt: string; hash: string }[] };
    expect(stored.users[0]!.salt).not.toBe(stored.users[1]!.salt);
    expect(stored.users[0]!.hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(identityOf(await access.authenticate(bearer(token)))).toEqual({ user: "ann", role: "runner" });
    expect(identityOf(await access.authenticate(bearer(second.token)))).toEqual({ user: "bob", role: "runner" });
    // Same id, another secret.
    expect(identityOf(await access.authenticate(bearer(token.slice(0, 12) + second.token.slice(12))))).toBe(401);
  });

  it("refuses a name taken, a bad name and the local user's name; a revoked token stops working", async () => {
    const access = lan(path.join(root, "data"));
    const { token } = await access.users.add("ann", "viewer");
    await expect(access.users.add("Ann", "admin")).rejects.toMatchObject({ code: "conflict" });
    await expect(access.users.add("../x", "admin")).rejects.toMatchObject({ code: "usage" });
    await expect(access.users.add("local", "admin")).rejects.toMatchObject({ code: "usage" });
    await access.users.revoke("ann");
    expect(identityOf(await access.authenticate(bearer(token)))).toBe(401);
    await expect(access.users.revoke("ann")).rejects.toThrow(/no user "ann"/);
  });

  it("takes over the lock on users.json that a process which died left (not renewed for 10 s)", async () => {
    const data = path.join(root, "data");
    await mkdir(path.join(data, "users.json.lock"), { recursive: true });
    const longAgo = new Date(Date.now() - 60_000);
    await utimes(path.join(data, "users.json.lock"), longAgo, longAgo);
    const access = lan(data);
    await access.users.add("ann", "viewer");
    expect((await access.users.list()).map((user) => user.name)).toEqual(["ann"]);
    await expect(stat(path.join(data, "users.json.lock"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("sees users another process added (the CLI) at the next request", async () => {
    const access = lan(path.join(root, "data"));
    await access.users.add("ann", "viewer");
    const { token } = await lan(path.join(root, "data")).users.add("cli-user", "editor");
    expect(identityOf(await access.authenticate(bearer(token)))).toEqual({ user: "cli-user", role: "editor" });
  });
});

describe("the login cookie", () => {
  it("is httpOnly and SameSite, holds no token, and names its user until they are revoked", async () => {
    const access = lan(path.join(root, "data"));
    const { token } = await access.users.add("ann", "editor");
    const login = await access.login(token, request());
    expect(login.ok).toBe(true);
    const setCookie = login.setCookie!;
    expect(setCookie).toMatch(new RegExp(`^${cookieName}=[^;]+; Path=/; HttpOnly; SameSite=Lax; Max-Age=\\d+$`));
    expect(setCookie).not.toContain(token);
    expect(setCookie).not.toContain(token.slice(12));
    const cookie = setCookie.split(";")[0]!;
    expect(identityOf(await access.authenticate(request({ cookie: `theme=dark; ${cookie}` })))).toEqual({ user: "ann", role: "editor" });
    // A login outlives a restart: another process with the same data folder accepts it.
    expect(identityOf(await lan(path.join(root, "data")).authenticate(request({ cookie })))).toEqual({ user: "ann", role: "editor" });
    // Changed by a bit, it is no one's: a bit within the signature, or the lowest of its last character
    // (one of the two spare bits of a 32-byte signature's 43 characters, which a base64url decoder ignores).
    const [name, value] = cookie.split("=");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (const at of [value!.length - 2, value!.length - 1]) {
      const forged = `${name}=${value!.slice(0, at)}${alphabet[alphabet.indexOf(value![at]!) ^ 1]}${value!.slice(at + 1)}`;
      expect(forged).not.toBe(cookie);
      expect(identityOf(await access.authenticate(request({ cookie: forged })))).toBe(401);
    }
    await access.users.revoke("ann");
    expect(identityOf(await access.authenticate(request({ cookie })))).toBe(401);
  });

  it("is Secure when the request came over HTTPS (directly or through a proxy that says so)", async () => {
    const access = lan(path.join(root, "data"));
    const { token } = await access.users.add("ann", "viewer");
    expect((await access.login(token, request({ "x-forwarded-proto": "https" }))).setCookie).toMatch(/; Secure$/);
    expect((await access.login(token, request({}, "https://studio.lan/api/auth/login"))).setCookie).toMatch(/; Secure$/);
    expect((await access.login(token, request({ "x-forwarded-proto": "http" }))).setCookie).not.toMatch(/Secure/);
  });
});

describe("failed logins", () => {
  it("lock an address out for a time that doubles with each failure past five, and a success starts over", () => {
    let now = 0;
    const throttle = new LoginThrottle({ now: () => now });
    for (let failure = 0; failure < 5; failure++) throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(0);
    throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(1);
    throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(2);
    throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(4);
    expect(throttle.retryAfterS("b")).toBe(0);
    now += 4000;
    expect(throttle.retryAfterS("a")).toBe(0);
    for (let failure = 0; failure < 20; failure++) throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(15 * 60);
    throttle.succeeded("a");
    expect(throttle.retryAfterS("a")).toBe(0);
  });

  it("refuse every token check for a minute past the ceiling of all addresses together", () => {
    let now = 0;
    const throttle = new LoginThrottle({ now: () => now, globalFailuresPerMinute: 10 });
    for (let failure = 0; failure < 10; failure++) throttle.failed(`forged-${failure}`);
    expect(throttle.retryAfterS("someone-else")).toBe(60);
    now += 60_001;
    expect(throttle.retryAfterS("someone-else")).toBe(0);
  });

  it("are answered 429 with the wait, without checking the token, and do not hold back other addresses", async () => {
    const access = lan(path.join(root, "data"));
    const { token } = await access.users.add("ann", "viewer");
    for (let attempt = 0; attempt < 6; attempt++) await access.login("x".repeat(44), request());
    const locked = await access.login(token, request());
    expect(locked).toMatchObject({ ok: false, status: 429, retryAfterS: 1 });
    expect((await access.authenticate(bearer(token))).ok).toBe(false);
    expect((await access.login(token, request({ "x-forwarded-for": "192.168.1.78" }))).ok).toBe(true);
  });
});

describe("the start", () => {
  it("makes the first admin on a LAN address and prints its login address once", async () => {
    const lines: string[] = [];
    const print = { log: (line: string) => lines.push(line), warn: (line: string) => lines.push(`warn: ${line}`) };
    const access = lan(path.join(root, "data"));
    await access.announce("3000", print);
    expect(lines).toHaveLength(1);
    const token = /http:\/\/0\.0\.0\.0:3000\/login\?token=([A-Za-z0-9_-]{20,})$/.exec(lines[0]!)?.[1];
    expect(token).toBeDefined();
    expect(identityOf(await access.authenticate(bearer(token!)))).toEqual({ user: "admin", role: "admin" });
    await lan(path.join(root, "data")).announce("3000", print);
    expect(lines).toHaveLength(2);
    expect(lines[1]).not.toContain("token");
    expect(await access.users.list()).toHaveLength(1);
  });

  it("warns at every start on a LAN address with PROJECT_LLM_AUTH=off, and says nothing on loopback", async () => {
    const lines: string[] = [];
    const print = { log: (line: string) => lines.push(line), warn: (line: string) => lines.push(`warn: ${line}`) };
    await lan(path.join(root, "data"), { PROJECT_LLM_AUTH: "off" }).announce("3000", print);
    await lan(path.join(root, "data"), { PROJECT_LLM_AUTH: "off" }).announce("3000", print);
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/^warn: project_llm: WARNING: listening on 0\.0\.0\.0 with PROJECT_LLM_AUTH=off: anyone/);
    await new AccessControl({ env: { PROJECT_LLM_DATA_DIR: path.join(root, "local") }, cwd: "/" }).announce("3000", print);
    expect(lines).toHaveLength(2);
  });
});
