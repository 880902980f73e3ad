// The README cannot drift: every command block in it is marked with the test
// that runs it, each marked test really uses it, and the clone commands are the
// package.json scripts that the other tests exercise.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./support/helpers.js";
import { commandLines, readmeBlocks } from "./support/package-support.js";

/** Which test file runs each marked README block. */
const RUN_BY: Record<string, string> = {
  "wheel-build": "package-readme.test.ts",
  "wheel-install": "package-wheel.test.ts",
  "wheel-demo": "package-wheel.test.ts",
  "python-log": "package-wheel.test.ts",
  "wheel-cli": "package-wheel.test.ts",
  "npm-install": "package-npm.test.ts",
  "ts-log": "package-npm.test.ts",
  "npm-cli": "package-npm.test.ts",
  "clone-start": "package-readme.test.ts",
  "clone-test": "package-readme.test.ts",
};

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> })
  .scripts;

describe("README.md", () => {
  it("marks every code block with the test that runs it, and each of those tests uses its block", () => {
    const fences = [...readme.matchAll(/^```(.*)$/gm)].map((m) => m[1]);
    const openings = fences.filter((_, i) => i % 2 === 0);
    expect(openings.length).toBeGreaterThan(0);
    for (const opening of openings)
      expect(opening, "a README block without a test: marker").toMatch(/^\w+ test:[\w-]+$/);
    const blocks = readmeBlocks();
    expect([...blocks.keys()].sort()).toEqual(Object.keys(RUN_BY).sort());
    for (const [name, file] of Object.entries(RUN_BY)) {
      const source = readFileSync(join(ROOT, "tests", file), "utf8");
      expect(source, `${file} uses README block ${name}`).toContain(`"${name}"`);
    }
  });

  it("builds the wheel with npm run build:wheel, which is the build plus the script the wheel test runs", () => {
    expect(commandLines("wheel-build")).toEqual(["npm ci && npm run build:wheel"]);
    expect(scripts["build:wheel"]).toBe("npm run build && node scripts/build-wheel.mjs");
    expect(readFileSync(join(ROOT, "tests", "package-wheel.test.ts"), "utf8")).toContain('"scripts/build-wheel.mjs"');
  });

  it("starts the demo dashboard with one command line and runs every suite with another", () => {
    expect(commandLines("clone-start")).toEqual(["npm ci && npm start"]);
    // tests/cli-serve.test.ts serves --demo from dist/cli/main.js, as npm start does after its build.
    expect(scripts.start).toBe("npm run build && node dist/cli/main.js serve --demo");
    expect(commandLines("clone-test")).toEqual(["npm ci && npm test"]);
    for (const part of ["npm run build", "npm run test:ts", "npm run test:py"]) expect(scripts.test).toContain(part);
    expect(scripts["test:ts"]).toBe("vitest run");
  });

  it("names one data file for the demo, the dashboard and both SDKs", () => {
    expect(readme).not.toContain("stonks-demo.db");
    expect(readme).toContain("The demo goes into `./stonks.db`");
    expect(readme).toMatch(/`\.\/stonks\.db` unless you pass/);
  });
});
