import { defineConfig } from "vitest/config";

/*
 * Tiers (docs/testing.md): `unit` is the pure modules and runs in seconds
 * (`npm run test:unit`); `process` starts real child processes, servers and
 * SQLite files; `browser` drives the real dashboard in Chromium; `package`
 * builds and installs the wheel and the npm tarball. `npm run test:ts` runs them all.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
    // One temporary folder per run, removed at its end (tests/support/global-tmp.ts).
    globalSetup: ["tests/support/global-tmp.ts"],
    projects: [
      { extends: true, test: { name: "unit", include: ["tests/unit/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "process",
          include: ["tests/*.test.ts"],
          exclude: ["tests/ui-*.test.ts", "tests/package-*.test.ts"],
        },
      },
      { extends: true, test: { name: "browser", include: ["tests/ui-*.test.ts"] } },
      { extends: true, test: { name: "package", include: ["tests/package-*.test.ts"] } },
    ],
  },
});
