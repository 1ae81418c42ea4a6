#!/usr/bin/env node
// Builds the app when no build is there (or it is older than the sources), then serves it on
// HOST:PORT (default 127.0.0.1:3000).
import { spawnSync, spawn } from "node:child_process";
import { existsSync, statSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const root = process.cwd();
const buildId = path.join(root, process.env.NEXT_DIST_DIR ?? ".next", "BUILD_ID");

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

// What the build is made of: the sources, the public files, the config and the installed packages.
const inputs = [
  newestMtime(path.join(root, "src")),
  ...["public"].filter((dir) => existsSync(path.join(root, dir))).map((dir) => newestMtime(path.join(root, dir))),
  ...["next.config.mjs", "package.json", "package-lock.json", "postcss.config.mjs", "tailwind.config.ts", "tsconfig.json"]
    .filter((file) => existsSync(path.join(root, file)))
    .map((file) => statSync(path.join(root, file)).mtimeMs),
];
const stale = !existsSync(buildId) || statSync(buildId).mtimeMs < Math.max(...inputs);
// NEXT_MANUAL_SIG_HANDLE: the studio handles SIGTERM and SIGINT itself (runs in flight are marked
// interrupted, the inference worker stops) instead of Next.js exiting at once.
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NEXT_MANUAL_SIG_HANDLE: "1" };
if (stale) {
  const build = spawnSync("npm", ["run", "build"], { stdio: "inherit", env });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
// An empty HOST is the default, as access control reads it (src/server/auth/mode.ts): never "every address".
const host = process.env.HOST?.trim() || "127.0.0.1";
const port = process.env.PORT ?? "3000";
const nextBin = path.join(root, "node_modules", "next", "dist", "bin", "next");
const server = spawn(process.execPath, [nextBin, "start", "--hostname", host, "--port", port], { stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
// The server's own exit code; a server that a signal ended (a kill -9, the out-of-memory killer, a crash)
// exits like a shell reports it, 128 + the signal's number, so that a supervisor restarts it. A SIGTERM
// or SIGINT sent here is forwarded, and the studio stops cleanly on it with 0.
server.on("exit", (code, signal) => process.exit(code ?? 128 + (os.constants.signals[signal] ?? 0)));
