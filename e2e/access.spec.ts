/**
 * Access control over real HTTP, against a studio of its own that listens on every address (HOST=0.0.0.0),
 * so access control is on by its default: every route of the app folder and every tRPC procedure refuses
 * an anonymous request, the first start prints the admin's login address, and each role can do what it
 * may and nothing more (runs of the real model included), over bearer tokens as scripts send them.
 */
import { expect, test, type APIRequestContext } from "@playwright/test";
import { spawnSync } from "node:child_process";
import { rm } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { listApiRoutes } from "../src/testing/api-routes";
import { writeSyntheticSession } from "../src/testing/synthetic-session";
import { describeLeftOvers, englishLeft } from "./i18n-scan";
import { schemesFor, shot, watchConsole } from "./page-checks";
import { spawnStudio, work, type StudioProcess } from "./studio-process";

/**
 * The routes open to anonymous requests, each for a reason: anything else that answers an anonymous
 * request with other than 401 fails the test, so a route added without `authorize` fails it too.
 */
const publicRoutes: Record<string, string> = {
  "GET /api/health": "healthchecks: answers nothing but its status",
  "POST /api/auth/login": "the login itself",
  "POST /api/auth/logout": "clears the caller's own cookie, nothing else",
};

const sampleRunId = "20261124-120102-3fa9c1";
const dataDir = path.join(work, "data-access");
let studio: StudioProcess;
let adminToken: string;

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  test.setTimeout(180_000);
  await rm(dataDir, { recursive: true, force: true });
  await rm(path.join(work, "sessions-access"), { recursive: true, force: true });
  studio = spawnStudio({ args: ["scripts/start.mjs"], portOffset: 5, sessions: "sessions-access", env: { HOST: "0.0.0.0", PROJECT_LLM_DATA_DIR: dataDir } });
  await expect.poll(async () => (await request.get(`${studio.base}/api/health`).catch(() => undefined))?.status(), { timeout: 150_000 }).toBe(200);
  const line = /http:\/\/0\.0\.0\.0:\d+\/login\?token=([A-Za-z0-9_-]{20,})/.exec(studio.output());
  expect(line, studio.output()).not.toBeNull();
  adminToken = line![1]!;
});

test.afterAll(async () => {
  studio?.server.kill("SIGTERM");
  await studio?.exited;
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Calls a tRPC procedure (queries as POST, as the pages send them); answers the status and the result or error. */
async function trpc(request: APIRequestContext, procedure: string, input: unknown, headers: Record<string, string> = {}) {
  const response = await request.post(`${studio.base}/api/trpc/${procedure}`, { headers: { "content-type": "application/json", "x-http-method-override": "POST", ...headers }, data: JSON.stringify(input ?? null) });
  const body = (await response.json().catch(() => null)) as { result?: { data: unknown }; error?: { message: string; code?: unknown; data?: { appCode?: string } } } | null;
  return { status: response.status(), data: body?.result?.data, error: body?.error };
}

test("every route of the app folder and every procedure refuses an anonymous request", async ({ request }) => {
  const routes = await listApiRoutes(path.resolve("src/app"), (segment) => (segment === "[trpc]" ? "models.list" : sampleRunId));
  expect(routes.length).toBeGreaterThanOrEqual(11);
  for (const route of routes) {
    expect(route.methods.length, `${route.file} exports no method`).toBeGreaterThan(0);
    for (const method of route.methods) {
      const name = `${method} ${route.path.replace(sampleRunId, "[id]").replace("models.list", "[trpc]")}`;
      const response = await request.fetch(`${studio.base}${route.path}`, { method, headers: { "content-type": "application/json" }, data: method === "GET" || method === "HEAD" ? undefined : "{}" });
      if (name in publicRoutes) {
        // None of them logs anyone in.
        expect(response.headers()["set-cookie"] ?? "", name).not.toMatch(/project_llm_login=[^;]/);
        if (name === "GET /api/health") expect(await response.json()).toEqual({ status: "ok" });
        continue;
      }
      expect(response.status(), `${name} (${route.file}) answered an anonymous request`).toBe(401);
    }
  }
  // Every procedure, by its path (the router's own list is checked by src/server/trpc/access.test.ts).
  for (const procedure of ["models.list", "models.status", "models.unload", "pipelines.save", "pipelines.delete", "runs.start", "runs.events", "sessions.list", "sessions.delete", "users.list", "users.add", "auth.me"]) {
    const { status, error } = await trpc(request, procedure, {});
    expect(status, procedure).toBe(401);
    // A stream is refused before tRPC answers (see the tRPC route), in the plain API's shape.
    expect(error?.data?.appCode ?? error?.code, procedure).toBe("unauthenticated");
  }
  // Pages go to the login page, which comes back to them.
  const page = await request.get(`${studio.base}/history?status=failed`, { maxRedirects: 0 });
  expect(page.status()).toBe(307);
  expect(page.headers().location).toBe("/login?next=%2Fhistory%3Fstatus%3Dfailed");
  expect((await request.get(`${studio.base}/login`, { maxRedirects: 0 })).status()).toBe(200);
  // A bearer token that is no one's is refused as well.
  expect((await request.get(`${studio.base}/api/sessions/${sampleRunId}`, { headers: bearer("A".repeat(44)) })).status()).toBe(401);
});

test("each role does what it may and nothing more; runners act on their own runs only", async ({ request }) => {
  test.setTimeout(120_000);
  const tokens: Record<string, string> = {};
  for (const [name, role] of [["rita", "runner"], ["ron", "runner"], ["vic", "viewer"], ["eddie", "editor"]] as const) {
    const added = await trpc(request, "users.add", { name, role }, bearer(adminToken));
    expect(added.status, JSON.stringify(added.error)).toBe(200);
    tokens[name] = (added.data as { token: string }).token;
  }
  const as = (name: string) => bearer(tokens[name]!);

  // A viewer reads, with the models folder's path and the RAM, and runs nothing.
  const models = await trpc(request, "models.list", null, as("vic"));
  expect(models.status).toBe(200);
  expect(models.data).toMatchObject({ modelsDirectory: expect.any(String), totalRam: expect.any(Number) });
  expect((await request.post(`${studio.base}/api/runs`, { headers: as("vic"), data: { input: "Hi" } })).status()).toBe(403);
  expect((await trpc(request, "runs.start", { pipeline: "base", input: "Hi" }, as("vic"))).status).toBe(403);
  expect((await trpc(request, "users.list", null, as("vic"))).status).toBe(403);

  // A runner runs; the session records who.
  const started = await request.post(`${studio.base}/api/runs`, { headers: as("rita"), data: { input: "Once upon a time" } });
  expect(started.status()).toBe(202);
  const { id } = (await started.json()) as { id: string };
  const events = await request.get(`${studio.base}/api/runs/${id}/events`, { headers: as("vic") });
  expect(await events.text()).toContain("event: run-end");
  const session = await request.get(`${studio.base}/api/sessions/${id}`, { headers: as("vic") });
  expect(await session.json()).toMatchObject({ id, user: "rita", status: "completed" });
  expect(JSON.stringify(await session.json())).not.toContain(tokens.rita!);
  const listed = await trpc(request, "sessions.list", { user: "rita" }, as("vic"));
  expect((listed.data as { items: { id: string; user?: string }[] }).items).toEqual([expect.objectContaining({ id, user: "rita" })]);
  expect((await trpc(request, "sessions.list", { user: "ron" }, as("vic"))).data).toMatchObject({ total: 0 });

  // Another runner may not cancel, rerun or delete it; its own runner may rerun it.
  expect((await trpc(request, "runs.cancel", { id }, as("ron"))).status).toBe(403);
  expect((await trpc(request, "sessions.rerun", { id, fromStage: "ending" }, as("ron"))).status).toBe(403);
  expect((await trpc(request, "sessions.delete", { id }, as("ron"))).status).toBe(403);
  const rerun = await trpc(request, "sessions.rerun", { id, fromStage: "ending" }, as("rita"));
  expect(rerun.status, JSON.stringify(rerun.error)).toBe(200);
  expect((await trpc(request, "runs.cancel", { id: (rerun.data as { id: string }).id }, as("rita"))).status).toBe(200);
  // Runners change no pipeline and no model.
  const pipeline = { stages: [{ id: "only", type: "single", model: "storyteller" }] };
  expect((await trpc(request, "pipelines.save", { name: "access-check", pipeline, baseVersion: null }, as("rita"))).status).toBe(403);
  expect((await trpc(request, "models.unload", { name: "storyteller" }, as("rita"))).status).toBe(403);

  // An editor does; user management stays an admin's.
  const saved = await trpc(request, "pipelines.save", { name: "access-check", pipeline, baseVersion: null }, as("eddie"));
  expect(saved.status).toBe(200);
  expect((await trpc(request, "pipelines.delete", { name: "access-check", baseVersion: (saved.data as { version: string }).version }, as("rita"))).status).toBe(403);
  expect((await trpc(request, "pipelines.delete", { name: "access-check", baseVersion: (saved.data as { version: string }).version }, as("eddie"))).status).toBe(200);
  expect((await trpc(request, "models.unload", { name: "storyteller" }, as("eddie"))).status).toBe(200);
  expect((await trpc(request, "users.list", null, as("eddie"))).status).toBe(403);
  expect((await trpc(request, "sessions.delete", { id }, as("eddie"))).status).toBe(403);

  // An admin deletes anyone's session and revokes users: a revoked token stops working at once.
  expect((await trpc(request, "sessions.delete", { id }, bearer(adminToken))).status).toBe(200);
  expect((await trpc(request, "users.revoke", { name: "ron" }, bearer(adminToken))).status).toBe(200);
  expect((await trpc(request, "sessions.list", {}, as("ron"))).status).toBe(401);
  tokensOf = tokens;
});

/** The tokens the role test made, for the browser tests after it. */
let tokensOf: Record<string, string> = {};

test("a login sets an httpOnly SameSite cookie without the token, and failed logins are locked out", async ({ request }) => {
  const login = await request.post(`${studio.base}/api/auth/login`, { headers: { "content-type": "application/json" }, data: { token: adminToken } });
  expect(login.status()).toBe(200);
  const cookie = login.headers()["set-cookie"]!;
  expect(cookie).toMatch(/^project_llm_login=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
  expect(cookie).not.toContain(adminToken);
  expect(await login.json()).toEqual({ user: "admin", role: "admin" });
  // Failed logins from another address of this machine (127.0.0.2), each naming 127.0.0.1 in
  // X-Forwarded-For: the lockout falls on the connection's address, never on one a client names.
  const answers: number[] = [];
  for (let attempt = 0; attempt < 9; attempt++) {
    const response = await postFrom(`${studio.base.replace("127.0.0.1", "127.0.0.2")}/api/auth/login`, JSON.stringify({ token: "x".repeat(44) }), { "x-forwarded-for": "127.0.0.1" });
    answers.push(response.status);
    if (response.status === 429) expect(Number(response.retryAfter)).toBeGreaterThan(0);
  }
  // Five free failures; the sixth locks the address out for 1 s, the seventh for 2 s, ...
  expect(answers.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
  expect(answers.slice(6)).toContain(429);
  // The address it named is not locked out.
  expect((await request.post(`${studio.base}/api/auth/login`, { headers: { "content-type": "application/json" }, data: { token: adminToken } })).status()).toBe(200);
  // A login body is read with a small limit.
  expect((await request.post(`${studio.base}/api/auth/login`, { headers: { "content-type": "application/json" }, data: JSON.stringify({ token: "x".repeat(100_000) }) })).status()).toBe(413);
  // The token is never in the server's output but for the first start's line.
  expect(studio.output().split(adminToken).length - 1).toBe(1);
});

test("a runner logs in by the link, runs, and is refused a save in the Editor; History shows who ran what", async ({ page }) => {
  test.setTimeout(120_000);
  const errors = watchConsole(page);
  await page.goto(`${studio.base}/login?token=${tokensOf.rita}&next=%2F`);
  // The token leaves the address at once; the page it goes to says who is there.
  await expect(page).toHaveURL(`${studio.base}/`);
  const menu = page.getByTestId("user-menu");
  await expect(menu).toContainText("Logged in as rita (runner)");
  await expect(menu.getByRole("link", { name: "Users" })).toHaveCount(0);
  await page.getByLabel("Input", { exact: true }).fill("Once upon a time");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByTestId("run-status")).toHaveText("completed", { timeout: 60_000 });

  await page.goto(`${studio.base}/editor?pipeline=story`);
  await page.getByTestId("stage-node-opening").click();
  await page.getByTestId("stage-name").fill("A first draft");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByText("Your role may not do this, or it belongs to another user.")).toBeVisible();

  await page.goto(`${studio.base}/history`);
  const filter = page.getByLabel("User", { exact: true });
  await expect(filter.locator("option", { hasText: "rita" })).toHaveCount(1);
  await filter.selectOption("rita");
  await expect(page).toHaveURL(/user=rita/);
  const users = page.getByTestId("session-user");
  await expect(users.first()).toHaveText("rita");
  expect(new Set(await users.allTextContents())).toEqual(new Set(["rita"]));
  await page.getByTestId("session-user").first().locator("xpath=ancestor::tr").getByRole("link").first().click();
  await expect(page).toHaveURL(/\/history\/\d{8}-\d{6}-[0-9a-f]+/);
  await expect(page.getByTestId("session-user")).toHaveText("rita");

  await menu.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto(`${studio.base}/history`);
  await expect(page).toHaveURL(/\/login\?next=%2Fhistory$/);
  // The console's refusals are the save and the pages after logging out, each expected.
  expect(errors.filter((error) => !/40[13]/.test(error))).toEqual([]);
});

test("History hydrates as the server rendered it, though the nav knows the user before the list", async ({ page }) => {
  await page.goto(`${studio.base}/login?token=${tokensOf.rita}&next=%2F`);
  await expect(page).toHaveURL(`${studio.base}/`);
  // From here on (the login page asks who is there before the login, and is told 401).
  const errors = watchConsole(page);
  // The list's code comes a second late: by then the nav, hydrated first, has its answer to who is there,
  // which the server did not have when it rendered the list.
  await page.route(/\/_next\/static\/chunks\/app\/history\/page-[^/]*\.js$/, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await route.continue();
  });
  await page.goto(`${studio.base}/history`);
  await expect(page.getByTestId("user-menu")).toContainText("Logged in as rita (runner)");
  await expect(page.getByLabel("User", { exact: true })).toBeVisible();
  expect(errors).toEqual([]);
});

test("a viewer logs in with the form, reads History, and may not run", async ({ page }) => {
  await page.goto(`${studio.base}/models`);
  await expect(page).toHaveURL(/\/login\?next=%2Fmodels$/);
  await page.getByLabel("Token").fill("not-a-token-at-all-no");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("main").getByRole("alert").first()).toContainText("That token is no user's");
  await page.getByLabel("Token").fill(tokensOf.vic!);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(`${studio.base}/models`);
  await expect(page.getByTestId("user-menu")).toContainText("Logged in as vic (viewer)");
  await page.goto(`${studio.base}/`);
  await page.getByLabel("Input", { exact: true }).fill("Once upon a time");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByText("Your role may not do this, or it belongs to another user.")).toBeVisible();
  await page.goto(`${studio.base}/users`);
  await expect(page.locator("main").getByRole("alert").first()).toContainText("Your role may not do this");
});

test("an admin adds a user (the token shown once) and revokes them on the Users page", async ({ page, request }) => {
  await page.goto(`${studio.base}/login?token=${adminToken}&next=%2Fusers`);
  await expect(page).toHaveURL(`${studio.base}/users`);
  await expect(page.getByTestId("user-row-admin")).toContainText("(you)");
  await page.getByLabel("Name").fill("una");
  await page.getByLabel("Role").selectOption("editor");
  await page.getByRole("button", { name: "Add a user" }).click();
  const token = (await page.getByTestId("token").textContent())!;
  expect(token).toMatch(/^[A-Za-z0-9_-]{44}$/);
  await expect(page.getByTestId("new-token")).toContainText(`/login?token=${token}`);
  await expect(page.getByTestId("user-row-una")).toContainText("editor");
  expect((await trpc(request, "auth.me", null, bearer(token))).data).toMatchObject({ user: "una", role: "editor" });
  page.once("dialog", (dialog) => void dialog.accept());
  await page.getByTestId("user-row-una").getByRole("button", { name: "Revoke una" }).click();
  await expect(page.getByTestId("user-row-una")).toHaveCount(0);
  expect((await trpc(request, "auth.me", null, bearer(token))).status).toBe(401);
});

test("a revoked user's open event streams end, revoked by an admin or by the CLI in another process, and their token and cookie stop working", async ({ request }) => {
  test.setTimeout(120_000);
  // A synthetic session (named as such): its replay at the recorded pace lasts two minutes, so a stream
  // that ends sooner was ended by the revocation.
  const id = "20000101-000000-7e7e7e";
  await writeSyntheticSession(path.join(work, "sessions-access"), id, { count: 120, tokensPerEvent: 1, gapMs: 1000 });
  for (const how of ["admin", "cli"] as const) {
    const name = `follower-${how}`;
    const added = await trpc(request, "users.add", { name, role: "viewer" }, bearer(adminToken));
    const token = (added.data as { token: string }).token;
    const login = await request.post(`${studio.base}/api/auth/login`, { headers: { "content-type": "application/json" }, data: { token } });
    const cookie = login.headers()["set-cookie"]!.split(";")[0]!;
    const streams = await Promise.all([
      follow(`${studio.base}/api/runs/${id}/events?pace=recorded`, bearer(token)),
      follow(`${studio.base}/api/runs/${id}/events?pace=recorded`, { cookie }),
      follow(`${studio.base}/api/trpc/runs.events?input=${encodeURIComponent(JSON.stringify({ id, pace: "recorded" }))}`, bearer(token)),
    ]);
    // Each stream is under way: its first text arrived.
    for (const stream of streams) await stream.until((text) => text.includes("w1"));
    // Checked before (cached): still a user's until the revocation.
    expect((await trpc(request, "auth.me", null, bearer(token))).status).toBe(200);
    if (how === "admin") {
      expect((await trpc(request, "users.revoke", { name }, bearer(adminToken))).status).toBe(200);
    } else {
      const revoked = spawnSync(process.execPath, ["dist/cli/main.js", "users", "revoke", name], { env: { ...process.env, PROJECT_LLM_DATA_DIR: dataDir }, encoding: "utf8" });
      expect(revoked.status, revoked.stderr).toBe(0);
    }
    const ended = await Promise.all(streams.map((stream) => stream.ended));
    // The plain streams say why they ended; tRPC's ends, and its client's reconnection is refused.
    expect(ended[0]).toContain("was revoked");
    expect(ended[1]).toContain("was revoked");
    // Not one event more than the replay had reached: far from the last of its 120.
    for (const text of ended) expect(text).not.toContain("w100");
    expect((await trpc(request, "auth.me", null, bearer(token))).status).toBe(401);
    expect((await trpc(request, "auth.me", null, { cookie })).status).toBe(401);
    expect((await fetch(`${studio.base}/api/trpc/runs.events?input=${encodeURIComponent(JSON.stringify({ id }))}`, { headers: bearer(token) })).status).toBe(401);
  }
});

/**
 * Follows an event stream: `until` waits for its text so far to pass a check, `ended` for its end (its
 * whole text), failing after 20 s, a sixth of the replay the tests above follow.
 */
async function follow(url: string, headers: Record<string, string>) {
  const response = await fetch(url, { headers });
  expect(response.status, url).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let done = false;
  const waiters: Array<() => void> = [];
  void (async () => {
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (chunk.value) text += decoder.decode(chunk.value, { stream: true });
      if (chunk.done) done = true;
      for (const wake of waiters.splice(0)) wake();
      if (done) return;
    }
  })();
  const wait = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!check()) {
      if (Date.now() > deadline) {
        await reader.cancel();
        throw new Error(`${url}: ${what} not within 20 s; got:\n${text.slice(-500)}`);
      }
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  };
  return {
    until: (check: (text: string) => boolean) => wait(() => check(text), "the text awaited"),
    get ended() {
      return wait(() => done, "the end").then(() => text);
    },
  };
}

test("the login, Users and History pages, in both languages, light and dark, wide and narrow", async ({ browser }) => {
  test.setTimeout(120_000);
  for (const locale of ["en-US", "ru-RU"]) {
    for (const colorScheme of schemesFor(locale)) {
      for (const viewport of [{ width: 1400, height: 900 }, { width: 390, height: 844 }]) {
        const context = await browser.newContext({ locale, colorScheme, viewport });
        const page = await context.newPage();
        const name = `${locale.slice(0, 2)}-${colorScheme}-${viewport.width}`;
        await page.goto(`${studio.base}/login`);
        await expect(page.getByLabel(locale === "en-US" ? "Token" : "Токен")).toBeVisible();
        await shot(page, `auth-login-${name}`);
        const russian = async () => {
          if (locale !== "ru-RU") return;
          // User names are data, also where a label names them ("Отозвать rita").
          const left = await englishLeft(page, { allowed: ["rita", "vic", "eddie", "admin", "local"] });
          expect(left, `English left on ${page.url()}:\n${describeLeftOvers(left)}`).toEqual([]);
        };
        await russian();
        await page.goto(`${studio.base}/login?token=${adminToken}&next=%2Fusers`);
        await expect(page.getByTestId("user-row-rita")).toBeVisible();
        await shot(page, `auth-users-${name}`);
        await russian();
        await page.goto(`${studio.base}/history`);
        await expect(page.getByTestId(viewport.width > 640 ? "session-user" : "session-user-card").first()).toBeVisible();
        await shot(page, `auth-history-${name}`);
        await russian();
        await context.close();
      }
    }
  }
});

/** A JSON POST from 127.0.0.2 (another address of this machine): its status and Retry-After. */
function postFrom(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", localAddress: "127.0.0.2", headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers } }, (response) => {
      response.resume();
      response.on("end", () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers["retry-after"] as string | undefined }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

test("a studio whose HOST is loopback refuses other machines even when its server was started on 0.0.0.0 by other means", async ({ request }) => {
  test.setTimeout(180_000);
  // This machine's address on its network: a request to it comes from that address, not from loopback.
  const lan = Object.values(os.networkInterfaces()).flat().find((entry) => entry?.family === "IPv4" && !entry.internal)?.address;
  test.skip(!lan, "this machine has no network address besides loopback");
  const open = spawnStudio({
    args: [path.resolve("node_modules/next/dist/bin/next"), "start", "-H", "0.0.0.0", "-p", String(Number(process.env.E2E_PORT ?? 3123) + 6)],
    portOffset: 6,
    sessions: "sessions-wide",
    env: { HOST: "127.0.0.1", PROJECT_LLM_DATA_DIR: path.join(work, "data-wide") },
  });
  try {
    await expect.poll(async () => (await request.get(`${open.base}/api/health`).catch(() => undefined))?.status(), { timeout: 150_000 }).toBe(200);
    // From this machine: the local user, no login, as always.
    expect((await request.get(`${open.base}/api/trpc/auth.me`)).status()).toBe(200);
    // From its network address: refused, pages and APIs alike, saying how to serve the network.
    const wide = open.base.replace("127.0.0.1", lan!);
    for (const route of ["/api/trpc/auth.me", "/api/sessions/20261124-120102-3fa9c1", "/v1/models", "/", "/history"]) {
      const response = await request.get(`${wide}${route}`, { maxRedirects: 0 });
      expect(response.status(), route).toBe(403);
      expect(await response.text(), route).toContain("HOST=0.0.0.0");
    }
  } finally {
    open.server.kill("SIGTERM");
    await open.exited;
  }
});
