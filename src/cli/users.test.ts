/** `project-llm users`: the compiled CLI (dist/, built before the tests) on a temp data folder. */
import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AccessControl } from "../server/auth/index.js";
import { tempDir } from "../testing/fixtures.js";

const cli = path.resolve("dist/cli/main.js");
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir: root, cleanup } = await tempDir("project-llm-users-")));
afterEach(async () => cleanup());

function users(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, "users", ...args], { cwd: root, env: { ...process.env, PROJECT_LLM_DATA_DIR: "" } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("project-llm users", () => {
  it("adds a user with a token printed once, lists them, and revokes them", async () => {
    const added = await users("add", "ann", "--role", "runner");
    expect(added.code).toBe(0);
    const token = /login\?token=([A-Za-z0-9_-]{20,})/.exec(added.stdout)?.[1];
    expect(token).toBeDefined();
    // The data folder is ./data by default; the token is not in it.
    expect(await readFile(path.join(root, "data", "users.json"), "utf8")).not.toContain(token);
    const access = new AccessControl({ env: { HOST: "0.0.0.0" }, cwd: root });
    const asAnn = new Request("http://studio/", { headers: { authorization: `Bearer ${token}` } });
    expect(await access.authenticate(asAnn)).toMatchObject({ ok: true, identity: { user: "ann", role: "runner" } });

    const json = JSON.parse((await users("add", "bob", "--role", "viewer", "--json")).stdout) as { name: string; role: string; token: string };
    expect(json).toMatchObject({ name: "bob", role: "viewer", token: expect.stringMatching(/^[A-Za-z0-9_-]{44}$/) });
    const listed = JSON.parse((await users("list", "--json")).stdout) as Array<Record<string, unknown>>;
    expect(listed.map((user) => [user.name, user.role])).toEqual([["ann", "runner"], ["bob", "viewer"]]);
    expect(JSON.stringify(listed)).not.toMatch(/hash|salt|token/);
    expect((await users("list")).stdout).toMatch(/^name\s+role\s+added\n/);

    expect(await users("revoke", "ann")).toMatchObject({ code: 0, stdout: expect.stringContaining("revoked ann (runner)") });
    expect((await access.authenticate(asAnn)).ok).toBe(false);
  });

  it("says what is wrong with a role, a name or a user that does not exist (exit 2), or a name taken (exit 1)", async () => {
    expect(await users("add", "ann", "--role", "boss")).toMatchObject({ code: 2, stderr: expect.stringContaining("--role ROLE, one of viewer, runner, editor, admin") });
    expect(await users("add", "../ann", "--role", "admin")).toMatchObject({ code: 2, stderr: expect.stringContaining("is not a user name") });
    expect(await users("revoke", "nobody")).toMatchObject({ code: 2, stderr: expect.stringContaining('no user "nobody"') });
    await users("add", "ann", "--role", "viewer");
    expect(await users("add", "ann", "--role", "admin")).toMatchObject({ code: 1, stderr: expect.stringContaining('a user "ann" exists') });
  });

  it("loses no change when processes change the users at the same moment (the CLI's adds and the studio's)", async () => {
    // Six CLI processes at once, and this process as the studio, each adding users to one file: each
    // change reads the file, hashes a new token (tens of ms) and writes, so without a lock across
    // processes the writes overwrite one another.
    const studio = new AccessControl({ env: { HOST: "0.0.0.0", PROJECT_LLM_DATA_DIR: path.join(root, "data") }, cwd: root });
    const names = Array.from({ length: 6 }, (_, index) => `cli-${index}`);
    const results = await Promise.all([
      ...names.map((name) => users("add", name, "--role", "viewer")),
      studio.users.add("studio-0", "editor").then(() => studio.users.add("studio-1", "editor")),
    ]);
    for (const result of results.slice(0, names.length)) expect((result as { code: number; stderr: string }).code, (result as { stderr: string }).stderr).toBe(0);
    const listed = (await studio.users.list()).map((user) => user.name).sort();
    expect(listed).toEqual([...names, "studio-0", "studio-1"].sort());
    // The lock is gone once the changes are done.
    await expect(stat(path.join(root, "data", "users.json.lock"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
