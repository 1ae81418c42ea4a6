import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests run real models in worker processes: on two cores they must not run in parallel.
    fileParallelism: false,
  },
});
