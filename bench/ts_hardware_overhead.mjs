// CPU cost of startRun(..., { hardware: true }) in the TypeScript SDK.
//
// Run: npm run build && node bench/ts_hardware_overhead.mjs [repeats] [seconds] [--write]
// A child process starts a run with hardware: true, hardwareInterval: 0.1 (50 times the default
// rate, so a short run takes enough samples to measure) and idles; its CPU time over the span
// (process.cpuUsage: the sampler runs on the main thread, the writer in a worker thread) minus the
// same run without hardware, divided by the samples stored, then scaled to one sample per 5 s
// (the default). GPUs are left out: this machine has none (with one, every sample also runs
// nvidia-smi, a child process of its own).
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { machine, median, tempDb } from "./api_common.mjs";
import { writeResultsBlock } from "./results.mjs";

const DIST = join(import.meta.dirname, "..", "dist", "index.js");
const INTERVAL = 0.1;
const DEFAULT_INTERVAL = 5;

const CHILD = `
const { open, startRun } = await import(${JSON.stringify(DIST)});
const [db, hardware, seconds] = [process.argv[1], process.argv[2] === "1", Number(process.argv[3])];
const run = startRun("bench-hw", { db, hardware, hardwareInterval: ${INTERVAL}, hardwareGpu: false }).start();
run.log({ loss: 1 });
await new Promise((r) => setTimeout(r, 200));
const count = async () => {
  await run.flush();
  const reader = open(db, { readonly: true });
  try { return hardware ? reader.getMetrics(run.id, "sys/ram_used_gb").values.length : 0; } finally { reader.close(); }
};
const before = await count();
const start = process.cpuUsage();
await new Promise((r) => setTimeout(r, seconds * 1000));
const used = process.cpuUsage(start);
const samples = (await count()) - before;
await run.finish();
console.log((used.user + used.system) / 1e6, samples);
`;

function measure(hardware, seconds) {
  const db = tempDb("hw");
  try {
    const out = execFileSync(
      process.execPath,
      ["--input-type=module", "-e", CHILD, db.path, hardware ? "1" : "0", String(seconds)],
      {
        encoding: "utf8",
        env: { ...process.env, STONKS_LOG_LEVEL: "error" },
      },
    );
    const [cpu, samples] = out.trim().split(/\s+/).map(Number);
    return { cpu, samples };
  } finally {
    db.remove();
  }
}

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const repeats = Number(args[0] ?? 3);
const seconds = Number(args[1] ?? 20);
const rows = [];
for (let i = 0; i < repeats; i++) {
  const withHw = measure(true, seconds);
  const without = measure(false, seconds);
  const perSample = Math.max(0, withHw.cpu - without.cpu) / withHw.samples;
  rows.push({ samples: withHw.samples, perSampleMs: perSample * 1e3, share: (100 * perSample) / DEFAULT_INTERVAL });
}
console.log(rows);
const perSampleMs = median(rows.map((r) => r.perSampleMs));
const share = median(rows.map((r) => r.share));
console.log(`median ${perSampleMs.toFixed(3)} ms CPU per sample; ${share.toFixed(4)} % of one core at 5 s`);
if (process.argv.includes("--write")) {
  writeResultsBlock(
    "## System metrics overhead (issue 15)",
    "What `hardware: true` / `hardware=True` costs the training process. The Python numbers sit in their own block after the Python SDK section (bench/py_hardware_overhead.py).",
    "ts-hardware-overhead",
    `### TypeScript (bench/ts_hardware_overhead.mjs)

Command: \`node bench/ts_hardware_overhead.mjs ${repeats} ${seconds} --write\` (${new Date().toISOString().slice(0, 10)}). Machine: ${machine()}; load average ${loadavg()[0].toFixed(1)} when it ended (other jobs shared the cores). A run with \`hardware: true, hardwareInterval: ${INTERVAL}\` idles ${seconds} s; the process CPU time (process.cpuUsage: main thread, where the sampler runs, and the writer thread that stores the samples) minus the same run without hardware, divided by the samples stored, scaled to one sample per ${DEFAULT_INTERVAL} s (the default). No GPU here: cpu, ram, disk, net and process families only. Medians of ${repeats}.

| measurement | CPU per sample | share of one core at the 5 s default | goal | samples (per repeat) |
|---|---|---|---|---|
| whole process, minus a run without hardware | ${perSampleMs.toFixed(3)} ms | ${share.toFixed(4)} % | < 1 % | ${rows.map((r) => r.samples).join(", ")} |`,
  );
}
