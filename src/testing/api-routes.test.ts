import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { exportedMethods, listApiRoutes } from "./api-routes.js";
import { tempDir, writeFiles } from "./fixtures.js";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir: root, cleanup } = await tempDir("project-llm-routes-")));
afterEach(async () => cleanup());

describe("the route lister", () => {
  it("reads the methods a route exports, in each way a module can export them", () => {
    expect(exportedMethods("export async function GET() {}\nexport function POST() {}\nfunction PUT() {}")).toEqual(["GET", "POST"]);
    expect(exportedMethods("export const DELETE = handler;\nexport const runtime = 'nodejs';")).toEqual(["DELETE"]);
    expect(exportedMethods("export { handler as GET, handler as POST, other };")).toEqual(["GET", "POST"]);
  });

  it("finds a route added anywhere under the API folders, so the access tests request it too", async () => {
    await writeFiles(root, {
      "app/api/health/route.ts": "export function GET() {}",
      "app/api/things/[id]/route.ts": "export async function PATCH() {}",
      "app/api/(group)/new/route.ts": "export const GET = () => 1;",
      "app/api/things/helper.ts": "export function GET() {}",
      "app/v1/models/[...id]/route.ts": "export async function GET() {}",
      "app/page/route.ts": "export function GET() {}",
    });
    const routes = await listApiRoutes(path.join(root, "app"), (segment) => `<${segment}>`);
    expect(routes).toEqual([
      { file: path.join("app", "api", "(group)", "new", "route.ts"), path: "/api/new", methods: ["GET"] },
      { file: path.join("app", "api", "health", "route.ts"), path: "/api/health", methods: ["GET"] },
      { file: path.join("app", "api", "things", "[id]", "route.ts"), path: "/api/things/<[id]>", methods: ["PATCH"] },
      { file: path.join("app", "v1", "models", "[...id]", "route.ts"), path: "/v1/models/<[...id]>", methods: ["GET"] },
    ]);
  });

  it("finds every route of this app", async () => {
    const routes = await listApiRoutes(path.resolve("src/app"), (segment) => segment);
    expect(routes.map((route) => `${route.methods.join(",")} ${route.path}`)).toEqual(
      expect.arrayContaining([
        "POST /api/auth/login",
        "GET /api/health",
        "POST /api/runs",
        "GET /api/runs/[id]/events",
        "GET,POST /api/trpc/[trpc]",
        "GET /v1/models",
        "GET /v1/models/[...id]",
        "POST /v1/chat/completions",
      ]),
    );
  });
});
