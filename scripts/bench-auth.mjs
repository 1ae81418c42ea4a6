// What a request's identity costs: `npm run build:node && node scripts/bench-auth.mjs`.
import { AccessControl } from "../dist/server/auth/index.js";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
const dir = mkdtempSync(path.join(os.tmpdir(), "project-llm-auth-bench-"));
const access = new AccessControl({ env: { HOST: "0.0.0.0", PROJECT_LLM_DATA_DIR: dir }, cwd: "/" });
const { token } = await access.users.add("ann", "runner");
const req = (headers) => new globalThis.Request("http://studio/", { headers });
const time = async (label, n, f) => {
  const start = performance.now();
  for (let i = 0; i < n; i++) await f();
  console.log(`${label}: ${((performance.now() - start) / n).toFixed(3)} ms`);
};
const login = await access.login(token, req({}));
const cookie = login.setCookie.split(";")[0];
await time("bearer check, seen before", 200, () => access.authenticate(req({ authorization: `Bearer ${token}` })));
await time("cookie check", 200, () => access.authenticate(req({ cookie })));
await time("a token checked by scrypt (a wrong secret for a user's id)", 5, () => access.users.verify(token.slice(0, 12) + "A".repeat(32)));
rmSync(dir, { recursive: true, force: true });
