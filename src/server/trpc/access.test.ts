/**
 * Every procedure of the router refuses a request that names no user, from an address of the LAN, and
 * each role reaches exactly the procedures its rank allows. The procedures are listed from the router
 * itself (`_def.procedures`), so a procedure added later is checked too: one without a role of its own
 * (made from tRPC's bare procedure) is refused to everyone, and one missing from `expectedRoles` fails
 * the first test until its role is written down here (and in the README's table).
 */
import path from "node:path";
import { TRPCError } from "@trpc/server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir } from "../../testing/fixtures.js";
import { AccessControl, roles, hasRole, type Role } from "../auth/index.js";
import { createContext } from "./context.js";
import { createCallerFactory, type Context } from "./init.js";
import { appRouter } from "./router.js";

const expectedRoles: Record<string, Role> = {
  "auth.me": "viewer",
  "auth.names": "viewer",
  "users.list": "admin",
  "users.add": "admin",
  "users.revoke": "admin",
  "models.list": "viewer",
  "models.status": "viewer",
  "models.inspect": "viewer",
  "models.unload": "editor",
  "models.downloads": "viewer",
  "models.startDownload": "editor",
  "models.cancelDownload": "editor",
  "models.retryDownload": "editor",
  "models.dismissDownload": "editor",
  "models.addDownloaded": "editor",
  "pipelines.list": "viewer",
  "pipelines.get": "viewer",
  "pipelines.validate": "viewer",
  "pipelines.save": "editor",
  "pipelines.delete": "editor",
  "runs.start": "runner",
  "runs.cancel": "runner",
  "runs.list": "viewer",
  "runs.plan": "viewer",
  "runs.events": "viewer",
  "sessions.list": "viewer",
  "sessions.get": "viewer",
  "sessions.tree": "viewer",
  "sessions.rerun": "runner",
  "sessions.delete": "runner",
};

interface ProcedureDef {
  _def: { meta?: { role?: Role }; type: string };
}

/** The router's procedures by path ("runs.start"), as tRPC keeps them. */
export function listProcedures(router: { _def: { procedures: object } }): [string, ProcedureDef][] {
  return Object.entries(router._def.procedures as Record<string, ProcedureDef>);
}

/** A studio that fails any use: a call that reaches it got past the role check. */
const unreachable = new Proxy({}, { get: (_target, key) => (key === "then" ? undefined : () => Promise.reject(new Error(`reached the procedure (${String(key)})`))) });
const fakeServer = { studio: unreachable, runs: unreachable, downloads: unreachable } as unknown as Pick<Context, "studio" | "runs" | "downloads">;

const createCaller = createCallerFactory(appRouter);

async function call(context: Context, procedurePath: string): Promise<unknown> {
  let target: unknown = createCaller(context);
  for (const key of procedurePath.split(".")) target = (target as Record<string, unknown>)[key];
  const result = await (target as (input: unknown) => Promise<unknown>)(undefined);
  // A subscription answers a stream: its first event is where a refusal would be.
  if (result && typeof result === "object" && Symbol.asyncIterator in result) await (result as AsyncIterable<unknown>)[Symbol.asyncIterator]().next();
  return result;
}

async function refusal(context: Context, procedurePath: string): Promise<string | undefined> {
  try {
    await call(context, procedurePath);
    return undefined;
  } catch (error) {
    return error instanceof TRPCError && (error.code === "UNAUTHORIZED" || error.code === "FORBIDDEN") ? error.code : undefined;
  }
}

let root: string;
let cleanup: () => Promise<void>;
let access: AccessControl;
const tokens: Partial<Record<Role, string>> = {};

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir("project-llm-access-"));
  // As a studio started with HOST=0.0.0.0, asked from another machine of the LAN.
  access = new AccessControl({ env: { HOST: "0.0.0.0", PROJECT_LLM_DATA_DIR: path.join(root, "data") }, cwd: root });
  for (const role of roles) tokens[role] = (await access.users.add(`a-${role}`, role)).token;
});
afterEach(async () => cleanup());

const fromLan = (headers: Record<string, string> = {}) =>
  new Request("http://192.168.1.20:3000/api/trpc/x", { method: "POST", headers: { "x-forwarded-for": "192.168.1.77", host: "192.168.1.20:3000", ...headers } });

async function contextOf(request: Request): Promise<Context> {
  const context = await createContext(request, fakeServer, access);
  if (context instanceof Response) throw new Error(`refused before the procedures: ${context.status}`);
  return context;
}

describe("the router", () => {
  it("has a role written down for every procedure, and each declares that role", () => {
    const procedures = listProcedures(appRouter);
    expect(procedures.length).toBeGreaterThanOrEqual(Object.keys(expectedRoles).length);
    expect(Object.fromEntries(procedures.map(([name, procedure]) => [name, procedure._def.meta?.role]))).toEqual(expectedRoles);
  });

  it("refuses every procedure to an anonymous request from the LAN, and to a revoked or wrong token", async () => {
    const anonymous = await contextOf(fromLan());
    expect(anonymous.identity).toBeNull();
    const forged = await contextOf(fromLan({ authorization: `Bearer ${"A".repeat(44)}` }));
    const cookie = await contextOf(fromLan({ cookie: "project_llm_login=eyJ1IjoiYWRtaW4ifQ.c2lnbmF0dXJl" }));
    for (const [name] of listProcedures(appRouter)) {
      expect(await refusal(anonymous, name), name).toBe("UNAUTHORIZED");
      expect(await refusal(forged, name), name).toBe("UNAUTHORIZED");
      expect(await refusal(cookie, name), name).toBe("UNAUTHORIZED");
    }
  });

  it("lets each role reach what its rank allows and refuses the rest", async () => {
    for (const role of roles) {
      const context = await contextOf(fromLan({ authorization: `Bearer ${tokens[role]!}` }));
      expect(context.identity).toEqual({ user: `a-${role}`, role });
      for (const [name, procedure] of listProcedures(appRouter)) {
        const needed = procedure._def.meta!.role!;
        expect(await refusal(context, name), `${role} calls ${name} (needs ${needed})`).toBe(hasRole(role, needed) ? undefined : "FORBIDDEN");
      }
    }
  });
});

describe("the lister", () => {
  it("finds a procedure added to a router, so the tests above check it too", async () => {
    const { router, viewerProcedure } = await import("./init.js");
    const extended = router({ ...appRouter._def.record, extra: router({ added: viewerProcedure.query(() => 1) }) });
    expect(listProcedures(extended).map(([name]) => name)).toContain("extra.added");
  });
});
