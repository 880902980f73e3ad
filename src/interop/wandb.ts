/**
 * `stonks import wandb <dir>`: runs from wandb's local run directories
 * (`wandb/run-*` synced, `wandb/offline-run-*` offline), read from each run's
 * transaction log `run-<id>.wandb` (framing in ./wandb/log.ts, records in
 * ./wandb/records.ts). The source is one run directory, a `wandb/` directory
 * holding several, or a project directory with a `wandb/` folder. Directories
 * of one run id (a run resumed later writes a new directory) make one run.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { Config, Provenance, RunStatus } from "../types.js";
import { logger } from "../util/logger.js";
import { type ForeignRun, type ForeignSeries, type ForeignSource, ImportSourceError } from "./model.js";
import { HEADER_LENGTH, isWandbLogHeader, wandbLogRecords } from "./wandb/log.js";
import { decodeWandbRecord, type WandbChanges, type WandbHistoryItem, type WandbRecord } from "./wandb/records.js";

/**
 * A run whose log has no exit record and was written to within this long is
 * taken to be still running (wandb writes system stats every 15 s while a run
 * lives); an older one was killed or lost power: interrupted.
 */
export const RUNNING_WITHIN_MS = 60_000;

const RUN_FILE = /^run-(.+)\.wandb$/;
const RUN_DIR = /^(offline-)?run-/;

/** A path inside a history or summary item: its key, or the parts of its nested key. */
function itemPath(item: { key?: string; nestedKey?: string[] }): string[] {
  if (item.key !== undefined && item.key !== "") return [item.key];
  return item.nestedKey ?? [];
}

/** wandb's JSON, which also spells non-finite floats as NaN, Infinity and -Infinity. */
function parseValueJson(text: string | undefined): unknown {
  if (text === undefined) return null;
  if (text === "NaN") return Number.NaN;
  if (text === "Infinity") return Number.POSITIVE_INFINITY;
  if (text === "-Infinity") return Number.NEGATIVE_INFINITY;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function historyValue(item: WandbHistoryItem): unknown {
  if (item.number !== undefined) return item.number;
  if (item.integer !== undefined) return item.integer;
  if (item.boolean !== undefined) return item.boolean;
  if (item.text !== undefined) return item.text;
  if (item.json !== undefined) return parseValueJson(item.json);
  if (item.none !== undefined) return null;
  return parseValueJson(item.valueJson);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * One history row as (metric key, number) pairs. Nested dicts become dotted
 * keys, as wandb shows them; wandb's own `_step`, `_timestamp`, `_runtime`
 * and `_wandb` are left out; a medium (an object with `_type`: an image, a
 * table, a histogram) and any other value that is not a number is NaN, which
 * the import counts as a skipped point.
 */
function historyRow(items: WandbHistoryItem[]): { values: Map<string, number>; internal: Map<string, unknown> } {
  const values = new Map<string, number>();
  const internal = new Map<string, unknown>();
  const leaves: [string[], unknown][] = items.map((item) => [itemPath(item), historyValue(item)]);
  // wandb-core spreads a medium over items "key._type", "key.path", "key.size"...: the object is one value.
  const media = new Set(
    leaves.filter(([path]) => path.length > 1 && path.at(-1) === "_type").map(([p]) => p.slice(0, -1).join(".")),
  );
  const add = (path: string[], value: unknown): void => {
    const key = path.join(".");
    if (isObject(value) && !("_type" in value)) {
      for (const [child, inner] of Object.entries(value)) add([...path, child], inner);
      return;
    }
    if (typeof value === "number") values.set(key, value);
    else if (typeof value === "boolean") values.set(key, value ? 1 : 0);
    else values.set(key, Number.NaN);
  };
  for (const [path, value] of leaves) {
    const top = path[0];
    if (top === undefined) continue;
    if (top.startsWith("_")) {
      internal.set(path.join("."), value);
      continue;
    }
    const mediaOwner = [...media].find((owner) => path.join(".").startsWith(`${owner}.`));
    if (mediaOwner !== undefined) {
      values.set(mediaOwner, Number.NaN);
      continue;
    }
    add(path, value);
  }
  return { values, internal };
}

function setPath(target: Config, path: string[], value: unknown): void {
  let node: Config = target;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (!isObject(next)) node[part] = {};
    node = node[part] as Config;
  }
  const last = path.at(-1);
  if (last !== undefined) node[last] = value as Config[string];
}

function deletePath(target: Config, path: string[]): void {
  let node: unknown = target;
  for (const part of path.slice(0, -1)) node = isObject(node) ? node[part] : undefined;
  const last = path.at(-1);
  if (isObject(node) && last !== undefined) delete node[last];
}

/** Applies a config record; wandb's own `_wandb` entry (telemetry, versions) is not a hyperparameter. */
function applyConfig(config: Config, changes: WandbChanges | undefined): void {
  for (const item of changes?.update ?? []) {
    const path = itemPath(item);
    if (path[0] !== undefined && path[0] !== "_wandb") setPath(config, path, parseValueJson(item.valueJson));
  }
  for (const item of changes?.remove ?? []) deletePath(config, itemPath(item));
}

class Series {
  steps: number[] = [];
  values: number[] = [];
  times: number[] = [];

  toForeign(): ForeignSeries {
    return {
      steps: Float64Array.from(this.steps),
      values: Float64Array.from(this.values),
      times: Float64Array.from(this.times),
    };
  }
}

/** Reads the logs of one run id (in the order wandb wrote them) into one run. */
function readRun(runId: string, files: string[], now: number): ForeignRun {
  const run: ForeignRun = {
    sourceKey: runId,
    experiment: "wandb",
    name: null,
    config: {},
    tags: [],
    group: null,
    jobType: null,
    notes: null,
    createdAt: Number.NaN,
    status: "interrupted",
    endedAt: null,
    provenance: {},
    metrics: {},
  };
  const series = new Map<string, Series>();
  const historyKeys = new Set<string>();
  const summary: Config = {};
  let exit: { exitCode: number; runtime: number } | null = null;
  let lastTime = Number.NaN;
  let nextStep = 0;
  let lastWrite = 0;
  for (const file of files) {
    lastWrite = Math.max(lastWrite, statSync(file).mtimeMs);
    // A resumed run's later directory starts over: its exit record (if any) is the one that counts.
    exit = null;
    const corrupt = (offset: number) =>
      logger.warn(`${file}: a damaged record at byte ${offset} does not match its checksum; skipped it.`);
    for (const { offset, data } of wandbLogRecords(file, corrupt)) {
      let record: WandbRecord;
      try {
        record = decodeWandbRecord(data);
      } catch {
        logger.warn(`${file}: the record at byte ${offset} is not a wandb record; skipped it.`);
        continue;
      }
      if (record.run !== undefined) {
        const meta = record.run;
        if (meta.project) run.experiment = meta.project;
        if (meta.displayName) run.name = meta.displayName;
        if (meta.runGroup) run.group = meta.runGroup;
        if (meta.jobType) run.jobType = meta.jobType;
        if (meta.notes) run.notes = meta.notes;
        if (meta.tags !== undefined) run.tags = [...meta.tags];
        applyConfig(run.config, meta.config);
        const start = meta.startTime;
        if (start?.seconds !== undefined && Number.isNaN(run.createdAt)) {
          run.createdAt = start.seconds + (start.nanos ?? 0) / 1e9;
        }
        const provenance: Partial<Provenance> = { ...run.provenance };
        if (meta.host) provenance.host = meta.host;
        if (meta.git?.commit) provenance.gitCommit = meta.git.commit;
        run.provenance = provenance;
      }
      if (record.config !== undefined) applyConfig(run.config, record.config);
      if (record.summary !== undefined) {
        for (const item of record.summary.update ?? []) {
          const path = itemPath(item);
          if (path[0] !== undefined && !path[0].startsWith("_")) setPath(summary, path, parseValueJson(item.valueJson));
        }
      }
      if (record.exit !== undefined) exit = { exitCode: record.exit.exitCode ?? 0, runtime: record.exit.runtime ?? 0 };
      const history = record.history;
      if (history === undefined) continue;
      const { values, internal } = historyRow(history.item ?? []);
      const loggedStep = internal.get("_step");
      const step = typeof loggedStep === "number" ? loggedStep : (history.step?.num ?? nextStep);
      nextStep = step + 1;
      const loggedTime = internal.get("_timestamp");
      const time = typeof loggedTime === "number" ? loggedTime : Number.isNaN(lastTime) ? run.createdAt : lastTime;
      if (Number.isFinite(time)) lastTime = time;
      for (const [key, value] of values) {
        historyKeys.add(key);
        let points = series.get(key);
        if (points === undefined) {
          points = new Series();
          series.set(key, points);
        }
        points.steps.push(step);
        points.values.push(value);
        points.times.push(time);
      }
    }
  }
  if (Number.isNaN(run.createdAt)) run.createdAt = Number.isNaN(lastTime) ? lastWrite / 1000 : lastTime;
  for (const [key, points] of series) run.metrics[key] = points.toForeign();
  const extraSummary = Object.fromEntries(Object.entries(summary).filter(([key]) => !historyKeys.has(key)));
  if (Object.keys(extraSummary).length > 0 && run.config.summary === undefined) run.config.summary = extraSummary;
  const lastSeen = Number.isNaN(lastTime) ? run.createdAt : lastTime;
  let status: RunStatus;
  if (exit !== null) {
    status = exit.exitCode === 0 ? "completed" : "failed";
    run.endedAt = Math.max(lastSeen, run.createdAt + exit.runtime);
  } else if (now - lastWrite < RUNNING_WITHIN_MS) {
    status = "running";
  } else {
    status = "interrupted";
    run.endedAt = Math.max(lastSeen, run.createdAt);
  }
  run.status = status;
  return run;
}

function hasLogHeader(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const header = Buffer.alloc(HEADER_LENGTH);
    return readSync(fd, header, 0, HEADER_LENGTH, 0) === HEADER_LENGTH && isWandbLogHeader(header);
  } finally {
    closeSync(fd);
  }
}

function logsIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => RUN_FILE.test(name))
    .map((name) => join(dir, name));
}

/** The transaction logs the source names: one file, one run directory, or the run directories of a wandb/ directory. */
function findLogs(source: string): string[] {
  if (!existsSync(source)) {
    throw new ImportSourceError(
      `${source} does not exist; pass a wandb run directory (wandb/offline-run-* or wandb/run-*) or the wandb/ directory holding them.`,
    );
  }
  if (statSync(source).isFile()) return RUN_FILE.test(basename(source)) ? [source] : [];
  const direct = logsIn(source);
  if (direct.length > 0) return direct;
  const parent = existsSync(join(source, "wandb")) && !RUN_DIR.test(basename(source)) ? join(source, "wandb") : source;
  const seen = new Set<string>();
  const logs: string[] = [];
  for (const entry of readdirSync(parent, { withFileTypes: true })) {
    // `latest-run` is a link to one of the others.
    if (!RUN_DIR.test(entry.name)) continue;
    const dir = join(parent, entry.name);
    if (!statSync(dir).isDirectory()) continue;
    const real = realpathSync(dir);
    if (seen.has(real)) continue;
    seen.add(real);
    logs.push(...logsIn(dir));
  }
  return logs;
}

/** wandb names run directories `[offline-]run-YYYYMMDD_HHMMSS-<id>`: by that time, a resumed run's directories in order. */
function writtenOrder(file: string): string {
  return basename(join(file, "..")).replace(/^offline-/, "");
}

export async function readWandb(source: string): Promise<ForeignSource> {
  const logs = findLogs(source).filter(hasLogHeader);
  if (logs.length === 0) {
    throw new ImportSourceError(
      `No wandb run files under ${source} (run-<id>.wandb in wandb/offline-run-* or wandb/run-* directories); pass a run directory or the wandb/ directory.`,
    );
  }
  const byRun = new Map<string, string[]>();
  for (const file of logs.sort((a, b) => writtenOrder(a).localeCompare(writtenOrder(b)))) {
    const runId = RUN_FILE.exec(basename(file))?.[1] ?? file;
    byRun.set(runId, [...(byRun.get(runId) ?? []), file]);
  }
  return {
    runCount: byRun.size,
    async *runs() {
      for (const [runId, files] of byRun) yield readRun(runId, files, Date.now());
    },
  };
}
