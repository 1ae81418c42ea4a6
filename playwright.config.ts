/**
 * Browser tests: Debian's chromium against the real app (`npm start`, a production build) on a port of
 * its own, with config and sessions in e2e/.work (made fresh by e2e/prepare.mjs) and the real models.
 */
import { defineConfig } from "@playwright/test";
import path from "node:path";

const port = Number(process.env.E2E_PORT ?? 3123);
const work = path.resolve(process.env.E2E_WORK ?? "e2e/.work");

export default defineConfig({
  testDir: "e2e",
  testMatch: /.*\.spec\.ts/,
  fullyParallel: false,
  workers: 1,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  reporter: process.env.CI ? [["list"]] : [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1440, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    },
    // A trace records each action's page and a screencast: on two cores it took an eighth of the suite's
    // time, for every passing test. `npm run test:e2e -- --trace retain-on-failure` records them.
    trace: "off",
    // As a user who asked for less motion: the run's cursor does not pulse (nor repaint every frame).
    reducedMotion: "reduce",
  },
  webServer: {
    command: "node scripts/start.mjs",
    url: `http://127.0.0.1:${port}/api/health`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      HOST: "127.0.0.1",
      PORT: String(port),
      PROJECT_LLM_CONFIG_DIR: path.join(work, "config"),
      PROJECT_LLM_SESSIONS_DIR: path.join(work, "sessions"),
      PROJECT_LLM_DATA_DIR: path.join(work, "data"),
      PROJECT_LLM_MODELS_DIR: path.resolve(process.env.PROJECT_LLM_TEST_MODELS || "models"),
      NEXT_TELEMETRY_DISABLED: "1",
    },
  },
});
