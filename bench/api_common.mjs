// Shared by the API benchmarks (bench/api_*.mjs): timing statistics, a
// database in a temporary folder, the machine description, and the
// "REST API and live events" section of bench/RESULTS.md.
// Needs `npm run build`: everything runs against dist/.

import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { writeResultsBlock } from "./results.mjs";

const HEADING = "## REST API and live events (bench/api_*.mjs)";

export const PROVENANCE = {
  host: "bench",
  pid: 1,
  command: "bench",
  cwd: "/",
  gitCommit: null,
  gitDirty: null,
  sdkLanguage: "typescript",
  sdkVersion: "0",
};

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export const ms = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

/** Times `fn` `repeats` times after `warmup` untimed calls; milliseconds per call. */
export async function timeCalls(fn, repeats, warmup = 3) {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return samples;
}

export function tempDb(name) {
  const dir = mkdtempSync(join(tmpdir(), `stonks-${name}-`));
  return { path: join(dir, "bench.db"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function machine() {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`;
}

/** Replaces this benchmark's block inside its section of RESULTS.md. */
export function writeResults(id, markdown) {
  writeResultsBlock(
    HEADING,
    `A real server (\`startServer\` from dist/) on 127.0.0.1 and a database written through the store layer; requests with Node's fetch over keep-alive. Each benchmark rewrites only its own block below. Command: \`npm run build && node bench/api_<name>.mjs\` (api_series, api_runs, api_live). Medians of 20–50 requests (40 flushes for the live test) within one run.`,
    id,
    markdown,
  );
}
