/**
 * Grouped aggregates already computed, for the long-lived server: an aggregate
 * averages every raw point in its window (docs/grouping.md), so the second
 * dashboard that asks for the same groups gets the answer without reading them
 * again. An entry is keyed by the request and by each run's point count, so
 * points logged since make it miss (points are only ever appended).
 */
import type { GroupSeries, GroupSeriesOptions } from "./group-aggregate.js";

const MAX_ENTRIES = 256;

export class GroupSeriesCache {
  private entries = new Map<string, GroupSeries>();

  get(
    runIds: readonly string[],
    key: string,
    options: GroupSeriesOptions,
    pointCounts: readonly (number | null)[],
    compute: () => GroupSeries,
  ): GroupSeries {
    const id = JSON.stringify([
      runIds,
      key,
      options.buckets,
      options.minStep ?? null,
      options.maxStep ?? null,
      pointCounts,
    ]);
    const hit = this.entries.get(id);
    if (hit !== undefined) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    const value = compute();
    this.entries.set(id, value);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    return value;
  }
}
