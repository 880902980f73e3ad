/**
 * Which runs and metric keys the Charts tab shows, as pure functions of the run list and the view:
 * the page renders from them, and the grouped charts' first aggregates are asked for from them
 * before the page renders (components/chart/group-prefetch.ts), so both name the same request.
 */
import type { Run, Summaries } from "../api/types";
import { compareGroups, groupOf } from "../lib/metric-groups";
import { brushedRunIds, brushReadsMetrics } from "../lib/sweep";
import { NO_KEYS } from "./run-store";
import { type Selection, selectedRunIds } from "./selection";
import type { ViewState } from "./view";

/** The runs the Sweep tab's brush keeps (all of them without a brush), in the list's order. */
export function brushedRuns(
  allRuns: Run[],
  summaries: ReadonlyMap<string, Summaries>,
  brush: ViewState["brush"],
): Run[] {
  const kept = brushedRunIds(allRuns, brushReadsMetrics(brush) ? summaries : new Map(), brush);
  return kept === null ? allRuns : allRuns.filter((r) => kept.has(r.id));
}

/** The charted runs among `runs` (newest first), as a set of ids and in the list's order. */
export function chartedRuns(
  selection: Selection,
  runs: readonly Run[],
): { selected: Set<string>; selectedRuns: Run[] } {
  const selected = new Set(
    selectedRunIds(
      selection,
      runs.map((r) => r.id),
    ),
  );
  return { selected, selectedRuns: runs.filter((r) => selected.has(r.id)) };
}

/** The metric keys these runs logged, sorted. */
export function metricKeysOf(
  runs: readonly Run[],
  metricKeys: ReadonlyMap<string, readonly string[]>,
): readonly string[] {
  if (runs.length === 1) return metricKeys.get(runs[0].id) ?? NO_KEYS;
  const keys = new Set<string>();
  for (const run of runs) for (const key of metricKeys.get(run.id) ?? NO_KEYS) keys.add(key);
  return [...keys].sort();
}

/** The chart sections of the Charts tab: pinned charts, the groups of keys in their order, and the hidden keys. */
export function chartSections(
  allKeys: readonly string[],
  view: Pick<ViewState, "metrics" | "charts">,
): { pinned: string[]; groups: [group: string, keys: string[]][]; hidden: string[] } {
  const f = view.metrics.trim().toLowerCase();
  const map = new Map<string, string[]>();
  for (const key of allKeys) {
    if (f && !key.toLowerCase().includes(f)) continue;
    if (view.charts[key]?.hide || view.charts[key]?.pin) continue;
    const g = groupOf(key);
    const list = map.get(g) ?? [];
    list.push(key);
    map.set(g, list);
  }
  return {
    pinned: allKeys.filter((k) => view.charts[k]?.pin && !view.charts[k]?.hide),
    groups: [...map.entries()].sort(([a], [b]) => compareGroups(a, b)),
    hidden: allKeys.filter((k) => view.charts[k]?.hide),
  };
}
