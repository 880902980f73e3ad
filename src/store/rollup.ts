/**
 * Rollups: per series, one summary row per fixed span of 2^level consecutive
 * points (by index in the series). Levels 6, 8, 10, 12 and 14: spans of 64,
 * 256, 1,024, 4,096 and 16,384 points, each level built from the one before
 * (docs/schema.md, "Rollups"). A downsampled read scans the coarsest level that still gives
 * enough buckets, so its cost follows the buckets asked for, not the points.
 *
 * Ties keep the earlier point, in both SDKs, so both write identical rows.
 * A row's sums (schema version 6) add its points left to right, and a merge
 * adds the earlier part's sum to the later's, in both SDKs; a sum that is not
 * finite is kept as null ("unknown": readers use the points instead).
 */
export const ROLLUP_LEVELS = [6, 8, 10, 12, 14] as const;

export interface RollupRow {
  bucket: number;
  count: number;
  firstStep: number;
  lastStep: number;
  minValue: number;
  minStep: number;
  minTime: number;
  maxValue: number;
  maxStep: number;
  maxTime: number;
  /** Sum of the span's values; null when unknown (a row of an older file) or not finite. */
  valueSum: number | null;
  /** Sum of the span's steps; null as valueSum. */
  stepSum: number | null;
}

function finiteOrNull(sum: number): number | null {
  return Number.isFinite(sum) ? sum : null;
}

function addSums(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : finiteOrNull(a + b);
}

/** Merges b (later points) into a (earlier points) of the same bucket. */
export function mergeRollup(a: RollupRow, b: RollupRow): RollupRow {
  const takeMinB = b.minValue < a.minValue;
  const takeMaxB = b.maxValue > a.maxValue;
  return {
    bucket: a.bucket,
    count: a.count + b.count,
    firstStep: a.firstStep,
    lastStep: b.lastStep,
    minValue: takeMinB ? b.minValue : a.minValue,
    minStep: takeMinB ? b.minStep : a.minStep,
    minTime: takeMinB ? b.minTime : a.minTime,
    maxValue: takeMaxB ? b.maxValue : a.maxValue,
    maxStep: takeMaxB ? b.maxStep : a.maxStep,
    maxTime: takeMaxB ? b.maxTime : a.maxTime,
    valueSum: addSums(a.valueSum, b.valueSum),
    stepSum: addSums(a.stepSum, b.stepSum),
  };
}

/** Rows of the finest level for points starting at series index startIndex. */
export function rollupPoints(
  level: number,
  startIndex: number,
  steps: Float64Array,
  values: Float64Array,
  times: Float64Array,
): RollupRow[] {
  const rows: RollupRow[] = [];
  const n = values.length;
  let i = 0;
  while (i < n) {
    const bucket = Math.floor((startIndex + i) / 2 ** level);
    const end = Math.min(n, (bucket + 1) * 2 ** level - startIndex);
    let minAt = i;
    let maxAt = i;
    let valueSum = 0;
    let stepSum = 0;
    for (let j = i; j < end; j++) {
      const v = values[j];
      if (v < values[minAt]) minAt = j;
      if (v > values[maxAt]) maxAt = j;
      valueSum += v;
      stepSum += steps[j];
    }
    rows.push({
      bucket,
      count: end - i,
      firstStep: steps[i],
      lastStep: steps[end - 1],
      minValue: values[minAt],
      minStep: steps[minAt],
      minTime: times[minAt],
      maxValue: values[maxAt],
      maxStep: steps[maxAt],
      maxTime: times[maxAt],
      valueSum: finiteOrNull(valueSum),
      stepSum: finiteOrNull(stepSum),
    });
    i = end;
  }
  return rows;
}

/** Groups rows of a finer level into the buckets of a coarser one (shift = level difference). */
export function coarsen(rows: RollupRow[], shift: number): RollupRow[] {
  const out: RollupRow[] = [];
  const divisor = 2 ** shift;
  for (const row of rows) {
    const bucket = Math.floor(row.bucket / divisor);
    const last = out[out.length - 1];
    if (last !== undefined && last.bucket === bucket) {
      out[out.length - 1] = mergeRollup(last, row);
    } else {
      out.push({ ...row, bucket });
    }
  }
  return out;
}
