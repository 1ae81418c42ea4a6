import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir } from "../../testing/fixtures.js";
import { AccessControl, type Authentication } from "./index.js";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir: root, cleanup } = await tempDir("project-llm-revocation-")));
afterEach(async () => cleanup());

/** The studio's access control on a LAN address; another one on the same data folder stands for the CLI's process. */
const lan = (dataDir: string) => new AccessControl({ env: { HOST: "0.0.0.0", PROJECT_LLM_DATA_DIR: dataDir }, cwd: "/", revocationPollMs: 20 });
const bearer = (token: string) => new Request("http://192.168.1.20:3000/api/sessions", { headers: { authorization: `Bearer ${token}`, "x-forwarded-for": "192.168.1.77" } });
const identityOf = (result: Authentication) => (result.ok ? result.identity : result.status);

/** Resolves once `signal` aborts, with its reason. */
const aborted = (signal: AbortSignal) => new Promise<unknown>((resolve) => (signal.aborted ? resolve(signal.reason) : signal.addEventListener("abort", () => resolve(signal.reason), { once: true })));

describe("streams of a revoked user", () => {
  it("end when the user is revoked in this process (the Users page), and others' streams go on", async () => {
    const access = lan(path.join(root, "data"));
    await access.users.add("ann", "viewer");
    await access.users.add("bob", "viewer");
    const ann = await access.watchRevocation({ user: "ann", role: "viewer" });
    const bob = await access.watchRevocation({ user: "bob", role: "viewer" });
    await access.users.revoke("ann");
    expect(await aborted(ann.signal)).toMatchObject({ code: "unauthenticated", message: expect.stringContaining('user "ann" was revoked') });
    expect(bob.signal.aborted).toBe(false);
    bob.dispose();
  });

  it("end when another process revokes the user (the CLI writing users.json), or gives the name a new token", async () => {
    const data = path.join(root, "data");
    const studio = lan(data);
    const cli = lan(data);
    const { token } = await studio.users.add("ann", "viewer");
    await studio.users.add("bob", "viewer");
    // A token checked once is remembered: the revocation must reach that memory too.
    expect(identityOf(await studio.authenticate(bearer(token)))).toEqual({ user: "ann", role: "viewer" });
    const ann = await studio.watchRevocation({ user: "ann", role: "viewer" });
    const bob = await studio.watchRevocation({ user: "bob", role: "viewer" });
    await cli.users.revoke("ann");
    expect(await aborted(ann.signal)).toMatchObject({ code: "unauthenticated" });
    expect(identityOf(await studio.authenticate(bearer(token)))).toBe(401);
    // Revoked and added again under the same name: the old credentials' streams end all the same.
    await cli.users.revoke("bob");
    await cli.users.add("bob", "viewer");
    expect(await aborted(bob.signal)).toMatchObject({ code: "unauthenticated" });
  });

  it("never end without access control, and a stream of a user already gone ends at once", async () => {
    const off = new AccessControl({ env: {}, cwd: root });
    const local = await off.watchRevocation({ user: "local", role: "admin" });
    expect(local.signal.aborted).toBe(false);
    const access = lan(path.join(root, "data"));
    expect((await access.watchRevocation({ user: "gone", role: "viewer" })).signal.aborted).toBe(true);
  });
});
