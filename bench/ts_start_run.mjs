// The writer thread's start, in fresh processes: what a script that only reads pays (no thread), and
// startRun() to the first durable point for a script that writes (goal: ≤ 20 ms).
// Run: npm run build && node bench/ts_start_run.mjs [--write]   (RUNS fresh processes per measure, default 15)
// BEFORE_DIST=/path/to/an/earlier/dist adds that build as a column, measured interleaved with this one.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startRun } from "../dist/index.js";
import { writeResultsBlock } from "./results.mjs";

const RUNS = Number(process.env.RUNS ?? 15);
const builds = [{ name: "this build", entry: new URL("../dist/index.js", import.meta.url).href }];
if (process.env.BEFORE_DIST) {
  builds.push({ name: "before", entry: pathToFileURL(join(resolve(process.env.BEFORE_DIST), "index.js")).href });
}
const dir = mkdtempSync(join(tmpdir(), "stonks-bench-start-"));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs an ES module script in a fresh Node; it prints one JSON line of measures. */
function child(script) {
  const t0 = performance.now();
  const out = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    env: { ...process.env, STONKS_LOG_LEVEL: "warn" },
  });
  const wall = performance.now() - t0;
  if (out.status !== 0) throw new Error(`child failed: ${out.stderr}`);
  return { ...JSON.parse(out.stdout.trim().split("\n").pop()), process: wall };
}

// A reader: import, open, list runs, read a series, close; the process then exits by itself. Counted apart
// (not timed): the worker threads such a script has 300 ms later, when a thread booted at import is surely up.
const readDb = join(dir, "read.db");
await startRun("bench-read", { db: readDb }, (run) => {
  for (let i = 0; i < 1000; i++) run.log({ loss: 1 / (i + 1) });
});
const reader = (entry, countWorkers) => `
  const t0 = performance.now();
  const { open } = await import(${JSON.stringify(entry)});
  const db = open(${JSON.stringify(readDb)});
  const run = db.listRuns()[0];
  const points = db.getMetrics(run.id, "loss").values.length;
  db.close();
  const read = performance.now() - t0;
  let workers = null;
  if (${countWorkers}) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    workers = process.report.getReport().workers.length;
  }
  console.log(JSON.stringify({ read, points, workers }));`;

// A writer, after a pause (a script loading its data) or right after import.
const writer = (entry, db, pauseMs) => `
  const { startRun } = await import(${JSON.stringify(entry)});
  ${pauseMs > 0 ? `await new Promise((resolve) => setTimeout(resolve, ${pauseMs}));` : ""}
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const run = startRun("first", { db: ${JSON.stringify(db)} }).start();
  run.log({ loss: 1 });
  await run.flush();
  const first = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await run.finish();
  console.log(JSON.stringify({ first, cpu: (cpu.user + cpu.system) / 1000 }));`;

for (const build of builds)
  build.samples = { read: [], readProcess: [], readWorkers: [], warm: [], warmCpu: [], cold: [] };
for (let r = 0; r < RUNS; r++) {
  for (const [b, build] of builds.entries()) {
    const read = child(reader(build.entry, false));
    if (read.points !== 1000) throw new Error("short read");
    build.samples.read.push(read.read);
    build.samples.readProcess.push(read.process);
    build.samples.readWorkers.push(child(reader(build.entry, true)).workers);
    const warm = child(writer(build.entry, join(dir, `warm-${b}-${r}.db`), 200));
    build.samples.warm.push(warm.first);
    build.samples.warmCpu.push(warm.cpu);
    build.samples.cold.push(child(writer(build.entry, join(dir, `cold-${b}-${r}.db`), 0)).first);
  }
}
rmSync(dir, { recursive: true, force: true });

const ms = (xs) => `${median(xs).toFixed(1)} ms`;
const measures = [
  ["reader: import + open + listRuns + 1,000-point read", (s) => ms(s.read), "(context)"],
  ["reader: whole process, spawn to exit", (s) => ms(s.readProcess), "(context)"],
  ["reader: worker threads 300 ms after the read (max)", (s) => String(Math.max(...s.readWorkers)), "0"],
  ["startRun() to first point durable, 200 ms after import", (s) => ms(s.warm), "≤ 20 ms"],
  ["the same span: CPU time of the process (both threads)", (s) => ms(s.warmCpu), "(context)"],
  ["startRun() to first point durable, right after import", (s) => ms(s.cold), "(context)"],
];
const header = `| measure | ${builds.map((b) => b.name).join(" | ")} | goal |`;
const rows = measures.map(
  ([name, show, goal]) => `| ${name} | ${builds.map((b) => show(b.samples)).join(" | ")} | ${goal} |`,
);
const markdown = `### Writer thread start (bench/ts_start_run.mjs)

Command: \`npm run build && ${process.env.BEFORE_DIST ? "BEFORE_DIST=<earlier build>/dist " : ""}node bench/ts_start_run.mjs --write\` (${new Date().toISOString().slice(0, 10)}). Machine: ${cpus().length} × ${cpus()[0].model}, Node ${process.version}; load average ${loadavg()[0].toFixed(1)} when it ended. Medians of ${RUNS} fresh processes per cell${builds.length > 1 ? ", the builds interleaved" : ""}.

${header}
|---|${builds.map(() => "---|").join("")}---|
${rows.join("\n")}

The writer thread boots on the first turn of the event loop after \`import\`, unless \`open()\` was called before it: a script that only reads starts no thread (Node's diagnostic report lists no worker), and a script that awaits anything before \`startRun()\` (loading data; here a 200 ms timer) finds the thread booted. A script that calls \`startRun()\` before its first await waits for the boot inside \`start()\` (the last row). Wall times on a loaded machine include waiting for a core; the CPU row (\`process.cpuUsage()\`, both threads) does not.`;
console.log(markdown);
if (process.argv.includes("--write")) {
  writeResultsBlock("## TypeScript SDK and storage (bench/ts_sdk.mjs)", "", "ts-start-run", markdown);
}
