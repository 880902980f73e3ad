// `stonks serve` time to first answer: from spawning the command to the first
// 200 from GET /api/experiments, on a database that already holds the demo data.
//
//   node bench/serve_start.mjs [--node PATH] [--entry FILE] [--command PATH] [--env K=V]… [--runs N]
//
// --node and --entry pick the runtime and the CLI (default: this Node and
// dist/cli/main.js); --command runs a launcher instead (e.g. a venv's `stonks`);
// --env passes variables (e.g. the storage driver, once it can be chosen).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** argv for one CLI call: [program, ...args]. */
function commandLine(target, args) {
  if (target.command) return [target.command, ...args];
  return [target.node ?? process.execPath, target.entry ?? join(ROOT, "dist", "cli", "main.js"), ...args];
}

async function timeOneStart(target, dbPath, env) {
  const [program, ...args] = commandLine(target, ["serve", "--db", dbPath, "--port", "0"]);
  const started = performance.now();
  const child = spawn(program, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const closed = new Promise((resolve) => child.on("close", resolve));
  try {
    const url = await new Promise((resolve, reject) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        const match = /dashboard: (http:\/\/\S+?)\/$/.exec(line);
        if (match) resolve(match[1]);
      });
      void closed.then(() => reject(new Error(`serve exited before listening: ${stderr.trim()}`)));
    });
    const response = await fetch(`${url}/api/experiments`);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`GET /api/experiments answered ${response.status}`);
    return performance.now() - started;
  } finally {
    child.kill("SIGTERM");
    await closed;
  }
}

/** Medians and samples of `runs` cold starts of one target. */
export async function measureServeStart(target, { runs = 5, env = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "stonks-serve-start-"));
  const childEnv = { ...process.env, STONKS_DB: "", STONKS_TOKEN: "", STONKS_LOG_LEVEL: "warn", ...env };
  try {
    const dbPath = join(dir, "stonks.db");
    const [program, ...args] = commandLine(target, ["demo", "--db", dbPath]);
    const demo = spawnSync(program, args, { env: childEnv, encoding: "utf8" });
    if (demo.status !== 0) throw new Error(`demo failed: ${demo.stderr.trim()}`);
    const samples = [];
    for (let i = 0; i < runs; i++) samples.push(await timeOneStart(target, dbPath, childEnv));
    return { median: median(samples), samples };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = {};
  const env = {};
  let runs = 5;
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === "--node") target.node = value;
    else if (flag === "--entry") target.entry = value;
    else if (flag === "--command") target.command = value;
    else if (flag === "--runs") runs = Number(value);
    else if (flag === "--env") env[value.slice(0, value.indexOf("="))] = value.slice(value.indexOf("=") + 1);
    else throw new Error(`unknown option ${flag}`);
  }
  const result = await measureServeStart(target, { runs, env });
  process.stdout.write(
    `serve to first answer: median ${result.median.toFixed(0)} ms (samples ${result.samples.map((s) => s.toFixed(0)).join(", ")})\n`,
  );
}
