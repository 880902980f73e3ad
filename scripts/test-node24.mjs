// Runs the store, server, CLI and SDK suites a second time on Node 24, where the store uses
// node:sqlite (the first run, `npm run test:ts`, is on Node 20 with better-sqlite3). The
// Node 24 binary comes from scripts/node24.mjs.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { node24 } from "./node24.mjs";

/** Path prefixes of the files it runs: every store, server, CLI, SDK and remote-logging test file. */
const SUITES = ["tests/store", "tests/server-", "tests/cli-", "tests/sdk-", "tests/remote-"];

let node;
try {
  node = node24();
} catch (error) {
  process.stderr.write(`test:node24: ${error.message}\n`);
  process.exit(1);
}
const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
if (!/^v2[4-9]\./.test(version)) {
  process.stderr.write(`test:node24: ${node} is Node ${version || "(did not run)"}, not Node 24 or later.\n`);
  process.exit(1);
}
process.stdout.write(`--- the same suites on Node ${version} (${node}), store on node:sqlite\n`);
// The parametrised suites' PostgreSQL half ran in the first pass; the PostgreSQL driver is the same here.
const env = { ...process.env, STONKS_TEST_BACKENDS: "sqlite" };
delete env.STONKS_SQLITE_DRIVER;
// Files about PostgreSQL alone match the prefixes too; nothing of SQLite's driver runs in them.
const POSTGRES_ONLY = new Set(["tests/store-pg.test.ts", "tests/server-pg.test.ts"]);
const files = readdirSync("tests")
  .map((name) => `tests/${name}`)
  .filter((path) => path.endsWith(".test.ts") && SUITES.some((prefix) => path.startsWith(prefix)))
  .filter((path) => !POSTGRES_ONLY.has(path));
const result = spawnSync(node, ["node_modules/vitest/vitest.mjs", "run", ...files], {
  stdio: "inherit",
  env,
});
process.exit(result.status ?? 1);
