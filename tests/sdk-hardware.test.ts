// System metrics of the TypeScript SDK (startRun(..., { hardware: true })) in real child processes:
// machine metrics from this machine's real /proc; GPUs through an nvidia-smi executable placed
// first on PATH that answers in the real tool's format (a fake of the external tool only).
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { open, StonksError, startRun } from "../dist/index.js";
import { meminfoKib, parseNvidiaSmi } from "../dist/sdk/hardware.js";
import { killFixtures, runFixture, tempDb, tempDir } from "./support/helpers.js";

afterEach(killFixtures);

const GB = 2 ** 30;
const MACHINE_KEYS = [
  "sys/cpu_percent",
  "sys/ram_used_gb",
  "sys/ram_total_gb",
  "sys/ram_percent",
  "sys/disk_read_mb",
  "sys/disk_write_mb",
  "sys/net_sent_mb",
  "sys/net_recv_mb",
  "sys/proc_cpu_percent",
  "sys/proc_rss_gb",
];
const SMI_OUTPUT = "0, 87, 30512, 81559, 64, 312.45\n1, [N/A], 1024, 81559, 41, [Not Supported]\n";
const SMI_ARGS = [
  "--query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw",
  "--format=csv,noheader,nounits",
];

interface Stored {
  runId: string;
  series: Map<string, { steps: number[]; values: number[]; times: number[] }>;
  createdAt: number;
  endedAt: number | null;
  status: string;
}

function stored(db: string): Stored {
  const reader = open(db, { readonly: true });
  try {
    const run = reader.listRuns()[0];
    const series = new Map<string, { steps: number[]; values: number[]; times: number[] }>();
    for (const key of reader.getMetricKeys(run.id)) {
      const s = reader.getMetrics(run.id, key);
      series.set(key, { steps: [...s.steps], values: [...s.values], times: [...s.timestamps] });
    }
    return { runId: run.id, series, createdAt: run.createdAt, endedAt: run.endedAt, status: run.status };
  } finally {
    reader.close();
  }
}

/** A directory holding an nvidia-smi that records its arguments, prints `output` and exits with `status`. */
function fakeNvidiaSmi(output: string, status = 0): { bin: string; args: string } {
  const bin = join(tempDir("stonks-smi-"), "bin");
  mkdirSync(bin);
  const args = join(bin, "args.txt");
  writeFileSync(
    join(bin, "nvidia-smi"),
    // Appended, not rewritten: a query the finished run kills (HardwareSampler.stop) may be cut
    // between a rewrite's truncation and its write, leaving the file empty.
    `#!/bin/sh\nprintf "%s\\n" "$@" >> "${args}"\nprintf '%s' '${output}'\nexit ${status}\n`,
  );
  chmodSync(join(bin, "nvidia-smi"), 0o755);
  return { bin, args };
}

const warningsOf = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("stonks warn:"));

describe("system metrics from /proc", () => {
  it("logs plausible machine and process metrics at the sampler's own steps", async () => {
    const db = tempDb();
    const result = await runFixture("hardware-run.mjs", { DB: db, GPU: "0" });
    expect(result.code, result.stderr).toBe(0);
    expect(warningsOf(result.stderr)).toEqual([]);
    const { series, createdAt, endedAt } = stored(db);
    for (const key of MACHINE_KEYS) expect(series.has(key), key).toBe(true);
    const memTotal = meminfoKib(readFileSync("/proc/meminfo", "latin1")).get("MemTotal")! * 1024;
    expect(new Set(series.get("sys/ram_total_gb")!.values)).toEqual(new Set([memTotal / GB]));
    for (const key of ["sys/cpu_percent", "sys/ram_percent"]) {
      for (const v of series.get(key)!.values) expect(v >= 0 && v <= 100, `${key} ${v}`).toBe(true);
    }
    for (const v of series.get("sys/ram_used_gb")!.values) expect(v > 0 && v < memTotal / GB).toBe(true);
    for (const v of series.get("sys/proc_rss_gb")!.values) expect(v > 0 && v < memTotal / GB).toBe(true);
    for (const v of series.get("sys/proc_cpu_percent")!.values) expect(v >= 0).toBe(true);
    for (const key of ["sys/disk_read_mb", "sys/disk_write_mb", "sys/net_sent_mb", "sys/net_recv_mb"]) {
      const values = series.get(key)!.values;
      expect(values[0]).toBeGreaterThanOrEqual(0);
      expect(values, key).toEqual([...values].sort((a, b) => a - b));
    }
    const samples = series.get("sys/ram_used_gb")!.steps;
    expect(samples.length).toBeGreaterThanOrEqual(4);
    expect(samples).toEqual(samples.map((_, i) => i));
    // A CPU share needs a span of time: the sample taken at start has none.
    expect(series.get("sys/cpu_percent")!.steps).toEqual(samples.slice(1));
    // The user's steps are not moved by the samples.
    const loss = series.get("loss")!.steps;
    expect(loss).toEqual(loss.map((_, i) => i));
    for (const key of MACHINE_KEYS) {
      const times = series.get(key)!.times;
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(times[0]).toBeGreaterThanOrEqual(createdAt);
      expect(times.at(-1)!).toBeLessThanOrEqual(endedAt!);
    }
    expect([...series.keys()].some((key) => key.startsWith("sys/gpu"))).toBe(false);
  });

  it("does not keep the process alive, and nothing is sampled after the exit hook finished the run", async () => {
    const db = tempDb();
    // A 1 s interval: the process would stay up if the timer were not unref'd.
    const result = await runFixture("hardware-run.mjs", { DB: db, GPU: "0", FINISH: "0", INTERVAL: "1", SAMPLES: "2" });
    expect(result.code, result.stderr).toBe(0);
    const { series, endedAt, status } = stored(db);
    expect(status).toBe("completed");
    for (const key of MACHINE_KEYS) expect(series.get(key)!.times.at(-1)!).toBeLessThanOrEqual(endedAt!);
  });

  it("refuses an interval that is not a positive number of seconds", () => {
    for (const hardwareInterval of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "5" as unknown as number]) {
      expect(() => startRun("hw", { db: tempDb(), hardware: true, hardwareInterval })).toThrow(StonksError);
    }
  });
});

describe("GPUs through nvidia-smi", () => {
  it("reads every GPU nvidia-smi lists, leaving out what a GPU does not support", async () => {
    const db = tempDb();
    const smi = fakeNvidiaSmi(SMI_OUTPUT);
    const result = await runFixture("hardware-run.mjs", { DB: db, PATH: smi.bin, SAMPLES: "2" });
    expect(result.code, result.stderr).toBe(0);
    expect(warningsOf(result.stderr)).toEqual([]);
    expect(readFileSync(smi.args, "utf8").split("\n").slice(0, 2)).toEqual(SMI_ARGS);
    const { series } = stored(db);
    const last = Object.fromEntries(
      [...series].filter(([key]) => key.startsWith("sys/gpu")).map(([key, s]) => [key, s.values.at(-1)]),
    );
    expect(last).toEqual({
      "sys/gpu0_util": 87,
      "sys/gpu0_mem_used_gb": 30512 / 1024,
      "sys/gpu0_mem_total_gb": 81559 / 1024,
      "sys/gpu0_mem_percent": (100 * 30512) / 81559,
      "sys/gpu0_temp_c": 64,
      "sys/gpu0_power_w": 312.45,
      "sys/gpu1_mem_used_gb": 1,
      "sys/gpu1_mem_total_gb": 81559 / 1024,
      "sys/gpu1_mem_percent": (100 * 1024) / 81559,
      "sys/gpu1_temp_c": 41,
    });
    expect(series.get("sys/gpu0_util")!.steps).toEqual(series.get("sys/ram_used_gb")!.steps);
  });

  for (const [what, smi] of [
    ["missing", null],
    ["failing", { output: "NVIDIA-SMI has failed", status: 9 }],
    ["printing no GPU", { output: "", status: 0 }],
  ] as const) {
    it(`gives one warning and no sys/gpu keys when nvidia-smi is ${what}`, async () => {
      const db = tempDb();
      const bin = smi === null ? tempDir("stonks-empty-") : fakeNvidiaSmi(smi.output, smi.status).bin;
      const result = await runFixture("hardware-run.mjs", { DB: db, PATH: bin, SAMPLES: "3" });
      expect(result.code, result.stderr).toBe(0);
      const warnings = warningsOf(result.stderr);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("the gpu family cannot be read and is skipped");
      if (smi === null)
        expect(warnings[0]).toContain("NVML cannot be loaded from Node.js and nvidia-smi is not on PATH");
      const { series } = stored(db);
      expect([...series.keys()].some((key) => key.startsWith("sys/gpu"))).toBe(false);
      expect(series.has("sys/ram_used_gb")).toBe(true);
    });
  }

  it("parses nvidia-smi's CSV the way the Python SDK does", () => {
    expect(Object.fromEntries(parseNvidiaSmi("3, 0, 0, 16384, 30, 25.10\n"))).toEqual({
      "sys/gpu3_util": 0,
      "sys/gpu3_mem_used_gb": 0,
      "sys/gpu3_mem_total_gb": 16,
      "sys/gpu3_mem_percent": 0,
      "sys/gpu3_temp_c": 30,
      "sys/gpu3_power_w": 25.1,
    });
    expect(parseNvidiaSmi("No devices were found\n").size).toBe(0);
    expect(parseNvidiaSmi("0, [N/A], [N/A], [N/A], [N/A], [N/A]\n").size).toBe(0);
  });
});
