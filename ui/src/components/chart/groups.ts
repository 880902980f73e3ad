/** Grouped charts: which runs form which group, each group's colour, and the aggregates fetched per metric key. */
import {
  type BandKind,
  type GroupedRun,
  type GroupSeriesBodyJson,
  type GroupSeriesJson,
  groupRuns,
  type RunGroup,
} from "../../../../src/contract/groups";
import { api } from "../../api/client";
import type { Run } from "../../api/types";
import { runColor } from "../../lib/colors";
import { formatNumber } from "../../lib/format";
import { groupNames } from "../../lib/group-names";

export function groupedRun(run: Run): GroupedRun {
  return { group: run.group, jobType: run.job_type, tags: run.tags, config: run.config };
}

export interface ColoredGroup extends RunGroup<Run> {
  color: string;
  /** The label as people read it (groupNames); the label itself stays the group's identity. */
  name: string;
}

/**
 * Groups of the runs, each coloured like its oldest run (smallest seq), so a
 * group keeps its colour as newer runs join it and in the table and the charts alike.
 */
export function coloredGroups(runs: readonly Run[], fields: readonly string[]): ColoredGroup[] {
  const groups = groupRuns(runs, fields, groupedRun);
  const names = groupNames(
    groups.map((g) => groupedRun(g.runs[0])),
    fields,
  );
  return groups.map((g, i) => {
    const oldest = g.runs.reduce((a, b) => (b.seq < a.seq ? b : a));
    return { ...g, color: runColor(oldest), name: names[i] };
  });
}

/** Step buckets a grouped chart asks for: about one per two pixels of a wide chart. */
export const GROUP_BUCKETS = 400;

export interface GroupLine {
  label: string;
  name: string;
  color: string;
  runs: number;
  aggregate: GroupSeriesJson;
}

const cache = new Map<string, Promise<GroupSeriesJson[]>>();
const CACHE_ENTRIES = 64;

/** The aggregates of one key for these groups (one request, remembered while the same request recurs; `fresh` asks again). */
export function fetchGroupLines(
  key: string,
  groups: readonly ColoredGroup[],
  range: [number, number] | null,
  fresh = false,
): Promise<GroupLine[]> {
  const body: GroupSeriesBodyJson = {
    groups: groups.map((g) => ({ label: g.label, run_ids: g.runs.map((r) => r.id) })),
    keys: [key],
    buckets: GROUP_BUCKETS,
    ...(range ? { min_step: range[0], max_step: range[1] } : {}),
  };
  const signature = JSON.stringify(body);
  let pending = fresh ? undefined : cache.get(signature);
  if (!pending) {
    pending = api.groupSeries(body);
    pending.catch(() => cache.delete(signature));
    cache.set(signature, pending);
    if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
  }
  return pending.then((series) =>
    series.map((aggregate, i) => ({
      label: groups[i].label,
      name: groups[i].name,
      color: groups[i].color,
      runs: groups[i].runs.length,
      aggregate,
    })),
  );
}

/** A group's value at one step as the tooltip and the legend write it: mean ± half the band, or the mean [min, max]. */
export function formatSpread(band: BandKind, mean: number, low: number, high: number): string {
  return band === "minmax"
    ? `${formatNumber(mean)} [${formatNumber(low)}, ${formatNumber(high)}]`
    : `${formatNumber(mean)} ± ${formatNumber(high - mean)}`;
}
