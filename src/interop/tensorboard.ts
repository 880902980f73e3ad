/**
 * `stonks import tensorboard <logdir>`: the scalar summaries of TensorBoard
 * event files. Every directory under the log directory that holds event files
 * (names containing "tfevents", as TensorBoard looks for) is one run, named by
 * its path relative to the log directory; the experiment is the log
 * directory's own name. Tags are metric keys. TF1 `simple_value` scalars and
 * TF2 tensor scalars (plugin "scalars", float or double) are read; images,
 * histograms, text and the rest are not. hparams plugin data, when present, is
 * the run's config.
 *
 * Several event files in one directory are the sessions of one run (a restart
 * from a checkpoint), read in file-name order (the name starts with the
 * writer's start time). As in TensorBoard, a point whose step goes back
 * discards the points of that tag at that step and later, so a restarted
 * run shows the resumed session's points, not the abandoned ones.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import type { Config, JsonValue } from "../types.js";
import { logger } from "../util/logger.js";
import { type ForeignReader, type ForeignRun, type ForeignSeries, ImportSourceError } from "./model.js";
import {
  DT_DOUBLE,
  DT_FLOAT,
  decodeEvent,
  decodeHParams,
  HPARAMS_STATUS,
  type ProtoValue,
  type SummaryValue,
} from "./tensorboard/messages.js";
import { readRecords } from "./tensorboard/records.js";

const SESSION_START_TAG = "_hparams_/session_start_info";
const SESSION_END_TAG = "_hparams_/session_end_info";

function isEventFile(name: string): boolean {
  return name.includes("tfevents");
}

interface RunDirectory {
  /** Path relative to the log directory, with "/" between parts ("." for the log directory itself). */
  name: string;
  path: string;
  eventFiles: string[];
}

async function findRunDirectories(root: string): Promise<RunDirectory[]> {
  const found: RunDirectory[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    const files = entries.filter((e) => e.isFile() && isEventFile(e.name)).map((e) => e.name);
    if (files.length > 0) {
      const name = relative(root, dir).split(sep).join("/") || ".";
      found.push({ name, path: dir, eventFiles: files.sort() });
    }
    for (const entry of entries) if (entry.isDirectory()) await visit(join(dir, entry.name));
  };
  await visit(root);
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function jsonOf(value: ProtoValue): JsonValue {
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) {
    return Object.fromEntries(Object.entries(value.structValue.fields ?? {}).map(([k, v]) => [k, jsonOf(v)]));
  }
  if (value.listValue !== undefined) return (value.listValue.values ?? []).map(jsonOf);
  return null;
}

/** The value of a tensor holding one float or double, or null for any other tensor. */
function tensorScalar(tensor: NonNullable<SummaryValue["tensor"]>): number | null {
  const dims = tensor.tensorShape?.dim ?? [];
  if (dims.some((d) => d.size !== 1)) return null;
  const dtype = tensor.dtype ?? 0;
  const content = tensor.tensorContent;
  if (dtype === DT_FLOAT) {
    if (tensor.floatVal?.length === 1) return tensor.floatVal[0] as number;
    if (content?.length === 4) return Buffer.from(content).readFloatLE(0);
  } else if (dtype === DT_DOUBLE) {
    if (tensor.doubleVal?.length === 1) return tensor.doubleVal[0] as number;
    if (content?.length === 8) return Buffer.from(content).readDoubleLE(0);
  }
  return null;
}

/** One tag's points, kept in TensorBoard's order (see the file comment on steps that go back). */
class SeriesBuilder {
  steps: number[] = [];
  values: number[] = [];
  times: number[] = [];
  /** Index of the event file the last point came from. */
  file = -1;

  add(step: number, value: number, time: number, file: number): void {
    const last = this.steps.length === 0 ? null : (this.steps[this.steps.length - 1] as number);
    if (last !== null && (step < last || file !== this.file)) {
      let keep = this.steps.length;
      while (keep > 0 && (this.steps[keep - 1] as number) >= step) keep--;
      this.steps.length = keep;
      this.values.length = keep;
      this.times.length = keep;
    }
    this.file = file;
    this.steps.push(step);
    this.values.push(value);
    this.times.push(time);
  }

  build(): ForeignSeries {
    return {
      steps: Float64Array.from(this.steps),
      values: Float64Array.from(this.values),
      times: Float64Array.from(this.times),
    };
  }
}

async function readRun(run: RunDirectory, experiment: string): Promise<ForeignRun> {
  const series = new Map<string, SeriesBuilder>();
  // TF2 writers attach the plugin metadata to a tag's first value only.
  const scalarTags = new Set<string>();
  let config: Config = {};
  let group: string | null = null;
  let failed = false;
  let firstTime = Number.POSITIVE_INFINITY;
  let lastTime = Number.NEGATIVE_INFINITY;
  for (const [fileIndex, fileName] of run.eventFiles.entries()) {
    const path = join(run.path, fileName);
    const onProblem = (problem: { offset: number; kind: string }) =>
      logger.warn(
        problem.kind === "data-crc"
          ? `${path}: the record at byte ${problem.offset} fails its CRC check; skipped it.`
          : `${path}: the record length at byte ${problem.offset} fails its CRC check; skipped the rest of this file.`,
      );
    for await (const record of readRecords(path, onProblem)) {
      const event = decodeEvent(record);
      if (event.wallTime > 0) {
        firstTime = Math.min(firstTime, event.wallTime);
        lastTime = Math.max(lastTime, event.wallTime);
      }
      for (const value of event.summary?.value ?? []) {
        const plugin = value.metadata?.pluginData;
        if (plugin?.pluginName === "hparams") {
          if (value.tag === SESSION_START_TAG || value.tag === SESSION_END_TAG) {
            const data = decodeHParams(plugin.content ?? new Uint8Array());
            const start = data.sessionStartInfo;
            if (start !== undefined) {
              config = Object.fromEntries(Object.entries(start.hparams ?? {}).map(([k, v]) => [k, jsonOf(v)]));
              if (start.groupName) group = start.groupName;
            }
            if (data.sessionEndInfo?.status === HPARAMS_STATUS.failure) failed = true;
          }
          continue;
        }
        if (plugin?.pluginName === "scalars") scalarTags.add(value.tag);
        let scalar: number | null = null;
        if (value.simpleValue !== undefined) scalar = value.simpleValue;
        else if (value.tensor !== undefined && scalarTags.has(value.tag)) scalar = tensorScalar(value.tensor);
        if (scalar === null) continue;
        let builder = series.get(value.tag);
        if (builder === undefined) {
          builder = new SeriesBuilder();
          series.set(value.tag, builder);
        }
        builder.add(event.step, scalar, event.wallTime, fileIndex);
      }
    }
  }
  const metrics: Record<string, ForeignSeries> = {};
  for (const [tag, builder] of series) metrics[tag] = builder.build();
  const known = Number.isFinite(firstTime);
  return {
    sourceKey: run.name,
    experiment,
    name: run.name,
    config,
    tags: [],
    group,
    jobType: null,
    notes: null,
    createdAt: known ? firstTime : Date.now() / 1000,
    status: failed ? "failed" : "completed",
    endedAt: known ? lastTime : null,
    provenance: {},
    metrics,
  };
}

export const readTensorboard: ForeignReader = async (source) => {
  const root = resolve(source);
  const info = await stat(root).catch(() => null);
  if (info === null || !info.isDirectory()) {
    throw new ImportSourceError(
      `${source} is not a directory; pass the TensorBoard log directory (the folder holding events.out.tfevents.* files or run folders of them).`,
    );
  }
  const runs = await findRunDirectories(root);
  if (runs.length === 0) {
    throw new ImportSourceError(
      `No TensorBoard event files under ${source} (files named events.out.tfevents.*); pass the log directory.`,
    );
  }
  const experiment = basename(root);
  return {
    runCount: runs.length,
    async *runs() {
      for (const run of runs) yield await readRun(run, experiment);
    },
  };
};
