/**
 * Splits a write backlog into bounded transactions: after a disk-full error,
 * each freed megabyte then holds a committed batch instead of being wasted on
 * one transaction too large to ever fit.
 */

/** Most points one write transaction holds. */
export const MAX_POINTS_PER_TRANSACTION = 50_000;

export interface Backlog {
  values: { length: number };
}

export interface Batch<T> {
  /** The first `count` points of each series, in series order. */
  parts: { series: T; count: number }[];
  /** True when the batch holds the whole backlog. */
  complete: boolean;
}

/** The oldest points of the backlog, at most `limit` of them. */
export function nextBatch<T extends Backlog>(backlog: Iterable<T>, limit = MAX_POINTS_PER_TRANSACTION): Batch<T> {
  const parts: { series: T; count: number }[] = [];
  let taken = 0;
  let complete = true;
  for (const series of backlog) {
    const waiting = series.values.length;
    if (waiting === 0) continue;
    const count = Math.min(waiting, limit - taken);
    if (count < waiting) complete = false;
    if (count === 0) break;
    parts.push({ series, count });
    taken += count;
  }
  return { parts, complete };
}
