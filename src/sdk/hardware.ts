/**
 * System metrics: startRun(..., { hardware: true }) samples the machine on a timer.
 *
 * The keys are the Python SDK's (sys/cpu_percent, sys/ram_used_gb, ..., sys/gpu0_util, ...).
 * Linux is read from /proc; elsewhere node:os gives CPU and memory. Node.js cannot load NVML
 * without a native addon, so GPUs are read through nvidia-smi. A family of metrics that cannot
 * be read is skipped with one warning; the others go on.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus, freemem, totalmem } from "node:os";
import { delimiter, join } from "node:path";
import { logger } from "../util/logger.js";

const GB = 2 ** 30;
const MB = 2 ** 20;
export const DEFAULT_HARDWARE_INTERVAL_S = 5;
export const NVIDIA_SMI_FIELDS = "index,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw";
/** A hung nvidia-smi is killed after this; the next sample tries again. */
const NVIDIA_SMI_TIMEOUT_MS = 5000;
/** The keys sys/gpu{i}_* take, in nvidia-smi's field order after the index. */
const GPU_FIELDS = ["util", "mem_used_gb", "mem_total_gb", "temp_c", "power_w"] as const;

export type SampleValues = Map<string, number>;
/** Hands one sample, at the sampler's own step, to the run. */
export type RecordSample = (step: number, values: SampleValues) => void;
type Reader = () => SampleValues;

class FamilyUnavailable extends Error {}

function readText(path: string): string {
  return readFileSync(path, "latin1");
}

/** /proc/meminfo as field -> kibibytes. */
export function meminfoKib(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([^:]+):\s+(\d+)/.exec(line);
    if (match) fields.set(match[1], Number(match[2]));
  }
  return fields;
}

function memoryValues(totalBytes: number, availableBytes: number): SampleValues {
  const used = totalBytes - availableBytes;
  return new Map([
    ["sys/ram_used_gb", used / GB],
    ["sys/ram_total_gb", totalBytes / GB],
    ["sys/ram_percent", totalBytes > 0 ? (100 * used) / totalBytes : 0],
  ]);
}

/** Used = total - available: what the kernel says programs can still get without swapping (psutil's too). */
export function memoryFromMeminfo(text: string): SampleValues {
  const fields = meminfoKib(text);
  const total = fields.get("MemTotal");
  if (total === undefined) throw new FamilyUnavailable("/proc/meminfo has no MemTotal");
  return memoryValues(total * 1024, (fields.get("MemAvailable") ?? fields.get("MemFree") ?? 0) * 1024);
}

/** [busy, total] ticks of all CPUs from /proc/stat; idle and iowait are not busy. */
export function cpuTimes(text: string): [number, number] {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (line === undefined) throw new FamilyUnavailable("/proc/stat has no 'cpu' line");
  // guest and guest_nice (fields 9 and 10) are already counted in user and nice.
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return [total - ticks[3] - (ticks[4] ?? 0), total];
}

function cpuTimesFromOs(): [number, number] {
  let busy = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const { user, nice, sys, idle, irq } = cpu.times;
    busy += user + nice + sys + irq;
    total += user + nice + sys + irq + idle;
  }
  return [busy, total];
}

/** [read, written] bytes of the whole disks in /proc/diskstats (partitions would count twice). */
export function diskBytes(text: string, wholeDisks: Set<string> | null): [number, number] {
  let read = 0;
  let written = 0;
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 10 || (wholeDisks !== null && !wholeDisks.has(parts[2]))) continue;
    // Sectors in /proc/diskstats are 512 bytes whatever the device's own sector size.
    read += Number(parts[5]) * 512;
    written += Number(parts[9]) * 512;
  }
  return [read, written];
}

/** [sent, received] bytes of every interface in /proc/net/dev but the loopback. */
export function netBytes(text: string): [number, number] {
  let sent = 0;
  let received = 0;
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() === "lo") continue;
    const parts = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (parts.length < 9) continue;
    received += Number(parts[0]);
    sent += Number(parts[8]);
  }
  return [sent, received];
}

/** Block devices backed by hardware (/sys/block/<name>/device); null when /sys says nothing. */
function physicalDisks(): Set<string> | null {
  try {
    return new Set(readdirSync("/sys/block").filter((name) => existsSync(`/sys/block/${name}/device`)));
  } catch {
    return null;
  }
}

/** The busy share of a [busy, total] counter since the previous reading; none at the first (a share needs a span). */
function rate(read: () => [number, number], key: string): Reader {
  let last: [number, number] | null = null;
  return () => {
    const now = read();
    const previous = last;
    last = now;
    if (previous === null || now[1] <= previous[1]) return new Map();
    const percent = (100 * (now[0] - previous[0])) / (now[1] - previous[1]);
    return new Map([[key, Math.min(100, Math.max(0, percent))]]);
  };
}

/** A cumulative [a, b] byte counter as megabytes since the sampler started. */
function sinceStart(read: () => [number, number], keys: [string, string]): Reader {
  const base = read();
  return () => {
    const now = read();
    return new Map(keys.map((key, i) => [key, Math.max(0, (now[i] - base[i]) / MB)]));
  };
}

/** The training process's CPU (all its threads; 100 = one core) and resident memory. */
function processFamily(): Reader {
  let last: { cpu: number; at: number } | null = null;
  return () => {
    const values: SampleValues = new Map([["sys/proc_rss_gb", process.memoryUsage.rss() / GB]]);
    const usage = process.cpuUsage();
    const now = { cpu: (usage.user + usage.system) / 1e6, at: performance.now() / 1000 };
    if (last !== null && now.at > last.at) {
      values.set("sys/proc_cpu_percent", Math.max(0, (100 * (now.cpu - last.cpu)) / (now.at - last.at)));
    }
    last = now;
    return values;
  };
}

function machineFamilies(): [string, () => Reader][] {
  const linux = existsSync("/proc/stat");
  const proc = (path: string) => () => {
    if (!linux) throw new FamilyUnavailable(`there is no ${path} on ${process.platform}`);
    readText(path);
  };
  return [
    [
      "cpu",
      () => {
        const read = linux ? () => cpuTimes(readText("/proc/stat")) : cpuTimesFromOs;
        read();
        return rate(read, "sys/cpu_percent");
      },
    ],
    [
      "ram",
      () => {
        const read = linux
          ? () => memoryFromMeminfo(readText("/proc/meminfo"))
          : () => memoryValues(totalmem(), freemem());
        read();
        return read;
      },
    ],
    [
      "disk",
      () => {
        proc("/proc/diskstats")();
        const disks = physicalDisks();
        return sinceStart(
          () => diskBytes(readText("/proc/diskstats"), disks),
          ["sys/disk_read_mb", "sys/disk_write_mb"],
        );
      },
    ],
    [
      "net",
      () => {
        proc("/proc/net/dev")();
        return sinceStart(() => netBytes(readText("/proc/net/dev")), ["sys/net_sent_mb", "sys/net_recv_mb"]);
      },
    ],
    ["process", processFamily],
  ];
}

/** A number of nvidia-smi's CSV; null for "[N/A]", "[Not Supported]" and the like. */
function smiNumber(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : null;
}

/** The sys/gpu{index}_* keys of one GPU; a reading the GPU does not support is left out. */
export function gpuValues(index: number, readings: (number | null)[]): SampleValues {
  const values: SampleValues = new Map();
  GPU_FIELDS.forEach((field, i) => {
    const value = readings[i];
    if (value === null || value === undefined) return;
    values.set(`sys/gpu${index}_${field}`, field.startsWith("mem_") ? value / 1024 : value);
  });
  const [, used, total] = readings;
  if (used !== null && total) values.set(`sys/gpu${index}_mem_percent`, (100 * used) / total);
  return values;
}

/** `nvidia-smi --query-gpu=NVIDIA_SMI_FIELDS --format=csv,noheader,nounits` (memory in MiB, °C, W). */
export function parseNvidiaSmi(text: string): SampleValues {
  const values: SampleValues = new Map();
  for (const line of text.split("\n")) {
    const cells = line.split(",").map((cell) => cell.trim());
    if (cells.length !== 6 || !/^\d+$/.test(cells[0])) continue;
    for (const [key, value] of gpuValues(Number(cells[0]), cells.slice(1).map(smiNumber))) values.set(key, value);
  }
  return values;
}

/** The first nvidia-smi executable on PATH; null when there is none. */
function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, process.platform === "win32" ? `${name}.exe` : name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

/** GPUs through nvidia-smi, one short child process per sample. */
class NvidiaSmi {
  private child: ReturnType<typeof execFile> | null = null;

  constructor(private readonly executable: string) {}

  query(): Promise<SampleValues> {
    return new Promise((resolve, reject) => {
      this.child = execFile(
        this.executable,
        [`--query-gpu=${NVIDIA_SMI_FIELDS}`, "--format=csv,noheader,nounits"],
        { timeout: NVIDIA_SMI_TIMEOUT_MS, windowsHide: true },
        (error, stdout, stderr) => {
          this.child = null;
          if (error) {
            const detail = String(stderr).trim().slice(0, 200) || error.message;
            reject(new FamilyUnavailable(`nvidia-smi failed (${detail})`));
            return;
          }
          const values = parseNvidiaSmi(String(stdout));
          if (values.size === 0)
            reject(new FamilyUnavailable(`nvidia-smi printed no GPU: ${JSON.stringify(String(stdout).slice(0, 200))}`));
          else resolve(values);
        },
      );
    });
  }

  /** Ends a query under way: a run that finished must not wait for nvidia-smi. */
  cancel(): void {
    this.child?.kill();
  }
}

/** Samples every interval on an unref'd timer (it never keeps a process alive) and hands each sample to record. */
export class HardwareSampler {
  private readonly readers: [string, Reader][] = [];
  private gpu: NvidiaSmi | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private step = 0;
  private busy = false;
  private stopped = false;

  constructor(
    private readonly record: RecordSample,
    private readonly intervalS: number = DEFAULT_HARDWARE_INTERVAL_S,
    private readonly sampleGpus = true,
  ) {}

  start(): this {
    for (const [name, open] of machineFamilies()) {
      try {
        this.readers.push([name, open()]);
      } catch (error) {
        this.skip(name, error);
      }
    }
    if (this.sampleGpus) {
      const executable = findOnPath("nvidia-smi");
      if (executable === null) {
        this.skip("gpu", new FamilyUnavailable("NVML cannot be loaded from Node.js and nvidia-smi is not on PATH"));
      } else {
        this.gpu = new NvidiaSmi(executable);
      }
    }
    this.timer = setInterval(() => void this.sample(), this.intervalS * 1000);
    this.timer.unref();
    void this.sample();
    return this;
  }

  /** No sample is recorded after this; a query under way is cancelled. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.gpu?.cancel();
  }

  private skip(family: string, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    logger.warn(`system metrics: the ${family} family cannot be read and is skipped (${reason}).`);
  }

  private async sample(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const values: SampleValues = new Map();
      for (const entry of [...this.readers]) {
        try {
          for (const [key, value] of entry[1]()) values.set(key, value);
        } catch (error) {
          this.readers.splice(this.readers.indexOf(entry), 1);
          this.skip(entry[0], error);
        }
      }
      const gpu = this.gpu;
      if (gpu !== null) {
        try {
          for (const [key, value] of await gpu.query()) values.set(key, value);
        } catch (error) {
          if (!this.stopped) {
            this.gpu = null;
            this.skip("gpu", error);
          }
        }
      }
      for (const [key, value] of values) if (!Number.isFinite(value)) values.delete(key);
      if (this.stopped || values.size === 0) return;
      this.record(this.step, values);
      this.step += 1;
    } finally {
      this.busy = false;
    }
  }
}
