import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Native code that could crash runs in forked child processes, so a
    // crash fails one file instead of the runner.
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The JSON report feeds the one-line summary that .ci/run prints.
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
  },
});
