// Shared by the dashboard benchmarks (bench/ui_*.mjs): a database written
// through the store layer, a real server, headless Chromium, and the
// "Dashboard in Chromium" section of bench/RESULTS.md.
// Needs `npm run build` (the library and ui/dist).

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startServer } from "../dist/server/index.js";
import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { appendPoints, ensureSeries, finishRun, insertRun, touchHeartbeat } from "../dist/store/writes.js";
import { writeResultsBlock } from "./results.mjs";

export const REPEATS = Number(process.env.RUNS ?? 5);
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const HEADING = "## Dashboard in Chromium (bench/ui_*.mjs)";

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : Number.NaN;
};
export const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

export function tempDb(name) {
  const dir = mkdtempSync(join(tmpdir(), `stonks-${name}-`));
  return { path: join(dir, "bench.db"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The provenance of every run a benchmark writes. */
export const PROVENANCE = {
  host: "bench",
  pid: 1,
  command: "bench",
  cwd: "/",
  gitCommit: null,
  gitDirty: null,
  sdkLanguage: "node",
  sdkVersion: "0",
};

/**
 * Writes runs: `keys` metric keys of `points` points each, finished unless live.
 * value(run, key, step) gives the curves.
 */
export function populateRuns(path, { experiment, runs, keys, points, live = false, value }) {
  const db = openDatabase(path);
  const ids = [];
  const now = Date.now() / 1000;
  const steps = Float64Array.from({ length: points }, (_, i) => i);
  for (let r = 0; r < runs; r++) {
    runImmediate(db, () => {
      const created = now - 86_400 + r * 60;
      const run = insertRun(db, {
        experimentName: experiment,
        name: `run-${String(r).padStart(3, "0")}`,
        config: { lr: 10 ** -(1 + (r % 4)), batch: 32 << (r % 3), seed: r },
        tags: r % 2 ? ["sweep"] : ["sweep", "baseline"],
        group: `g${r % 5}`,
        jobType: "train",
        notes: null,
        now: created,
        provenance: PROVENANCE,
      });
      for (const key of keys) {
        const values = Float64Array.from(steps, (s) => value(r, key, s));
        const times = Float64Array.from(steps, (s) => created + s * 0.5);
        appendPoints(db, ensureSeries(db, run.seq, key), steps, values, times);
      }
      if (live) touchHeartbeat(db, run.seq, Date.now() / 1000);
      else finishRun(db, run.seq, "completed", created + points * 0.5);
      ids.push(run.id);
    });
  }
  db.close();
  return ids;
}

export function serve(path) {
  return startServer({ dbPath: path, host: "127.0.0.1", port: 0 });
}

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // More switches for a look inside, e.g. CHROME_ARGS=--js-flags=--trace-gc with DEBUG=pw:browser.
      ...(process.env.CHROME_ARGS ? process.env.CHROME_ARGS.split(" ") : []),
    ],
  });
}

export function machine() {
  let chromiumVersion = "";
  try {
    chromiumVersion = execFileSync(CHROMIUM, ["--version"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {}
  const cpu = cpus();
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ");
  return `${cpu.length} × ${cpu[0]?.model ?? "CPU"} VM, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${chromiumVersion} (headless, --disable-gpu); load average ${load} (1/5/15 min) when the run ended: other work shared the ${cpu.length} cores`;
}

/** Replaces this benchmark's block inside its section of RESULTS.md. */
export function writeResults(id, markdown) {
  writeResultsBlock(
    HEADING,
    `Measured in headless Chromium against a real \`stonks serve\` on 127.0.0.1 with a database written through the store layer. Each benchmark rewrites only its own block below.`,
    id,
    markdown,
  );
}
